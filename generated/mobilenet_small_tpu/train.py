"""Train the network and save it: `python train.py --epochs 10 --output-dir runs/first`.

The distribution strategy is chosen when this runs, in this order: a TPU (--tpu), several
machines (TF_CONFIG set: MultiWorkerMirroredStrategy), several GPUs (MirroredStrategy), one GPU
(OneDeviceStrategy), or the default strategy. The global batch is --batch-size (per replica)
times the number of replicas, and the model, optimizer, loss and metrics are created inside the
strategy's scope. On a GPU the model computes in mixed_float16, on a TPU in mixed_bfloat16 (the
output layer stays float32), with XLA.

Defaults are those of the tpu target: TPUStrategy, mixed_bfloat16 with a float32 output layer,
static shapes (drop_remainder), 50 steps per execution.

Written by convplan 0.1.0. The output folder gets model.keras (the trained
model), export/ (a SavedModel), checkpoints/best.keras, logs/ (TensorBoard), history.csv,
metrics.json; backup/ holds BackupAndRestore's state while training runs, so a run that is
interrupted resumes at its last completed epoch when started again with the same arguments.
Workers other than the chief write to OUTPUT_DIR/workers/<task>/.
"""

import argparse
import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

import keras
import tensorflow as tf

import data
from model import build_model

DEFAULT_BATCH_SIZE = 128
DEFAULT_STEPS_PER_EXECUTION = 50
DROP_REMAINDER = True
DEFAULT_TPU = 'auto'
AUGMENTATIONS = ('none', 'translate', 'flip')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train the network (see the module docstring).")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                        help="per replica; the global batch is this times the replicas")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="Adam's")
    parser.add_argument("--dataset", choices=data.DATASETS, default=data.DEFAULT_DATASET)
    parser.add_argument("--data-dir", default=None, help="the image folder for --dataset folder")
    parser.add_argument("--validation-split", type=float, default=None,
                        help="fraction held out of folder and synthetic data (default 0.2)")
    parser.add_argument("--output-dir", default="runs/latest")
    parser.add_argument("--mixed-precision", action=argparse.BooleanOptionalAction, default=None,
                        help="default: on with a GPU (float16) or TPU (bfloat16), off on CPU")
    parser.add_argument("--jit-compile", action=argparse.BooleanOptionalAction, default=None,
                        help="XLA; default: on with a GPU or TPU")
    parser.add_argument("--tpu", default=DEFAULT_TPU,
                        help="TPU name or grpc:// address ('local' on a TPU VM), 'auto' to find "
                             "one from the environment, 'none' for no TPU")
    parser.add_argument("--steps-per-execution", type=int, default=DEFAULT_STEPS_PER_EXECUTION)
    parser.add_argument("--steps-per-epoch", type=int, default=None, help="default: one pass")
    parser.add_argument("--augment", choices=AUGMENTATIONS, default="none",
                        help="random translations, and horizontal flips with 'flip'")
    parser.add_argument("--patience", type=int, default=5,
                        help="EarlyStopping: epochs without a better validation loss")
    parser.add_argument("--synthetic-size", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size", "steps_per_execution", "synthetic_size", "patience"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.steps_per_epoch is not None and args.steps_per_epoch < 1:
        parser.error("--steps-per-epoch must be at least 1")
    return args


def patch_multi_worker_reduce(strategy: tf.distribute.Strategy) -> None:
    """Keras 3's fit reduces a whole (x, y) batch and 0-d logs with `strategy.reduce(...,
    axis=0)`, which MultiWorkerMirroredStrategy rejects (keras-team/keras#20585); reduce each
    tensor on its own, 0-d ones without an axis."""
    reduce = strategy.reduce

    def reduce_each(reduce_op, value, axis=None):
        def one(tensor):
            rank = strategy.experimental_local_results(tensor)[0].shape.rank
            return reduce(reduce_op, tensor, axis=axis if rank else None)

        return tf.nest.map_structure(one, value)

    strategy.reduce = reduce_each


def find_tpu(tpu: str) -> tf.distribute.cluster_resolver.TPUClusterResolver | None:
    if tpu == "none":
        return None
    try:
        return tf.distribute.cluster_resolver.TPUClusterResolver(tpu=None if tpu == "auto" else tpu)
    except ValueError:
        if tpu != "auto":
            raise
        print("no TPU found in the environment (pass --tpu NAME); using the other devices")
        return None


def make_strategy(tpu: str) -> tf.distribute.Strategy:
    """The strategy for the hardware found. It is made before any other TensorFlow op, as
    MultiWorkerMirroredStrategy requires."""
    resolver = find_tpu(tpu)
    if resolver is not None:
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if os.environ.get("TF_CONFIG"):
        # One all-reduce per 32 MiB of gradients instead of one per variable.
        options = tf.distribute.experimental.CommunicationOptions(bytes_per_pack=32 * 2**20)
        strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
        patch_multi_worker_reduce(strategy)
        return strategy
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    if len(gpus) == 1:
        return tf.distribute.OneDeviceStrategy(gpus[0].name)
    return tf.distribute.get_strategy()


def accelerator_of(strategy: tf.distribute.Strategy) -> str:
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return "TPU"
    return "GPU" if tf.config.list_logical_devices("GPU") else "CPU"


def choose_policy(requested: bool | None, accelerator: str) -> str:
    """mixed_bfloat16 on TPU, mixed_float16 on GPU, float32 on CPU or when switched off."""
    if requested is False:
        return "float32"
    if accelerator == "TPU":
        return "mixed_bfloat16"
    if accelerator == "GPU":
        return "mixed_float16"
    if requested:
        print("mixed precision needs a GPU or TPU; training in float32")
    return "float32"


def task_id() -> tuple[bool, str]:
    """(is this process the chief, its task name) from TF_CONFIG; a lone process is the chief."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = config.get("task", {})
    kind, index = task.get("type", "worker"), int(task.get("index", 0))
    chief = kind == "chief" or (kind == "worker" and index == 0
                                and "chief" not in config.get("cluster", {}))
    return chief, f"{kind}-{index}"


def run_dir(output_dir: str) -> Path:
    """The chief writes to the output folder, every other worker to its own below it (two
    processes must never write the same file)."""
    chief, task = task_id()
    return Path(output_dir) if chief else Path(output_dir) / "workers" / task


def follow_chief_backup(output_dir: str, run: Path) -> None:
    """Make a worker's backup the chief's before training, so every worker resumes at the same
    epoch (each backs up at its own epoch end, and a worker can die between two of them).
    Assumes --output-dir is on storage every worker sees, as a shared run folder is."""
    chief_backup, own = Path(output_dir) / "backup", run / "backup"
    if run == Path(output_dir):
        return
    shutil.rmtree(own, ignore_errors=True)
    if chief_backup.is_dir():
        shutil.copytree(chief_backup, own)


def make_callbacks(run: Path, patience: int, validated: bool) -> list[keras.callbacks.Callback]:
    backup = run / "backup"
    resuming = (backup / "training_metadata.json").is_file()
    monitor = "val_loss" if validated else "loss"
    (run / "checkpoints").mkdir(parents=True, exist_ok=True)
    callbacks = [
        keras.callbacks.BackupAndRestore(str(backup), double_checkpoint=True),
        keras.callbacks.ModelCheckpoint(str(run / "checkpoints" / "best.keras"), monitor=monitor,
                                        save_best_only=True),
        keras.callbacks.CSVLogger(str(run / "history.csv"), append=resuming),
        keras.callbacks.EarlyStopping(monitor=monitor, patience=patience),
    ]
    if importlib.util.find_spec("tensorboard") is not None:  # tf.summary needs the package
        callbacks.append(keras.callbacks.TensorBoard(str(run / "logs")))
    else:
        print("tensorboard is not installed: no logs/ (pip install tensorboard)")
    return callbacks


def count(dataset: tf.data.Dataset | None) -> int:
    return 0 if dataset is None else int(dataset.cardinality().numpy())


def final_metrics(history: keras.callbacks.History) -> dict[str, float | None]:
    logs = history.history
    return {key: (float(logs[key][-1]) if logs.get(key) else None)
            for key in ("loss", "accuracy", "val_loss", "val_accuracy")}


def train(args: argparse.Namespace, strategy: tf.distribute.Strategy, policy: str,
          jit_compile: bool, accelerator: str) -> dict:
    keras.utils.set_random_seed(args.seed)
    replicas = strategy.num_replicas_in_sync
    global_batch = args.batch_size * replicas
    train_data, val_data = data.load(args.dataset, args.data_dir, args.validation_split,
                                     args.seed, args.synthetic_size)
    drop = DROP_REMAINDER or accelerator == "TPU"
    if drop and count(train_data) < global_batch:
        raise data.DataError(f"{count(train_data)} training examples make no full batch of "
                             f"{global_batch}; lower --batch-size")
    train_ds = data.make_pipeline(train_data, global_batch, training=True, drop_remainder=drop,
                                  augment=args.augment, seed=args.seed)
    val_ds = None
    if val_data is not None:
        val_ds = data.make_pipeline(val_data, global_batch, training=False,
                                    drop_remainder=accelerator == "TPU")
    with strategy.scope():
        model = build_model()
        model.compile(
            optimizer=keras.optimizers.Adam(args.learning_rate),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            jit_compile=jit_compile,
            steps_per_execution=args.steps_per_execution,
        )
    run = run_dir(args.output_dir)
    run.mkdir(parents=True, exist_ok=True)
    follow_chief_backup(args.output_dir, run)
    print(f"{type(strategy).__name__}: {replicas} replica(s), global batch {global_batch}, "
          f"{policy}, XLA {'on' if jit_compile else 'off'}; {count(train_data)} training and "
          f"{count(val_data)} validation examples from {args.dataset}")
    history = model.fit(train_ds, validation_data=val_ds, epochs=args.epochs,
                        steps_per_epoch=args.steps_per_epoch,
                        callbacks=make_callbacks(run, args.patience, val_ds is not None),
                        shuffle=False, verbose=2)  # the pipeline shuffles
    model.save(run / "model.keras")
    model.export(str(run / "export"), verbose=False)
    metrics = {
        **final_metrics(history),
        "epochs_completed": history.epoch[-1] + 1 if history.epoch else 0,
        "epochs_requested": args.epochs,
        "dataset": args.dataset,
        "global_batch_size": global_batch,
        "replicas": replicas,
        "strategy": type(strategy).__name__,
        "dtype_policy": policy,
        "jit_compile": jit_compile,
    }
    (run / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return metrics


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    strategy = make_strategy(args.tpu)
    accelerator = accelerator_of(strategy)
    policy = choose_policy(args.mixed_precision, accelerator)
    jit_compile = accelerator != "CPU" if args.jit_compile is None else args.jit_compile
    keras.config.set_dtype_policy(policy)
    try:
        return train(args, strategy, policy, jit_compile, accelerator)
    finally:
        keras.config.set_dtype_policy("float32")


if __name__ == "__main__":
    try:
        result = main()
    except data.DataError as error:
        sys.exit(f"train.py: {error}")
    print(json.dumps(result, indent=2))
