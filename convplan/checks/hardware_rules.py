"""Hardware fit (CP3xx): shapes that leave accelerator units idle or cannot compile.

On by `checks.target` (gpu, tpu) and `checks.dtype`: NVIDIA tensor cores run float16 matrix
products on tiles of 8, so channels, units and the batch should be multiples of 8 under
mixed_float16; a TPU's matrix unit is 128 x 128, its cores want a per-core batch that is a
multiple of 8 (best 128), and XLA needs static shapes.
"""

from __future__ import annotations

from collections.abc import Iterator

from convplan.checks.config import CheckConfig
from convplan.checks.registry import Finding, finding, layer_finding
from convplan.checks.subject import Analyses
from convplan.ir.graph import Graph

HALF_DTYPES = ("mixed_float16", "float16")


def _inner_layers(graph: Graph) -> list:
    """Every layer but the graph outputs: an output's width is set by the task (10 classes),
    and under mixed precision the output layer computes in float32 anyway."""
    outputs = set(graph.outputs)
    return [node for node in graph if node.name not in outputs]


def _gpu_half(config: CheckConfig) -> bool:
    return config.dtype in HALF_DTYPES and config.target in (None, "gpu")


def check_gpu_alignment(graph: Graph, analyses: Analyses,
                        config: CheckConfig) -> Iterator[Finding]:
    """Filters, units or batch not a multiple of 8 under mixed_float16 on a GPU.

    NVIDIA tensor cores multiply float16 tiles of 8; cuDNN and cuBLAS pad or fall back to
    slower kernels when a dimension is not a multiple of 8. Checked when `checks.dtype` is
    mixed_float16 or float16 and the target is gpu or unset. Exempt: the network's input
    channels (3 for RGB; cuDNN pads the first layer itself) and the output layers (their
    width is the task's, and they compute in float32 under mixed precision). Fix: round
    filters, units and the batch up to a multiple of 8."""
    if not _gpu_half(config):
        return
    for node in _inner_layers(graph):
        width = node.op.feature_width
        if width and width[1] % 8:
            attr, value = width
            yield layer_finding("CP301", graph, node.name,
                                f"{attr} {value} is not a multiple of 8; tensor cores under "
                                f"{config.dtype} want {attr}: {-(-value // 8) * 8}")
    if config.batch is not None and config.batch % 8:
        yield finding("CP301", f"batch {config.batch} is not a multiple of 8; tensor cores "
                      f"under {config.dtype} want a batch of {-(-config.batch // 8) * 8}")


def check_tpu_features(graph: Graph, analyses: Analyses,
                       config: CheckConfig) -> Iterator[Finding]:
    """Filters or units not a multiple of 128 on a TPU (target: tpu).

    The TPU matrix unit (MXU) is 128 x 128; XLA pads every feature dimension up to a
    multiple of 128, so 64 filters leave half of it idle. The finding states the idle share;
    output layers are exempt (their width is the task's). Fix: widths that are multiples of
    128 where the layer matters for speed."""
    if config.target != "tpu":
        return
    for node in _inner_layers(graph):
        width = node.op.feature_width
        if width and width[1] % 128:
            attr, value = width
            padded = -(-value // 128) * 128
            yield layer_finding("CP302", graph, node.name,
                                f"{attr} {value} fills {value} of {padded} MXU lanes "
                                f"({100 * (padded - value) / padded:.0f}% idle); use a multiple "
                                "of 128")


def check_tpu_batch(graph: Graph, analyses: Analyses, config: CheckConfig) -> Iterator[Finding]:
    """Per-core batch not a multiple of 8 on a TPU (target: tpu, `batch` per core).

    XLA tiles the batch dimension by 8 on TPU cores (128 is best); other sizes are padded.
    Fix: a per-core batch of 8k (global batch = per-core batch x cores)."""
    if config.target != "tpu" or config.batch is None or config.batch % 8 == 0:
        return
    yield finding("CP303", f"per-core batch {config.batch} is not a multiple of 8; TPU cores pad "
                  f"it to {-(-config.batch // 8) * 8}")


def check_tpu_dynamic_shape(graph: Graph, analyses: Analyses,
                            config: CheckConfig) -> Iterator[Finding]:
    """An input with a dynamic (symbolic or null) dimension on a TPU (target: tpu).

    XLA compiles one program per shape; on a TPU every new size recompiles, and a ragged
    last batch fails. Fix: declare the size (`inputs: {image: [224, 224, 3]}`) or set
    `checks.input_size`, and batch with drop_remainder=True."""
    if config.target != "tpu":
        return
    for name in graph.inputs:
        dims = list(graph[name].op.shape)
        if config.input_size and len(config.input_size) == len(dims) - 1:
            dims[:-1] = config.input_size
        dynamic = [str(d) for d in dims if not isinstance(d, int)]
        if dynamic:
            yield layer_finding("CP304", graph, name,
                                f"dimension(s) {', '.join(dynamic)} of the input shape "
                                f"{[d if d is not None else 'null' for d in dims]} are dynamic; "
                                "a TPU needs static shapes")
