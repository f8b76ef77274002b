"""torchvision's zoo through ONNX: each model built with weights=None, exported once per test
session (torch.onnx.export, dynamic H and W), imported by convplan, and compared with PyTorch
at two input sizes: output shapes, params (sum(p.numel())), MACs (FlopCounterMode / 2), and
at the small size the backbone's receptive field against torch's input gradients
(tests/torch_oracle.py says how each is measured). Needs torch, torchvision and onnx
(`make test-backends` installs them)."""

from __future__ import annotations

import pytest
import torch_oracle as T

pytest.importorskip("torch")
pytest.importorskip("torchvision")
pytest.importorskip("onnx")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def zoo(tmp_path_factory):
    """(name, size) -> (torch model, convplan graph, export seconds): each model built and
    exported on first use, once (with dynamic H and W), or once per size where it is static."""
    from convplan.frontends.onnx_model import load_onnx

    folder = tmp_path_factory.mktemp("torch_zoo")
    models: dict = {}
    graphs: dict = {}

    def get(name: str, size: tuple[int, int]):
        zoo_model = T.BY_NAME[name]
        if name not in models:
            models[name] = T.build(name)
        key = (name, size if zoo_model.static else None)
        if key not in graphs:
            path = folder / f"{name}.onnx"
            seconds = T.export(models[name], path, zoo_model.fold_constants, key[1])
            graphs[key] = (load_onnx(path), seconds)
            path.unlink()  # the graph holds no weights; the file is up to 100 MB
        return (models[name], *graphs[key])

    return get


@pytest.mark.parametrize("size", T.SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", [z.name for z in T.ZOO])
def test_zoo_model_matches_torch(zoo, name, size):
    model, graph, _ = zoo(name, size)
    row = T.compare(name, model, graph, size, check_field=size == T.SIZES[0])
    outputs, trainable, total, macs = row.convplan
    assert outputs == row.torch.outputs
    assert trainable == row.torch.params
    assert total == row.torch.params + row.torch.statistics
    assert macs == row.torch.macs
    if row.field is not None:
        measured, predicted = row.fields
        assert measured == predicted
