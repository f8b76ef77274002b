"""The callbacks of a run: a backup that survives preemption, the best checkpoint, logs.

- PreemptibleBackup: BackupAndRestore (double checkpoint; every epoch or every N steps) that,
  after SIGTERM, saves at the next step, stops training and keeps the backup, which Keras
  would otherwise delete at the end of fit. Keras resumes at the start of the saved epoch,
  with the weights of the saved step;
- ModelCheckpoint: checkpoints/best.keras by validation loss;
- EarlyStopping with restore_best_weights, so model.keras and the export are the best epoch's;
- CSVLogger (appending when a run resumes) and TensorBoard (when tensorboard and TensorFlow
  are installed), profiling a step range with --profile-steps on the TensorFlow backend.
"""

import importlib.util

import keras

import files


class PreemptibleBackup(keras.callbacks.BackupAndRestore):
    """BackupAndRestore that saves and stops on request (the SIGTERM handler)."""

    def __init__(self, backup_dir: str, save_freq="epoch"):
        super().__init__(backup_dir, save_freq=save_freq, double_checkpoint=True)
        self.stop_requested = False
        self.preempted = False

    def request_stop(self, signum=None, frame=None) -> None:
        """Safe in a signal handler: only sets a flag that the next step reads."""
        self.stop_requested = True

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        if self.stop_requested and not self.preempted:
            self._last_batch_seen = batch
            self._save_model()
            self.preempted = True
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if not self.preempted:
            super().on_train_end(logs)


def make(run: str, *, patience: int, validated: bool, backup_every: int | None = None,
         profile: tuple[int, int] | None = None) -> list[keras.callbacks.Callback]:
    backup = files.join(run, "backup")
    resuming = files.exists(files.join(backup, "training_metadata.json"))
    monitor = "val_loss" if validated else "loss"
    files.makedirs(files.join(run, "checkpoints"))
    callbacks = [
        PreemptibleBackup(backup, save_freq=backup_every or "epoch"),
        keras.callbacks.ModelCheckpoint(files.join(run, "checkpoints", "best.keras"),
                                        monitor=monitor, save_best_only=True),
        keras.callbacks.CSVLogger(files.join(run, "history.csv"), append=resuming),
        keras.callbacks.EarlyStopping(monitor=monitor, patience=patience,
                                      restore_best_weights=True),
    ]
    installed = [importlib.util.find_spec(m) is not None for m in ("tensorboard", "tensorflow")]
    if all(installed):  # tf.summary writes the logs, whatever the backend
        tensorflow = keras.backend.backend() == "tensorflow"
        if profile is not None and not tensorflow:
            print("--profile-steps profiles on the TensorFlow backend only")
        callbacks.append(keras.callbacks.TensorBoard(
            files.join(run, "logs"), profile_batch=profile if profile and tensorflow else 0))
    else:
        print("tensorboard and tensorflow are needed for logs/ (pip install tensorboard "
              "tensorflow-cpu)")
    return callbacks
