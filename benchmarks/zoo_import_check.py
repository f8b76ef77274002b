"""Import every keras.applications model from its JSON and compare it with the built Keras
layers: total and trainable params, and every layer's output shape, params and MACs (the
comparison of tests/analysis/test_applications.py, over the whole zoo at the default sizes; models
whose default input is (None, None, 3) are built at 224x224). Slow: minutes, with TensorFlow.

    TF_CPP_MIN_LOG_LEVEL=3 TF_ENABLE_ONEDNN_OPTS=0 .venv/bin/python benchmarks/zoo_import_check.py [NAME ...]
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main() -> None:
    import keras
    from tf_oracle import mismatches, model_totals

    from convplan import analyze, load

    names = sys.argv[1:] or [n for n in dir(keras.applications) if n[0].isupper()]
    failures = 0
    for name in names:
        build = getattr(keras.applications, name)
        model = build(weights=None)
        if None in tuple(model.inputs[0].shape[1:]):
            model = build(weights=None, input_shape=(224, 224, 3))
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.json"
            path.write_text(model.to_json())
            analysis = analyze(load(path))
        problems = mismatches(model, analysis)
        if (analysis.totals.params, analysis.totals.trainable_params) != model_totals(model):
            problems.insert(0, f"totals {analysis.totals.params} vs {model_totals(model)}")
        failures += bool(problems)
        print(f"{name:20s} {'ok' if not problems else 'MISMATCH ' + '; '.join(problems[:3])} "
              f"params={analysis.totals.params:,} macs={analysis.totals.macs:,}", flush=True)
        keras.backend.clear_session()
        gc.collect()
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
