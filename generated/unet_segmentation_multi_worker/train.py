"""Train the network and save it: `python train.py --epochs 10 --output-dir runs/first`.

Runs on the Keras backend named by KERAS_BACKEND (tensorflow, jax or torch); devices.py picks
the strategy or distribution, XLA, steps per execution and precision for the hardware found.
The global batch is --batch-size (per replica) times the replicas. The recipe: AdamW, a linear
warm-up then cosine decay to zero, the peak learning rate scaled with the global batch
(--lr-scaling), label smoothing, optional gradient accumulation; EarlyStopping restores the
best weights. Settings come from the flags, over --config FILE (JSON, flag names as keys).

Defaults are those of the multi-worker target: MultiWorkerMirroredStrategy configured by
TF_CONFIG; image folders are sharded by file; each worker backs up to its own folder and
BackupAndRestore resumes after a lost worker.

Written by convplan 0.1.0. The output folder (local or gs://) gets model.keras
(the best weights), serving.keras and export/ (the model with its preprocessing: uint8 images of
any size in, for predict.py and serving), checkpoints/best.keras, logs/ (TensorBoard),
history.csv, metrics.json, config.json (every setting as resolved) and environment.json
(versions and devices). backup/ holds BackupAndRestore's state while training runs (every
epoch, or every --backup-every steps); SIGTERM (a preempted VM) saves it and stops, and the same
command started again resumes. Workers other than the chief write to OUTPUT_DIR/workers/<task>/.
"""

import argparse
import importlib.util
import json
import math
import os
import signal
import sys

import keras

import callbacks as training_callbacks
import data
import devices
import files
from model import INPUT_SHAPE, NUM_CLASSES, build_model

DEFAULT_BATCH_SIZE = 64
DROP_REMAINDER = True
DEFAULT_TPU = 'none'
AUGMENTATIONS = ('none',)
SEGMENTATION = True
REFERENCE_BATCH = 256  # --learning-rate is the peak for this global batch
LR_SCALINGS = {"sqrt": 0.5, "linear": 1.0, "none": 0.0}
TOP_K = 5


class Preempted(RuntimeError):
    """SIGTERM arrived; the backup is saved and the same command resumes."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train the network (see the module docstring).")
    parser.add_argument("--config", default=None, help="a JSON file of settings (flag names "
                        "as keys, dashes or underscores); flags given here win")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                        help="per replica; the global batch is this times the replicas")
    parser.add_argument("--learning-rate", type=float, default=2e-3,
                        help=f"peak learning rate at a global batch of {REFERENCE_BATCH}")
    parser.add_argument("--lr-scaling", choices=LR_SCALINGS, default="sqrt",
                        help="peak = learning rate x (global batch / 256) ** (1/2 | 1 | 0)")
    parser.add_argument("--schedule", choices=("cosine", "constant"), default="cosine")
    parser.add_argument("--warmup-epochs", type=float, default=1.0)
    parser.add_argument("--optimizer", choices=("adamw", "adam"), default="adamw")
    parser.add_argument("--weight-decay", type=float, default=1e-4, help="AdamW's")
    parser.add_argument("--label-smoothing", type=float, default=0.0)
    parser.add_argument("--gradient-accumulation", type=int, default=1,
                        help="apply the gradients of this many batches at once")
    parser.add_argument("--dataset", choices=data.DATASETS, default=None,
                        help=f"default: folder with --data-dir, else {data.DEFAULT_DATASET}")
    parser.add_argument("--data-dir", default=None, help="an image folder (local or gs://)")
    parser.add_argument("--cache", default="auto",
                        help="auto (in-memory data only), none, memory, or a cache file path")
    parser.add_argument("--validation-split", type=float, default=None,
                        help="fraction held out of folder and synthetic data (default 0.2)")
    parser.add_argument("--output-dir", default="runs/latest")
    parser.add_argument("--precision", choices=devices.PRECISIONS, default="auto",
                        help="auto: mixed_bfloat16 on TPU, mixed_float16 on GPUs of compute "
                             "capability >= 7.0, else float32")
    parser.add_argument("--jit-compile", action=argparse.BooleanOptionalAction, default=None,
                        help="XLA; default: what the backend and strategy can take")
    parser.add_argument("--steps-per-execution", type=int, default=None,
                        help=f"default: {devices.TARGET_STEPS_PER_EXECUTION} where the strategy "
                             "takes it, else 1")
    parser.add_argument("--tpu", default=DEFAULT_TPU,
                        help="TPU name or grpc:// address, 'local', 'auto' (TPU_NAME, then this "
                             "VM's TPU), 'none'")
    parser.add_argument("--cpu-replicas", type=int, default=1,
                        help="split the CPU into this many devices and mirror over them "
                             "(TensorFlow): a stand-in for several GPUs")
    parser.add_argument("--steps-per-epoch", type=int, default=None, help="default: one pass")
    parser.add_argument("--augment", choices=AUGMENTATIONS, default="none",
                        help="random translations, and horizontal flips with 'flip'")
    parser.add_argument("--patience", type=int, default=5,
                        help="EarlyStopping: epochs without a better validation loss")
    parser.add_argument("--backup-every", type=int, default=None,
                        help="BackupAndRestore every this many steps (default: every epoch)")
    parser.add_argument("--profile-steps", default=None,
                        help="START,STOP: profile these steps into logs/ (TensorBoard)")
    parser.add_argument("--synthetic-size", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.config:
        given = {a.dest for a in parser._actions if any(o in (argv or sys.argv[1:])
                                                        for o in a.option_strings)}
        settings = json.loads(files.read_bytes(args.config))
        for key, value in settings.items():
            dest = key.replace("-", "_")
            if not hasattr(args, dest) or dest == "config":
                parser.error(f"--config {args.config}: unknown setting {key!r}")
            if dest not in given:
                setattr(args, dest, value)
    for name in ("epochs", "batch_size", "synthetic_size", "patience", "gradient_accumulation",
                 "cpu_replicas"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    for name in ("steps_per_epoch", "steps_per_execution", "backup_every"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if not 0.0 <= args.label_smoothing < 1.0:
        parser.error("--label-smoothing must be in [0, 1)")
    return args


def task_id() -> tuple[bool, str]:
    """(is this process the chief, its task name) from TF_CONFIG; a lone process is the chief."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = config.get("task", {})
    kind, index = task.get("type", "worker"), int(task.get("index", 0))
    chief = kind == "chief" or (kind == "worker" and index == 0
                                and "chief" not in config.get("cluster", {}))
    return chief, f"{kind}-{index}"


def run_dir(output_dir: str) -> str:
    """The chief writes to the output folder, every other worker to its own below it (two
    processes must never write the same file)."""
    chief, task = task_id()
    return output_dir if chief else files.join(output_dir, "workers", task)


def follow_chief_backup(output_dir: str, run: str) -> None:
    """Make a worker's backup the chief's before training, so every worker resumes at the same
    epoch (each backs up at its own epoch end, and a worker can die between two of them).
    Assumes --output-dir is on storage every worker sees, as a shared run folder is."""
    if run == output_dir:
        return
    chief_backup, own = files.join(output_dir, "backup"), files.join(run, "backup")
    files.rmtree(own)
    if files.isdir(chief_backup):
        files.copytree(chief_backup, own)


def peak_learning_rate(args: argparse.Namespace, global_batch: int) -> float:
    return args.learning_rate * (global_batch / REFERENCE_BATCH) ** LR_SCALINGS[args.lr_scaling]


def make_optimizer(args: argparse.Namespace, peak: float, steps_per_epoch: int):
    """AdamW (or Adam) with a linear warm-up to `peak`, then cosine decay to zero."""
    updates = max(1, steps_per_epoch * args.epochs // args.gradient_accumulation)
    warmup = min(updates - 1, round(args.warmup_epochs * steps_per_epoch
                                    / args.gradient_accumulation))
    rate = peak
    if args.schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(
            0.0 if warmup else peak, decay_steps=max(1, updates - warmup),
            warmup_target=peak if warmup else None, warmup_steps=warmup)
    accumulate = args.gradient_accumulation if args.gradient_accumulation > 1 else None
    if args.optimizer == "adamw":
        return keras.optimizers.AdamW(rate, weight_decay=args.weight_decay,
                                      gradient_accumulation_steps=accumulate)
    return keras.optimizers.Adam(rate, gradient_accumulation_steps=accumulate)


@keras.saving.register_keras_serializable(package="project")
class SparseCrossentropy(keras.losses.Loss):
    """Sparse categorical cross-entropy with label smoothing (Keras's sparse loss has none):
    the labels one-hot, then categorical cross-entropy."""

    def __init__(self, label_smoothing: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        labels = keras.ops.one_hot(keras.ops.squeeze(keras.ops.cast(y_true, "int32"), -1)
                                   if len(y_true.shape) == len(y_pred.shape) else
                                   keras.ops.cast(y_true, "int32"), NUM_CLASSES)
        return keras.losses.categorical_crossentropy(
            labels, y_pred, from_logits=False, label_smoothing=self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


def make_loss(label_smoothing: float = 0.0, weighted_mean: bool = False):
    """Keras's own sparse loss without smoothing; the one-hot one with smoothing, and for
    segmentation on PyTorch: there Keras's sparse loss calls nll_loss on a moved (non-contiguous)
    4-D tensor, whose backward fails in torch <= 2.13 ("grad_input must be contiguous",
    pytorch/pytorch#175084)."""
    reduction = "mean_with_sample_weight" if weighted_mean else "sum_over_batch_size"
    torch_segmentation = SEGMENTATION and keras.backend.backend() == "torch"
    if label_smoothing == 0.0 and not torch_segmentation:
        return keras.losses.SparseCategoricalCrossentropy(from_logits=False,
                                                          reduction=reduction)
    return SparseCrossentropy(label_smoothing, reduction=reduction)


def make_metrics() -> list:
    """Accuracy, and top-k accuracy or mean IoU where the task has them."""
    found = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    if SEGMENTATION:
        found.append(keras.metrics.MeanIoU(NUM_CLASSES, sparse_y_pred=False, name="mean_iou"))
    elif NUM_CLASSES > TOP_K:
        found.append(keras.metrics.SparseTopKCategoricalAccuracy(TOP_K, name=f"top{TOP_K}"))
    return found


def serving_model(model: keras.Model) -> keras.Model:
    """The trained model behind its preprocessing: uint8 (or float 0-255) images of any size
    with the model's channels -> resized, scaled to [0, 1] -> the model."""
    images = keras.Input((None, None, INPUT_SHAPE[-1]), name="pixels")
    x = keras.layers.Resizing(*INPUT_SHAPE[:2], name="resize")(images)
    x = keras.layers.Rescaling(1 / 255, name="scale")(x)
    return keras.Model(images, model(x), name="serving")


def export(model: keras.Model, run: str) -> list[str]:
    """serving.keras (any backend), and export/ as a SavedModel where TensorFlow is installed,
    on TensorFlow and JAX (jax2tf); Keras's PyTorch export cannot trace the free image size."""
    serving = serving_model(model)
    serving.save(files.join(run, "serving.keras"))
    if importlib.util.find_spec("tensorflow") is None or keras.backend.backend() == "torch":
        print("no export/ SavedModel (needs TensorFlow, and the tensorflow or jax backend)")
        return ["serving.keras"]
    serving.export(files.join(run, "export"), verbose=False)
    return ["serving.keras", "export"]


def final_metrics(history: keras.callbacks.History) -> dict[str, float | None]:
    logs = history.history
    names = ["loss", *(m.name for m in make_metrics())]
    return {key: (float(logs[key][-1]) if logs.get(key) else None)
            for name in names for key in (name, f"val_{name}")}


def profile_range(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    start, _, stop = text.partition(",")
    return int(start), int(stop or start)


def train(args: argparse.Namespace, runtime: devices.Runtime) -> dict:
    keras.utils.set_random_seed(args.seed)
    global_batch = args.batch_size * runtime.replicas
    train_data, val_data = data.load(args.dataset, args.data_dir, args.validation_split,
                                     args.seed, args.synthetic_size)
    dataset = args.dataset or ("folder" if args.data_dir else data.DEFAULT_DATASET)
    # A TPU needs static shapes, and so does a batch split over several JAX devices (each
    # device's share must be whole).
    static = runtime.accelerator == "TPU" or runtime.distribution is not None
    drop = DROP_REMAINDER or static
    if drop and len(train_data) < global_batch:
        raise data.DataError(f"{len(train_data)} training examples make no full batch of "
                             f"{global_batch}; lower --batch-size")
    def make(source, **kw):
        kw.update(cache=args.cache, seed=args.seed)
        if runtime.strategy is None:
            return data.make_pipeline(source, global_batch, **kw)
        import tf_pipeline

        return tf_pipeline.distributed(runtime.strategy, source, global_batch, **kw)

    train_ds = make(train_data, training=True, drop_remainder=drop, augment=args.augment)
    # Static shapes keep the last validation batch: padded with zero-weight examples.
    val_ds = None if val_data is None else make(val_data, training=False, drop_remainder=False,
                                                pad_to_batch=static)
    batches = len(train_data) // global_batch if drop else math.ceil(len(train_data) / global_batch)
    steps = min(batches, args.steps_per_epoch or batches)
    peak = peak_learning_rate(args, global_batch)
    with runtime.scope():
        model = build_model()
        model.compile(
            optimizer=make_optimizer(args, peak, steps),
            loss=make_loss(args.label_smoothing, weighted_mean=static),
            weighted_metrics=make_metrics(),
            jit_compile=runtime.jit_compile,
            steps_per_execution=runtime.steps_per_execution,
        )
    run = run_dir(args.output_dir)
    files.makedirs(run)
    follow_chief_backup(args.output_dir, run)
    resolved = {**vars(args), "dataset": dataset, "global_batch_size": global_batch,
                "peak_learning_rate": peak, **runtime.describe()}
    files.write_json(files.join(run, "config.json"), resolved)
    files.write_text(files.join(run, "environment.json"), devices.environment_json(runtime))
    for note in runtime.notes:
        print(note)
    print(f"{runtime.backend}, {runtime.strategy_name}: {runtime.replicas} replica(s), global "
          f"batch {global_batch}, {runtime.policy}, XLA {'on' if runtime.jit_compile else 'off'}, "
          f"{runtime.steps_per_execution} step(s) per execution; {len(train_data)} training "
          f"and {len(val_data or ())} validation examples from {dataset}")
    callbacks = training_callbacks.make(run, patience=args.patience, validated=val_ds is not None,
                                        backup_every=args.backup_every,
                                        profile=profile_range(args.profile_steps))
    preemption = next(c for c in callbacks if isinstance(c, training_callbacks.PreemptibleBackup))
    previous = signal.signal(signal.SIGTERM, preemption.request_stop)
    try:
        history = model.fit(train_ds, validation_data=val_ds, epochs=args.epochs,
                            steps_per_epoch=args.steps_per_epoch, callbacks=callbacks,
                            shuffle=False, verbose=2)  # the pipeline shuffles
    finally:
        signal.signal(signal.SIGTERM, previous)
    if preemption.preempted:
        raise Preempted(f"stopped by SIGTERM; the backup is in {files.join(run, 'backup')}")
    model.save(files.join(run, "model.keras"))
    exported = export(model, run)
    metrics = {
        **final_metrics(history),
        "epochs_completed": history.epoch[-1] + 1 if history.epoch else 0,
        "epochs_requested": args.epochs,
        "dataset": dataset,
        "global_batch_size": global_batch,
        "peak_learning_rate": peak,
        "exported": exported,
        **runtime.describe(),
    }
    files.write_json(files.join(run, "metrics.json"), metrics)
    return metrics


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    runtime = devices.resolve(args.tpu, args.precision, args.jit_compile,
                              args.steps_per_execution, args.cpu_replicas)
    keras.config.set_dtype_policy(runtime.policy)
    try:
        return train(args, runtime)
    finally:
        keras.config.set_dtype_policy("float32")


if __name__ == "__main__":
    try:
        result = main()
    except (data.DataError, devices.DeviceError) as error:
        sys.exit(f"train.py: {error}")
    except Preempted as stopped:
        print(f"train.py: {stopped}", file=sys.stderr)
        sys.exit(128 + signal.SIGTERM)
    print(json.dumps(result, indent=2))
