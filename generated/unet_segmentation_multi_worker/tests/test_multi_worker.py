"""Two workers on loopback, each its own process with its own TF_CONFIG, as two machines would
run: they train together; when one is killed mid-training and the job is started again,
BackupAndRestore resumes from the last completed epoch and every epoch runs exactly once."""

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import pytest

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 300


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def launch(index: int, ports: list[int], output: Path, epochs: int,
           log: Path) -> subprocess.Popen:
    config = {"cluster": {"worker": [f"localhost:{p}" for p in ports]},
              "task": {"type": "worker", "index": index}}
    env = {**os.environ, "TF_CONFIG": json.dumps(config), "CUDA_VISIBLE_DEVICES": ""}
    command = [sys.executable, "train.py", "--dataset", "synthetic", "--synthetic-size", "32",
               "--batch-size", "4", "--epochs", str(epochs), "--steps-per-epoch", "1",
               "--patience", str(epochs), "--output-dir", str(output)]
    with open(log, "a", encoding="utf-8") as handle:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle,
                                stderr=subprocess.STDOUT)


def wait_all(processes: list[subprocess.Popen], logs: list[Path]) -> None:
    for process, log in zip(processes, logs, strict=True):
        try:
            code = process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            for p in processes:
                p.kill()
            message = f"a worker ran past {TIMEOUT} s:\n{log.read_text()[-3000:]}"
            raise AssertionError(message) from None
        assert code == 0, log.read_text()[-3000:]


def epochs_logged(history: Path) -> list[int]:
    if not history.is_file():
        return []
    with open(history, newline="", encoding="utf-8") as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="MultiWorkerMirroredStrategy is TensorFlow's")
def test_two_workers_train_and_resume_after_one_is_killed(tmp_path):
    epochs, output = 4, tmp_path / "run"
    history = output / "history.csv"
    logs = [tmp_path / f"worker-{i}.log" for i in range(2)]
    ports = free_ports(2)
    workers = [launch(i, ports, output, epochs, logs[i]) for i in range(2)]
    deadline = time.monotonic() + TIMEOUT
    while not epochs_logged(history) and time.monotonic() < deadline:
        assert all(w.poll() is None for w in workers), logs[0].read_text()[-3000:]
        time.sleep(0.1)
    assert 0 < len(epochs_logged(history)) < epochs, "no epoch to resume from, or no kill"
    workers[1].send_signal(signal.SIGKILL)  # the lost machine
    workers[1].wait()
    # Without its peer the survivor's all-reduce fails and it exits; a cluster manager would
    # then start the whole job again.
    try:
        workers[0].wait(timeout=120)
    except subprocess.TimeoutExpired:
        workers[0].kill()
        workers[0].wait()
    assert (output / "backup" / "training_metadata.json").is_file()
    ports = free_ports(2)
    workers = [launch(i, ports, output, epochs, logs[i]) for i in range(2)]
    wait_all(workers, logs)

    assert epochs_logged(history) == list(range(epochs))  # every epoch exactly once
    assert logs[0].read_text().count(f"Epoch 1/{epochs}") == 1  # the restart resumed
    chief = json.loads((output / "metrics.json").read_text(encoding="utf-8"))
    assert chief["replicas"] == 2 and chief["global_batch_size"] == 8
    assert chief["epochs_completed"] == epochs
    other = json.loads((output / "workers" / "worker-1" / "metrics.json").read_text("utf-8"))
    assert other["loss"] == chief["loss"]  # the same mirrored model on both workers
    assert (output / "model.keras").is_file() and not (output / "backup").exists()
