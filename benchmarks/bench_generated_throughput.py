"""CPU training throughput of the generated seed CNN project against the seed blog's own code
(issue 16), per Keras backend, as a ratio in one run.

Both train on the same in-memory images (uint8, Fashion-MNIST's shape, random pixels and
labels) with the per-replica batch of 64: the blog's code (`Sequential`, Adam,
categorical cross-entropy on one-hot labels, `model.fit(x, y, batch_size=64)`), and the
project's `train.main` with its defaults (its pipeline, AdamW with warm-up and cosine decay,
label smoothing, callbacks), its data source replaced by the same arrays. The first epoch
(compilation) is left out; images per second are over the later epochs, wall clock and
process CPU time.

    .venv/bin/python benchmarks/bench_generated_throughput.py [--images 12800] [--epochs 3]
        [--backends tensorflow,jax,torch] [--python jax=/path/python torch=/path/python]

Each backend runs in its own process (KERAS_BACKEND is read at import); one whose packages are
missing from its interpreter is reported as skipped. Target: >= 1.0x on TensorFlow.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BACKENDS = ("tensorflow", "jax", "torch")


class EpochClock:
    """A Keras callback factory: wall and CPU seconds of every epoch after the first."""

    @staticmethod
    def make():
        import keras

        class Clock(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.wall, self.cpu = [], []

            def on_epoch_begin(self, epoch, logs=None):
                self.started = (time.perf_counter(), time.process_time())

            def on_epoch_end(self, epoch, logs=None):
                if epoch > 0:
                    self.wall.append(time.perf_counter() - self.started[0])
                    self.cpu.append(time.process_time() - self.started[1])

        return Clock()


def seed_blog(images, labels, epochs: int) -> tuple[float, float]:
    """The blog's Fashion-MNIST CNN and its fit call; (wall, CPU) seconds of epochs 2..n."""
    import keras
    from keras.layers import Conv2D, Dense, Flatten, MaxPooling2D

    x = images.astype("float32") / 255.0
    y = keras.utils.to_categorical(labels, 10)
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        Conv2D(32, (3, 3), padding="same", activation="relu"),
        MaxPooling2D((2, 2)),
        Conv2D(64, (3, 3), padding="same", activation="relu"),
        MaxPooling2D((2, 2)),
        Flatten(),
        Dense(128, activation="relu"),
        Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    clock = EpochClock.make()
    model.fit(x, y, epochs=epochs, batch_size=64, callbacks=[clock], verbose=0)
    return sum(clock.wall), sum(clock.cpu)


def generated(project: Path, images, labels, epochs: int, out: Path) -> tuple[float, float]:
    """The project's train.main on the same arrays; (wall, CPU) seconds of epochs 2..n."""
    sys.path.insert(0, str(project))
    import callbacks
    import data
    import train

    clock = EpochClock.make()
    make = callbacks.make
    callbacks_with_clock = lambda *a, **k: [*make(*a, **k), clock]  # noqa: E731
    train.training_callbacks.make = callbacks_with_clock
    data.load = lambda *a, **k: (data.Arrays(images, labels), None)
    train.main(["--epochs", str(epochs), "--batch-size", "64", "--patience", str(epochs),
                "--output-dir", str(out)])
    return sum(clock.wall), sum(clock.cpu)


def measure(backend: str, project: Path, count: int, epochs: int) -> dict:
    """In this process (KERAS_BACKEND already set): both programs, the blog's first."""
    import numpy as np

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (count, 28, 28, 1), dtype=np.uint8)
    labels = rng.integers(0, 10, count).astype("int32")
    timed = count * (epochs - 1)
    blog_wall, blog_cpu = seed_blog(images, labels, epochs)
    with tempfile.TemporaryDirectory() as out:
        gen_wall, gen_cpu = generated(project, images, labels, epochs, Path(out))
    return {"backend": backend, "images": timed,
            "blog_images_per_s": timed / blog_wall, "project_images_per_s": timed / gen_wall,
            "blog_images_per_cpu_s": timed / blog_cpu, "project_images_per_cpu_s": timed / gen_cpu,
            "ratio_wall": blog_wall / gen_wall, "ratio_cpu": blog_cpu / gen_cpu}


def run_backend(backend: str, python: str, project: Path, count: int, epochs: int) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
           "CUDA_VISIBLE_DEVICES": "", "PYTHONDONTWRITEBYTECODE": "1"}
    command = [python, __file__, "--child", backend, "--project", str(project),
               "--images", str(count), "--epochs", str(epochs)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        reason = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return {"backend": backend, "skipped": reason[:200]}
    return json.loads(lines[-1])


def generate(folder: Path) -> Path:
    import convplan
    from convplan.codegen import generate_project

    graph = convplan.load(ROOT / "examples" / "seed_cnn.yaml")
    path, _ = generate_project(graph, folder / "seed_cnn_cpu", target="cpu",
                               dataset="fashion_mnist")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12_800)
    parser.add_argument("--epochs", type=int, default=3, help="the first is not timed")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--python", nargs="*", default=[], metavar="BACKEND=PATH",
                        help="the interpreter for a backend (default: this one)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--project", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first compiles)")
    if args.child:
        print(json.dumps(measure(args.child, args.project, args.images, args.epochs)))
        return 0
    pythons = dict(item.split("=", 1) for item in args.python)
    with tempfile.TemporaryDirectory() as folder:
        project = generate(Path(folder))
        rows = [run_backend(b, pythons.get(b, sys.executable), project, args.images, args.epochs)
                for b in args.backends.split(",")]
    print(f"seed CNN, {args.images} in-memory 28x28x1 images, batch 64, epochs 2-{args.epochs} "
          "timed (CPU)")
    print(f"{'backend':<11} {'blog img/s':>11} {'project img/s':>14} {'ratio':>6} "
          f"{'img/CPU-s ratio':>16}")
    for row in rows:
        if "skipped" in row:
            print(f"{row['backend']:<11} skipped: {row['skipped']}")
            continue
        print(f"{row['backend']:<11} {row['blog_images_per_s']:>11,.0f} "
              f"{row['project_images_per_s']:>14,.0f} {row['ratio_wall']:>5.2f}x "
              f"{row['ratio_cpu']:>15.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
