"""Predict on image files with the exported model: `python predict.py runs/first a.png b.jpg`.

Loads OUTPUT_DIR/serving.keras (the trained model behind its preprocessing: any image size,
pixels 0-255), so nothing here resizes or scales, and prints one JSON line per image:
the per-pixel class map is written beside the run as predictions/<image name>.png.
"""

import argparse
import io
import json
import sys

import keras
import numpy as np

import data
import files

TOP = 5


def read_pixels(path: str) -> np.ndarray:
    """One image as uint8 (1, height, width, channels), the model's channel count."""
    from PIL import Image

    with Image.open(io.BytesIO(files.read_bytes(path))) as image:
        pixels = np.asarray(image.convert(data.PIL_MODES[data.INPUT_SHAPE[-1]]))
    return pixels.reshape(1, *pixels.shape[:2], data.INPUT_SHAPE[-1])


def probabilities(scores: np.ndarray) -> np.ndarray:
    """The output layer's scores as probabilities (it may emit logits)."""
    scores = scores.astype(np.float64)
    if False:
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
    return scores


def predict(model: keras.Model, path: str, out_dir: str) -> dict:
    scores = keras.ops.convert_to_numpy(model(read_pixels(path), training=False))[0]
    p = probabilities(scores)
    from PIL import Image

    classes = p.argmax(axis=-1).astype(np.uint8)
    folder = files.join(out_dir, "predictions")
    files.makedirs(folder)
    target = files.join(folder, path.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
                        + ".png")
    buffer = io.BytesIO()
    Image.fromarray(classes).save(buffer, format="PNG")
    files.write_bytes(target, buffer.getvalue())
    counts = np.bincount(classes.reshape(-1), minlength=p.shape[-1])
    return {"image": path, "mask": target, "pixels_per_class": counts.tolist()}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description="Predict on image files.")
    parser.add_argument("output_dir", help="the training run's folder (holds serving.keras)")
    parser.add_argument("images", nargs="+")
    args = parser.parse_args(argv)
    model = keras.saving.load_model(files.join(args.output_dir, "serving.keras"), compile=False)
    return [predict(model, path, args.output_dir) for path in args.images]


if __name__ == "__main__":
    try:
        for line in main():
            print(json.dumps(line))
    except (OSError, data.DataError) as error:
        sys.exit(f"predict.py: {error}")
