"""train.py runs end to end on the Keras backend in use (KERAS_BACKEND): one step and every
artifact; the accelerator paths on the CPU (mixed precision, several steps per execution, XLA
where the backend compiles); two CPU devices standing in for two GPUs with the target's
defaults; preemption; the config file."""

import csv
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import callbacks
import devices
import evaluate
import predict
import train
import visualize

ROOT = Path(__file__).resolve().parents[1]
BACKEND = keras.backend.backend()
TEST_PRECISION = 'mixed_bfloat16'
# PyTorch takes one step per execution only (Keras raises otherwise).
STEPS = 1 if BACKEND == "torch" else 2
QUICK = ["--dataset", "synthetic", "--synthetic-size", "16", "--batch-size", "4", "--epochs", "1",
         "--tpu", "none"]


def test_one_training_step_and_every_artifact(tmp_path):
    metrics = train.main([*QUICK, "--steps-per-epoch", "1", "--steps-per-execution", "1",
                          "--output-dir", str(tmp_path)])
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert math.isfinite(metrics[key]), key
    assert metrics["epochs_completed"] == 1 and metrics["backend"] == BACKEND
    assert json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8")) == metrics
    for name in ("model.keras", "serving.keras", "checkpoints/best.keras", "config.json",
                 "environment.json"):
        assert (tmp_path / name).is_file(), name
    assert ((tmp_path / "export" / "saved_model.pb").is_file()) == ("export" in metrics["exported"])
    assert not (tmp_path / "backup").exists()  # BackupAndRestore cleans up after a full run
    with open(tmp_path / "history.csv", newline="", encoding="utf-8") as handle:
        assert [row["epoch"] for row in csv.DictReader(handle)] == ["0"]
    environment = json.loads((tmp_path / "environment.json").read_text(encoding="utf-8"))
    assert environment["versions"]["keras"] == keras.__version__
    assert environment["runtime"]["devices"]

    data_args = ["--output-dir", str(tmp_path), "--dataset", "synthetic", "--synthetic-size", "16"]
    evaluation = evaluate.main(data_args)
    assert math.isfinite(evaluation["loss"]) and 0.0 <= evaluation["accuracy"] <= 1.0
    drawn = visualize.main(data_args)
    assert tmp_path / "training_curves.png" in drawn
    assert (tmp_path / "feature_maps.png" in drawn) == (visualize.FIRST_CONV is not None)


def test_the_export_takes_raw_pixels_of_any_size(tmp_path):
    from PIL import Image

    train.main([*QUICK, "--steps-per-epoch", "1", "--output-dir", str(tmp_path)])
    channels = train.INPUT_SHAPE[-1]
    pixels = np.random.default_rng(0).integers(0, 256, (train.INPUT_SHAPE[0] + 9,
                                                        train.INPUT_SHAPE[1] + 5, channels))
    image = tmp_path / "image.png"
    Image.fromarray(pixels.astype(np.uint8).squeeze()).save(image)
    [line] = predict.main([str(tmp_path), str(image)])
    serving = keras.saving.load_model(tmp_path / "serving.keras", compile=False)
    model = keras.saving.load_model(tmp_path / "model.keras", compile=False)
    scaled = keras.ops.image.resize(pixels[None].astype("float32"), train.INPUT_SHAPE[:2]) / 255
    expected = keras.ops.convert_to_numpy(model(scaled, training=False))
    got = keras.ops.convert_to_numpy(serving(pixels[None].astype("float32"), training=False))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    assert line["top"][0]["class"] == int(np.argmax(expected[0])) or False


def test_the_accelerator_paths_run_on_the_cpu(tmp_path):
    """The target accelerator's mixed policy, several steps per execution, gradient
    accumulation and padded validation (the static-shape path) train and stay finite."""
    metrics = train.main([*QUICK, "--synthetic-size", "22", "--steps-per-execution", str(STEPS),
                          "--precision", TEST_PRECISION, "--gradient-accumulation", "2",
                          "--output-dir", str(tmp_path)])
    assert metrics["dtype_policy"] == TEST_PRECISION
    assert metrics["steps_per_execution"] == STEPS
    assert metrics["jit_compile"] == (BACKEND == "jax")  # JAX always compiles its steps
    assert math.isfinite(metrics["loss"]) and math.isfinite(metrics["val_loss"])


def test_validation_smaller_than_the_batch_is_kept_when_shapes_are_static(tmp_path, monkeypatch):
    """On a TPU the last batches are padded, not dropped: val metrics exist."""
    resolve = devices.resolve
    monkeypatch.setattr(devices, "resolve", lambda *a, **k: tpu_like(resolve(*a, **k)))
    metrics = train.main([*QUICK, "--synthetic-size", "40", "--batch-size", "16",
                          "--steps-per-execution", "1", "--output-dir", str(tmp_path)])
    assert metrics["val_loss"] is not None and math.isfinite(metrics["val_loss"])


def tpu_like(runtime):
    runtime.accelerator = "TPU"  # static shapes, as on a TPU, with the CPU's devices
    runtime.policy = "float32"
    return runtime


def run_two_devices(tmp_path):
    """train.py in its own process on two CPU devices, with the target's defaults."""
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "CUDA_VISIBLE_DEVICES": ""}
    command = [sys.executable, "train.py", *QUICK, "--synthetic-size", "64",
               "--precision", TEST_PRECISION, "--cpu-replicas", "2", "--output-dir", str(tmp_path)]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))


@pytest.mark.skipif(BACKEND == "torch", reason="Keras on PyTorch trains on one device")
def test_two_cpu_devices_stand_in_for_two_gpus_with_the_target_defaults(tmp_path):
    metrics = run_two_devices(tmp_path)
    assert metrics["replicas"] == 2 and metrics["global_batch_size"] == 8
    assert metrics["dtype_policy"] == TEST_PRECISION and math.isfinite(metrics["val_loss"])
    if BACKEND == "tensorflow":  # keras-team/keras#19005 and #19246
        assert metrics["strategy"] == "MirroredStrategy"
        assert metrics["jit_compile"] is False and metrics["steps_per_execution"] == 1
    else:
        assert metrics["strategy"] == "DataParallel"
        assert metrics["steps_per_execution"] == devices.TARGET_STEPS_PER_EXECUTION


def test_sigterm_saves_the_backup_and_stops(tmp_path, monkeypatch):
    class Terminate(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 0:
                signal.raise_signal(signal.SIGTERM)

    make = callbacks.make
    monkeypatch.setattr(train.training_callbacks, "make",
                        lambda *a, **k: [*make(*a, **k), Terminate()])
    with pytest.raises(train.Preempted):
        train.main([*QUICK, "--synthetic-size", "32", "--epochs", "3", "--steps-per-execution",
                    "1", "--output-dir", str(tmp_path)])
    assert (tmp_path / "backup" / "training_metadata.json").is_file()
    assert not (tmp_path / "model.keras").exists()


def test_the_config_file_sets_defaults_and_flags_win(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"label-smoothing": 0.0, "warmup_epochs": 0, "epochs": 7}))
    train.main(["--config", str(config), *QUICK, "--steps-per-epoch", "1",
                "--output-dir", str(tmp_path / "run")])
    resolved = json.loads((tmp_path / "run" / "config.json").read_text(encoding="utf-8"))
    assert resolved["label_smoothing"] == 0.0 and resolved["warmup_epochs"] == 0
    assert resolved["epochs"] == 1  # the flag, not the file
    assert json.loads((ROOT / "config.json").read_text(encoding="utf-8"))["epochs"] == 10
    with pytest.raises(SystemExit):
        config.write_text(json.dumps({"no_such_setting": 1}))
        train.parse_args(["--config", str(config)])


def test_the_learning_rate_follows_the_global_batch():
    args = train.parse_args(["--learning-rate", "0.002"])
    assert train.peak_learning_rate(args, 256) == pytest.approx(0.002)
    assert train.peak_learning_rate(args, 1024) == pytest.approx(0.004)  # sqrt scaling
    args = train.parse_args(["--learning-rate", "0.002", "--lr-scaling", "linear"])
    assert train.peak_learning_rate(args, 1024) == pytest.approx(0.008)


def test_precision_follows_the_accelerator():
    assert devices.choose_policy("auto", "GPU", [(8, 0)])[0] == "mixed_float16"
    assert devices.choose_policy("auto", "GPU", [(6, 1)])[0] == "float32"  # no tensor cores
    assert devices.choose_policy("auto", "TPU", [])[0] == "mixed_bfloat16"
    assert devices.choose_policy("auto", "CPU", [])[0] == "float32"
    assert devices.choose_policy("float32", "GPU", [(8, 0)])[0] == "float32"


def test_each_worker_writes_to_its_own_folder(monkeypatch, tmp_path):
    cluster = {"worker": ["localhost:1", "localhost:2"]}
    for index, expected in ((0, tmp_path), (1, tmp_path / "workers" / "worker-1")):
        config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        monkeypatch.setenv("TF_CONFIG", json.dumps(config))
        assert train.run_dir(str(tmp_path)) == str(expected)
    monkeypatch.delenv("TF_CONFIG")
    assert train.run_dir(str(tmp_path)) == str(tmp_path)
