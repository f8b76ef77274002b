"""Train the seed CNN's generated project on a real image folder of handwritten digits.

scikit-learn ships 1,797 handwritten digits as 8x8 images with 17 grey levels
(`sklearn.datasets.load_digits`, no download). This script writes them as PNG files into one
folder per class (0-9), then runs the generated project's own train.py on that folder with
`--dataset folder`: the project's pipeline resizes them to the model's 28x28 input, holds out
20% for validation and trains on the CPU. It prints the final validation accuracy.

    python scripts/train_digits_demo.py                      # generated/seed_cnn_cpu, 8 epochs
    python scripts/train_digits_demo.py --project DIR --epochs 3 --work DIR
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def png_bytes(pixels: list[list[int]]) -> bytes:
    """A minimal 8-bit greyscale PNG (no dependency beyond the standard library)."""
    import struct

    height, width = len(pixels), len(pixels[0])

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + bytes(row) for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def write_digits(folder: Path) -> int:
    """sklearn's digits (values 0-16) as 0-255 PNGs in folder/<digit>/<index>.png."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    for index, (image, label) in enumerate(zip(digits.images, digits.target, strict=True)):
        target = folder / str(int(label))
        target.mkdir(parents=True, exist_ok=True)
        pixels = [[round(float(v) * 255 / 16) for v in row] for row in image]
        (target / f"{index:04d}.png").write_bytes(png_bytes(pixels))
    return len(digits.images)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=ROOT / "generated" / "seed_cnn_cpu")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for the images and the run (default: a temporary one)")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="convplan-digits-"))
    images, run = work / "digits", work / "run"
    count = write_digits(images)
    print(f"wrote {count} digit images to {images}/<0-9>/")
    command = [sys.executable, "train.py", "--dataset", "folder", "--data-dir", str(images),
               "--epochs", str(args.epochs), "--batch-size", "32", "--output-dir", str(run)]
    print("running:", " ".join(command), f"(in {args.project})", flush=True)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0",
           "PYTHONDONTWRITEBYTECODE": "1"}  # nothing written into the project folder
    subprocess.run(command, cwd=args.project, env=env, check=True)
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    print(f"validation accuracy after {metrics['epochs_completed']} epochs: "
          f"{metrics['val_accuracy']:.4f} (val_loss {metrics['val_loss']:.4f}); run in {run}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
