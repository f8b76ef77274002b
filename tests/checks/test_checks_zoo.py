"""`convplan check` as a CI gate on the keras.applications zoo: every model, built in TensorFlow
(weights=None) and saved as model JSON, gets no error-level finding, and the designs the zoo
is made of (squeeze-and-excitation, TF's strided 'same' downsampling) no false alarm.

Each model's JSON is written once per session into a temporary folder (`zoo_json`), so
tests that read the same model build it once.
"""

from __future__ import annotations

import gc

import pytest

from convplan.checks import check_file

pytestmark = [pytest.mark.tf, pytest.mark.slow]

# Every model keras.applications 3.15 builds (test_the_list_is_the_whole_zoo keeps it so);
# listed here so that collecting the tests does not import TensorFlow.
ZOO = [
    "ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtSmall", "ConvNeXtTiny", "ConvNeXtXLarge",
    "DenseNet121", "DenseNet169", "DenseNet201",
    "EfficientNetB0", "EfficientNetB1", "EfficientNetB2", "EfficientNetB3", "EfficientNetB4",
    "EfficientNetB5", "EfficientNetB6", "EfficientNetB7",
    "EfficientNetV2B0", "EfficientNetV2B1", "EfficientNetV2B2", "EfficientNetV2B3",
    "EfficientNetV2L", "EfficientNetV2M", "EfficientNetV2S",
    "InceptionResNetV2", "InceptionV3",
    "MobileNet", "MobileNetV2", "MobileNetV3Large", "MobileNetV3Small",
    "NASNetLarge", "NASNetMobile",
    "ResNet101", "ResNet101V2", "ResNet152", "ResNet152V2", "ResNet50", "ResNet50V2",
    "VGG16", "VGG19", "Xception",
]
# Squeeze-and-excitation in every block; TF 'same' strides on sizes they divide.
SE_FAMILIES = ("EfficientNet", "MobileNetV3")


@pytest.fixture(scope="session")
def zoo_json(keras, tmp_path_factory):
    """name -> path of the model's JSON, built on first use (default input size; 224x224
    where the default is (None, None, 3))."""
    folder = tmp_path_factory.mktemp("zoo")

    def build(name: str):
        path = folder / f"{name}.json"
        if not path.exists():
            make = getattr(keras.applications, name)
            model = make(weights=None)
            if None in tuple(model.inputs[0].shape[1:]):
                model = make(weights=None, input_shape=(224, 224, 3))
            path.write_text(model.to_json())
            del model
            keras.backend.clear_session()
            gc.collect()
        return path

    return build


def test_the_list_is_the_whole_zoo(keras):
    assert sorted(n for n in dir(keras.applications) if n[0].isupper()) == sorted(ZOO)


@pytest.mark.parametrize("name", ZOO)
def test_zoo_model_has_no_error_level_finding(zoo_json, name):
    report = check_file(zoo_json(name), isolated=True)
    assert report.error is None, report.error
    errors = [f"{f.code} {f.message}" for f in report.findings if f.severity == "error"]
    assert errors == []
    if name.startswith(SE_FAMILIES):
        # every SE pooling was CP401 (20 on EfficientNetV2S), every strided stem CP404
        noise = [f"{f.code} {f.message}" for f in report.findings
                 if f.code in ("CP401", "CP404", "CP103", "CP106")]
        assert noise == []
