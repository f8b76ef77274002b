"""train.py runs end to end: one training step on synthetic data, then every artifact."""

import csv
import json
import math

import evaluate
import train
import visualize


def test_one_training_step_on_synthetic_data(tmp_path):
    metrics = train.main(["--dataset", "synthetic", "--synthetic-size", "16", "--batch-size", "4",
                          "--epochs", "1", "--steps-per-epoch", "1", "--steps-per-execution", "1",
                          "--output-dir", str(tmp_path)])
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert math.isfinite(metrics[key]), key
    assert metrics["epochs_completed"] == 1
    assert json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8")) == metrics
    assert (tmp_path / "model.keras").is_file()
    assert (tmp_path / "checkpoints" / "best.keras").is_file()
    assert (tmp_path / "export" / "saved_model.pb").is_file()
    assert not (tmp_path / "backup").exists()  # BackupAndRestore cleans up after a full run
    with open(tmp_path / "history.csv", newline="", encoding="utf-8") as handle:
        assert [row["epoch"] for row in csv.DictReader(handle)] == ["0"]

    data_args = ["--output-dir", str(tmp_path), "--dataset", "synthetic", "--synthetic-size", "16"]
    evaluation = evaluate.main(data_args)
    assert math.isfinite(evaluation["loss"]) and 0.0 <= evaluation["accuracy"] <= 1.0
    drawn = visualize.main(data_args)
    assert tmp_path / "training_curves.png" in drawn
    assert (tmp_path / "feature_maps.png" in drawn) == (visualize.FIRST_CONV is not None)


def test_precision_follows_the_accelerator():
    assert train.choose_policy(None, "GPU") == "mixed_float16"
    assert train.choose_policy(None, "TPU") == "mixed_bfloat16"
    assert train.choose_policy(None, "CPU") == "float32"
    assert train.choose_policy(True, "CPU") == "float32"
    assert train.choose_policy(False, "GPU") == "float32"


def test_each_worker_writes_to_its_own_folder(monkeypatch, tmp_path):
    cluster = {"worker": ["localhost:1", "localhost:2"]}
    for index, expected in ((0, tmp_path), (1, tmp_path / "workers" / "worker-1")):
        config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        monkeypatch.setenv("TF_CONFIG", json.dumps(config))
        assert train.run_dir(str(tmp_path)) == expected
    monkeypatch.delenv("TF_CONFIG")
    assert train.run_dir(str(tmp_path)) == tmp_path
