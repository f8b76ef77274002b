"""What the network is for, read off its input and output: the data and loss it needs.

- image classification: one (H, W, C) input, one output of shape (classes,);
- segmentation: one output of shape (H, W, classes) at the input's resolution (per-pixel labels).
One output unit or channel means two classes with a sigmoid (binary cross-entropy); several mean
sparse categorical cross-entropy. `from_logits` is true unless the output layer already applies
softmax (or sigmoid for one unit). Datasets a task can use follow from the class count.
"""

from __future__ import annotations

from dataclasses import dataclass

from convplan.analysis import Analysis
from convplan.codegen.datasets import DATASETS, KERAS_DATASETS
from convplan.errors import UsageError, parameter_name
from convplan.ir import ops as O
from convplan.ir.graph import Graph

COLOR_MODES = {1: "grayscale", 3: "rgb", 4: "rgba"}


@dataclass(frozen=True)
class Task:
    kind: str  # "classification" | "segmentation"
    input_name: str
    input_shape: tuple[int, ...]
    output_name: str
    output_shape: tuple[int, ...]
    num_classes: int  # 2 for a one-unit sigmoid output
    binary: bool
    from_logits: bool
    datasets: tuple[str, ...]  # the datasets this network can train on
    default_dataset: str

    @property
    def loss_class(self) -> str:
        return "BinaryCrossentropy" if self.binary else "SparseCategoricalCrossentropy"

    @property
    def metric_class(self) -> str:
        return "BinaryAccuracy" if self.binary else "SparseCategoricalAccuracy"

    @property
    def color_mode(self) -> str:
        return COLOR_MODES[self.input_shape[-1]]


def output_activation(graph: Graph, name: str) -> str | None:
    op = graph[name].op
    if isinstance(op, O.Softmax):
        return "softmax"
    return getattr(op, "activation", None)


def _fail(message: str) -> UsageError:
    return UsageError(f"convplan generate: {message}")


def detect_task(graph: Graph, plan: Analysis) -> Task:
    """The task, classes and loss of a one-input, one-output image network (see module doc)."""
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise _fail(f"a training project needs one input and one output; the network has "
                    f"{len(graph.inputs)} input(s) and {len(graph.outputs)} output(s)")
    input_name, output_name = graph.inputs[0], graph.outputs[0]
    unused = [n for n in graph.nodes if n != output_name
              and not any(n in node.inputs for node in graph)]
    if unused:
        raise _fail(f"layer {unused[0]!r} feeds no other layer and is not the output; Keras "
                    "would drop it from the model, so remove it or make it the output")
    input_shape = tuple(plan.layer(input_name).output_shape)
    output_shape = tuple(plan.layer(output_name).output_shape)
    if not all(isinstance(d, int) for d in (*input_shape, *output_shape)):
        raise _fail("the network's sizes are symbolic; give concrete sizes with "
                    + parameter_name("input_size"))
    if len(input_shape) != 3 or input_shape[-1] not in COLOR_MODES:
        raise _fail(f"the input must be an image (height, width, 1, 3 or 4 channels), received "
                    f"shape {list(input_shape)}")
    if len(output_shape) == 1:
        kind = "classification"
    elif len(output_shape) == 3 and output_shape[:2] == input_shape[:2]:
        kind = "segmentation"
    else:
        raise _fail(f"the output shape {list(output_shape)} is neither (classes,) for "
                    f"classification nor (height, width, classes) at the input's resolution "
                    f"{list(input_shape[:2])} for segmentation")
    units = output_shape[-1]
    binary = units == 1
    activation = output_activation(graph, output_name)
    from_logits = activation != ("sigmoid" if binary else "softmax")
    classes = 2 if binary else units
    datasets = available_datasets(kind, classes)
    return Task(kind, input_name, input_shape, output_name, output_shape, classes, binary,
                from_logits, datasets, default_dataset(kind, classes, input_shape))


def available_datasets(kind: str, classes: int) -> tuple[str, ...]:
    if kind == "segmentation":
        return ("folder", "synthetic")
    keras_sets = tuple(n for n, (_, c) in KERAS_DATASETS.items() if c == classes)
    return (*keras_sets, "folder", "synthetic")


def default_dataset(kind: str, classes: int, input_shape: tuple[int, ...]) -> str:
    """The keras dataset closest to the input (same classes, then same channels and size);
    synthetic for segmentation, an image folder for any other class count."""
    if kind == "segmentation":
        return "synthetic"
    fits = [n for n, (shape, c) in KERAS_DATASETS.items() if c == classes]
    if not fits:
        return "folder"
    same = [n for n in fits if KERAS_DATASETS[n][0] == input_shape]
    channels = [n for n in fits if KERAS_DATASETS[n][0][-1] == input_shape[-1]]
    preferred = ["fashion_mnist", "cifar10", "cifar100", "mnist"]  # the seed's dataset first
    for group in (same, channels, fits):
        for name in preferred:
            if name in group:
                return name
    return fits[0]


def choose_dataset(task: Task, requested: str | None) -> str:
    if requested is None:
        return task.default_dataset
    if requested not in DATASETS:
        raise _fail(f"unknown dataset {requested!r}; expected one of {', '.join(DATASETS)}")
    if requested not in task.datasets:
        raise _fail(f"{parameter_name('dataset')} {requested} does not fit this {task.kind} "
                    f"network with {task.num_classes} classes; it can train on "
                    f"{', '.join(task.datasets)}")
    return requested
