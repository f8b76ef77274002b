"""The data sets a generated project can train on (names only: light enough for `--help`)."""

from __future__ import annotations

KERAS_DATASETS: dict[str, tuple[tuple[int, int, int], int]] = {
    # name -> (image shape, classes), as keras.datasets ships them
    "mnist": ((28, 28, 1), 10),
    "fashion_mnist": ((28, 28, 1), 10),
    "cifar10": ((32, 32, 3), 10),
    "cifar100": ((32, 32, 3), 100),
}
DATASETS = (*KERAS_DATASETS, "folder", "synthetic")
