"""Draw what the network computes: `python visualize.py --output-dir runs/first`.

Writes OUTPUT_DIR/feature_maps.png, the first convolution's output on one validation image
(up to 8 of its channels, as the seed blog draws them), and OUTPUT_DIR/training_curves.png,
loss and accuracy per epoch from history.csv. Uses the trained model.keras when there is one,
else a freshly initialized model.
"""

import argparse
import csv
import sys
from pathlib import Path

import keras
import matplotlib
import numpy as np

import data
from model import build_model

FIRST_CONV = 'stem'


def feature_maps(model: keras.Model, image: np.ndarray, path: Path, count: int = 8) -> bool:
    """Plot up to `count` channels of FIRST_CONV's output for one image."""
    if FIRST_CONV is None:
        return False
    import matplotlib.pyplot as plt

    probe = keras.Model(model.inputs, model.get_layer(FIRST_CONV).output)
    maps = keras.ops.convert_to_numpy(probe.predict(image[None], verbose=0))[0]
    shown = min(count, maps.shape[-1])
    figure, axes = plt.subplots(1, shown, figsize=(2.5 * shown, 2.8), squeeze=False)
    for i, axis in enumerate(axes[0]):
        axis.imshow(maps[:, :, i], cmap="gray")
        axis.set_title(f"channel {i}")
        axis.axis("off")
    figure.suptitle(f"{FIRST_CONV}: feature maps")
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return True


def training_curves(history: Path, path: Path) -> bool:
    """Plot every logged metric against the epoch, losses and accuracies side by side."""
    if not history.is_file():
        return False
    import matplotlib.pyplot as plt

    with open(history, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return False
    epochs = [int(row["epoch"]) + 1 for row in rows]
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 4))
    for key in rows[0]:
        if key == "epoch":
            continue
        axis = loss_axis if "loss" in key else accuracy_axis
        axis.plot(epochs, [float(row[key]) for row in rows], marker="o", label=key)
    for axis, title in ((loss_axis, "loss"), (accuracy_axis, "accuracy")):
        axis.set_xlabel("epoch")
        axis.set_title(title)
        axis.legend()
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return True


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Draw feature maps and training curves.")
    parser.add_argument("--output-dir", default="runs/latest")
    parser.add_argument("--dataset", choices=data.DATASETS, default=None)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--validation-split", type=float, default=None)
    parser.add_argument("--synthetic-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> list[Path]:
    matplotlib.use("Agg")
    args = parse_args(argv)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    trained = out / "model.keras"
    model = keras.saving.load_model(trained, compile=False) if trained.is_file() else build_model()
    train_data, held_out = data.load(args.dataset, args.data_dir, args.validation_split,
                                     args.seed, args.synthetic_size)
    source = held_out if held_out is not None else train_data
    image = data.first_batch(data.make_pipeline(source, 1, training=False,
                                                drop_remainder=False))[0][0]
    written = []
    if feature_maps(model, np.asarray(image), out / "feature_maps.png"):
        written.append(out / "feature_maps.png")
    if training_curves(out / "history.csv", out / "training_curves.png"):
        written.append(out / "training_curves.png")
    return written


if __name__ == "__main__":
    try:
        for written in main():
            print(written)
    except data.DataError as error:
        sys.exit(f"visualize.py: {error}")
