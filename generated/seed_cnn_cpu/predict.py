"""Predict on image files with the exported model: `python predict.py runs/first a.png b.jpg`.

Loads OUTPUT_DIR/serving.keras (the trained model behind its preprocessing: any image size,
pixels 0-255), so nothing here resizes or scales, and prints one JSON line per image:
the top classes with their probabilities.
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
    order = np.argsort(-p)[:TOP]
    return {"image": path, "top": [{"class": int(k), "probability": round(float(p[k]), 6)}
                                   for k in order]}


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
