"""PyTorch as the oracle for ONNX imports of torchvision models (tests/frontends/
test_torch_zoo.py and benchmarks/torch_zoo.py share this code).

Each model is built with weights=None (no download), exported once with torch.onnx.export's
TorchScript exporter (dynamo=False: offline, no onnxscript, and 2-3x faster here) with dynamic
batch, height and width, and `do_constant_folding=False` (constant folding fuses every
BatchNormalization into the convolution before it, which changes the parameter count torch
reports). Then, at each input size:

- shapes: the torch model's outputs (NCHW) against convplan's outputs (NHWC, moved);
- params: sum(p.numel() for p in model.parameters()) against convplan's trainable params, and
  that plus BatchNorm's running mean and variance against convplan's total (Keras counts the
  moving statistics as non-trainable weights);
- MACs: torch.utils.flop_counter.FlopCounterMode's total / 2 (it counts convolutions, mm,
  addmm, bmm and attention as 2 FLOPs per multiply-accumulate, bias excluded; not pooling,
  normalization, activations or resizing) against convplan's MACs (convolutions and Dense,
  bias excluded);
- receptive field of the backbone's last feature map: the bounding box of the nonzero input
  gradient of one output position (the union over random inputs, so ReLU's and Hardswish's
  dead zones do not shrink it), against convplan's field (size, stride, start) clipped to the
  input. Squeeze-and-excitation scales are detached first: convplan's fields leave out a
  merge's broadcast input (docs/receptive-field.md), and the pooled scale is one.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SIZES = ((64, 64), (96, 128))  # small, and a non-square one


@dataclass(frozen=True)
class ZooModel:
    name: str
    features: Callable[[Any], Callable[[Any], Any]]  # model -> x -> the backbone's last map
    prefix: str  # ONNX node names of that part of the graph start with it
    segmentation: bool = False
    # constant folding fuses BatchNormalization into convolutions (so only for a model without
    # BN); without it the exporter leaves Linear's weight Transpose as a node on a constant
    fold_constants: bool = False
    # exported at each size (fixed dims): the reader refuses the final Resize to the input's
    # dynamic size (its sizes come from Shape as H, W)
    static: bool = False


def _children_but(count: int) -> Callable[[Any], Callable[[Any], Any]]:
    def make(model: Any) -> Callable[[Any], Any]:
        import torch

        return torch.nn.Sequential(*list(model.children())[:-count])
    return make


ZOO = (
    ZooModel("resnet50", _children_but(2), "/layer4/"),
    ZooModel("mobilenet_v3_large", lambda m: m.features, "/features/"),
    ZooModel("efficientnet_b0", lambda m: m.features, "/features/"),
    ZooModel("convnext_tiny", lambda m: m.features, "/features/"),
    ZooModel("regnet_y_400mf", lambda m: (lambda x: m.trunk_output(m.stem(x))),
             "/trunk_output/"),
    ZooModel("densenet121", lambda m: m.features, "/features/"),
    ZooModel("fcn_resnet50", lambda m: (lambda x: m.backbone(x)["out"]), "/backbone/",
             segmentation=True, static=True),
    ZooModel("deeplabv3_mobilenet_v3_large", lambda m: (lambda x: m.backbone(x)["out"]),
             "/backbone/", segmentation=True, static=True),
)
BY_NAME = {z.name: z for z in ZOO}


def build(name: str) -> Any:
    import torch
    import torchvision

    torch.manual_seed(0)
    zoo = BY_NAME[name]
    if zoo.segmentation:
        maker = getattr(torchvision.models.segmentation, name)
        model = maker(weights=None, weights_backbone=None)
    else:
        model = getattr(torchvision.models, name)(weights=None)
    return model.eval()


def export(model: Any, path: Path, fold_constants: bool = False,
           size: tuple[int, int] | None = None) -> float:
    """Seconds to export with dynamic batch, H and W (at a fixed `size` where given)."""
    import torch

    started = time.perf_counter()
    dynamic = {"x": {0: "batch", 2: "H", 3: "W"}} if size is None else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(1, 3, *(size or SIZES[0])),), str(path),
                          dynamo=False, opset_version=17, input_names=["x"],
                          do_constant_folding=fold_constants, dynamic_axes=dynamic)
    return time.perf_counter() - started


@dataclass(frozen=True)
class TorchFacts:
    outputs: tuple[tuple[int, ...], ...]  # NCHW, batch 1
    params: int  # sum(p.numel())
    statistics: int  # BatchNorm running_mean + running_var
    macs: int  # FlopCounterMode total / 2


def torch_facts(model: Any, size: tuple[int, int]) -> TorchFacts:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.zeros(1, 3, *size)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(x)
    outs = list(out.values()) if isinstance(out, dict) else [out]
    params = sum(p.numel() for p in model.parameters())
    statistics = sum(b.numel() for name, b in model.named_buffers()
                     if name.endswith(("running_mean", "running_var")))
    flops = counter.get_total_flops()
    assert flops % 2 == 0
    return TorchFacts(tuple(tuple(o.shape) for o in outs), params, statistics, flops // 2)


def _detach_squeeze_excitation(model: Any) -> list[Any]:
    from torchvision.ops.misc import SqueezeExcitation

    handles = []
    for module in model.modules():
        if isinstance(module, SqueezeExcitation):
            handles.append(module.scale_activation.register_forward_hook(
                lambda _m, _i, out: out.detach()))
    return handles


def gradient_field(model: Any, features: Callable[[Any], Any], size: tuple[int, int],
                   position: tuple[int, int], trials: int = 2) -> tuple[tuple[int, int], ...]:
    """Per spatial axis, the (first, last) input index whose gradient is nonzero for the
    feature map's position (channels summed), over `trials` random inputs."""
    import torch

    handles = _detach_squeeze_excitation(model)
    try:
        seen = torch.zeros(size, dtype=torch.bool)
        generator = torch.Generator().manual_seed(1)
        for _ in range(trials):
            x = torch.randn(1, 3, *size, generator=generator, requires_grad=True)
            y = features(x)
            y[0, :, position[0], position[1]].sum().backward()
            seen |= (x.grad[0].abs().sum(0) > 0)
        rows = seen.any(1).nonzero().flatten()
        cols = seen.any(0).nonzero().flatten()
        return ((int(rows[0]), int(rows[-1])), (int(cols[0]), int(cols[-1])))
    finally:
        for handle in handles:
            handle.remove()


def feature_map_shape(features: Callable[[Any], Any], size: tuple[int, int]) -> tuple[int, ...]:
    import torch

    with torch.no_grad():
        return tuple(features(torch.zeros(1, 3, *size)).shape)


# ---------------------------------------------------------------- convplan's side


def feature_layer(graph: Any, prefix: str) -> str:
    """The last layer (in graph order) of the part named by `prefix`: its output."""
    names = [name for name in graph.nodes if name.startswith(prefix)]
    assert names, f"no layer of the graph starts with {prefix!r}"
    return names[-1]


def convplan_field(analysis: Any, layer: str, size: tuple[int, int],
                   position: tuple[int, int]) -> tuple[tuple[int, int], ...] | None:
    """convplan's field of `layer`'s output at `position`, clipped to the input."""
    import math

    field = analysis.layer(layer).receptive_field
    if field is None:
        return None
    out = []
    for axis, (f, n, i) in enumerate(zip(field, size, position)):
        first = f.start + i * f.stride
        last = first + f.size - 1
        out.append((max(math.floor(first), 0), min(math.ceil(last), n - 1)))
        del axis
    return tuple(out)


@dataclass(frozen=True)
class Row:
    name: str
    size: tuple[int, int]
    layers: int
    shapes: bool
    params: bool
    macs: bool
    field: bool | None  # None: not checked
    torch: TorchFacts
    convplan: tuple[tuple[tuple[int, ...], ...], int, int, int]  # outputs, trainable, total, macs
    fields: tuple[Any, Any]  # (torch's, convplan's) for the corner and the centre


def compare(name: str, model: Any, graph: Any, size: tuple[int, int],
            check_field: bool = True) -> Row:
    """Shapes, params and MACs at `size`; the field too with `check_field` (the zoo checks it
    at the small size only: backward passes dominate the time)."""
    import torch

    from convplan import analyze

    torch.set_num_threads(2)  # CI's cores; more threads only contend here

    zoo = BY_NAME[name]
    facts = torch_facts(model, size)
    analysis = analyze(graph, input_size=size)
    outputs = tuple((1, s[-1], *s[:-1]) for s in
                    (tuple(int(d) for d in analysis.layer(o).output_shape)
                     for o in graph.outputs))
    trainable = int(analysis.totals.trainable_params)
    total = int(analysis.totals.params)
    macs = int(analysis.totals.macs)
    field_ok, fields = None, (None, None)
    if check_field:
        features = zoo.features(model)
        layer = feature_layer(graph, zoo.prefix)
        shape = feature_map_shape(features, size)
        conv_shape = tuple(int(d) for d in analysis.layer(layer).output_shape)
        assert (shape[1], *shape[2:]) == (conv_shape[-1], *conv_shape[:-1]), (layer, shape,
                                                                              conv_shape)
        positions = ((0, 0), (shape[2] // 2, shape[3] // 2))
        measured = tuple(gradient_field(model, features, size, p) for p in positions)
        predicted = tuple(convplan_field(analysis, layer, size, p) for p in positions)
        field_ok, fields = measured == predicted, (measured, predicted)
    return Row(name, size, len(graph.nodes), outputs == facts.outputs,
               trainable == facts.params and total == facts.params + facts.statistics,
               macs == facts.macs, field_ok, facts, (outputs, trainable, total, macs), fields)
