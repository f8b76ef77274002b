"""Input pipelines as tf.data: keras.datasets, an image folder, or synthetic data.

Every source yields (image, label) pairs with float32 images in [0, 1] at the model's input
shape (None, 28, 28, 1): other sizes are resized (bilinear) and other channel
counts converted (grayscale <-> RGB). Labels are
class indices.
- mnist: keras.datasets.mnist (downloaded once), validated on its test split;
- fashion_mnist: keras.datasets.fashion_mnist (downloaded once), validated on its test split;
- cifar10: keras.datasets.cifar10 (downloaded once), validated on its test split;
- folder: `DATA_DIR/<class name>/*.png|jpg|bmp|gif`, one subfolder per class (sorted names
  give the class indices), split by --validation-split (default 0.2);
- synthetic: random images whose class brightens one band of rows, so the model can learn it.
Downloads go to ~/.keras/datasets.

`make_pipeline` caches, shuffles (training only), batches, augments (training only, as Keras
preprocessing layers) and prefetches.
"""

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from model import INPUT_SHAPE, NUM_CLASSES

TASK = 'classification'
BINARY = False
DATASETS = ('mnist', 'fashion_mnist', 'cifar10', 'folder', 'synthetic')
DEFAULT_DATASET = 'fashion_mnist'
COLOR_MODE = 'grayscale'
DEFAULT_VALIDATION_SPLIT = 0.2
SHUFFLE_BUFFER = 10_000
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
AUTOTUNE = tf.data.AUTOTUNE


class DataError(ValueError):
    """A dataset that does not fit this model, explained in one line."""


def match_channels(images: tf.Tensor, channels: int) -> tf.Tensor:
    """Convert the last axis to `channels`: grayscale <-> RGB, alpha dropped or added (opaque)."""
    have = images.shape[-1]
    if have == channels:
        return images
    if have == 4:
        images, have = images[..., :3], 3
    if have == 3 and channels == 1:
        return tf.image.rgb_to_grayscale(images)
    if have == 1:
        images = tf.image.grayscale_to_rgb(images)
    if channels == 4:
        images = tf.concat([images, tf.ones_like(images[..., :1])], axis=-1)
    return images


def to_model_input(images: tf.Tensor) -> tf.Tensor:
    """Pixels in [0, 255] (uint8 or float, any size, 1, 3 or 4 channels) -> float32 in [0, 1]
    at INPUT_SHAPE."""
    images = match_channels(tf.cast(images, tf.float32) / 255.0, INPUT_SHAPE[-1])
    if tuple(images.shape[-3:-1]) != INPUT_SHAPE[:2]:
        images = tf.image.resize(images, INPUT_SHAPE[:2])
    return images


def load_keras_dataset(name: str) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """keras.datasets.<name>: (train, test), the test split used for validation."""
    (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, name).load_data()

    def make(images: np.ndarray, labels: np.ndarray) -> tf.data.Dataset:
        if images.ndim == 3:
            images = images[..., None]
        labels = labels.reshape(-1).astype("int32")
        dataset = tf.data.Dataset.from_tensor_slices((images, labels))
        return dataset.map(lambda x, y: (to_model_input(x), y), num_parallel_calls=AUTOTUNE)

    return make(x_train, y_train), make(x_test, y_test)


def split_indices(count: int, validation_split: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded shuffle of range(count), cut into (train, validation)."""
    order = np.random.default_rng(seed).permutation(count)
    held_out = int(round(count * validation_split))
    return order[held_out:], order[:held_out]


def load_folder(data_dir: str, validation_split: float, seed: int
                ) -> tuple[tf.data.Dataset, tf.data.Dataset | None]:
    """One subfolder per class; images resized to the input and converted to its channels."""
    directory = Path(data_dir)
    if not directory.is_dir():
        raise DataError(f"--data-dir {data_dir} is not a folder")
    classes = sorted(p.name for p in directory.iterdir() if p.is_dir())
    if len(classes) != NUM_CLASSES:
        raise DataError(f"{data_dir} has {len(classes)} class folder(s) ({', '.join(classes[:5])}"
                        f"{', ...' if len(classes) > 5 else ''}); this model predicts "
                        f"{NUM_CLASSES} classes")
    split = validation_split if validation_split > 0 else None
    loaded = keras.utils.image_dataset_from_directory(
        str(directory), labels="inferred", label_mode="binary" if BINARY else "int",
        class_names=classes, color_mode=COLOR_MODE, image_size=INPUT_SHAPE[:2],
        batch_size=None, shuffle=True, seed=seed, validation_split=split,
        subset="both" if split else None, verbose=False)
    train, held_out = loaded if split else (loaded, None)

    def scale(dataset: tf.data.Dataset) -> tf.data.Dataset:
        return dataset.map(lambda x, y: (x / 255.0, y), num_parallel_calls=AUTOTUNE)

    return scale(train), scale(held_out) if held_out is not None else None


def synthetic_arrays(size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noise images; class k brightens every NUM_CLASSES-th band of rows starting at band k."""
    rng = np.random.default_rng(seed)
    height = INPUT_SHAPE[0]
    labels = rng.integers(0, NUM_CLASSES, size)
    band = max(height // NUM_CLASSES, 1)
    lit = (np.arange(height)[None, :] // band) % NUM_CLASSES == labels[:, None]
    images = rng.uniform(0.0, 0.5, (size, *INPUT_SHAPE)) + 0.5 * lit[:, :, None, None]
    if BINARY:
        return images.astype("float32"), labels.astype("float32")[:, None]
    return images.astype("float32"), labels.astype("int32")


def load_synthetic(size: int, validation_split: float, seed: int
                   ) -> tuple[tf.data.Dataset, tf.data.Dataset | None]:
    images, labels = synthetic_arrays(size, seed)
    train, held_out = split_indices(size, validation_split, seed)

    def make(index: np.ndarray) -> tf.data.Dataset:
        return tf.data.Dataset.from_tensor_slices((images[index], labels[index]))

    return make(train), make(held_out) if len(held_out) else None


def load(name: str, data_dir: str | None = None, validation_split: float | None = None,
         seed: int = 0, synthetic_size: int = 1024
         ) -> tuple[tf.data.Dataset, tf.data.Dataset | None]:
    """(train, validation) datasets of single examples; validation is None for a split of 0."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; this model trains on {', '.join(DATASETS)}")
    if data_dir is not None and name != "folder":
        raise DataError("--data-dir is read only with --dataset folder")
    split = DEFAULT_VALIDATION_SPLIT if validation_split is None else validation_split
    if not 0.0 <= split < 1.0:
        raise DataError(f"--validation-split must be in [0, 1), received {split}")
    if name == "folder":
        if data_dir is None:
            raise DataError("--dataset folder needs --data-dir DIR")
        return load_folder(data_dir, split, seed)
    if name == "synthetic":
        return load_synthetic(synthetic_size, split, seed)
    if validation_split is not None:
        raise DataError(f"{name} is validated on its test split; --validation-split applies to "
                        "folder and synthetic data")
    return load_keras_dataset(name)


def make_augmenter(kind: str, seed: int = 0) -> keras.Sequential | None:
    """'translate': random shifts of up to 10% of the size; 'flip': also horizontal flips."""
    if kind == "none":
        return None
    steps = [keras.layers.RandomTranslation(0.1, 0.1, seed=seed, dtype="float32")]
    if kind == "flip":
        steps.insert(0, keras.layers.RandomFlip("horizontal", seed=seed, dtype="float32"))
    return keras.Sequential(steps, name="augment")


def make_pipeline(dataset: tf.data.Dataset, batch_size: int, *, training: bool,
                  drop_remainder: bool, augment: str = "none", seed: int = 0) -> tf.data.Dataset:
    """cache -> shuffle (training) -> batch -> augment (training) -> prefetch.

    Sharding is by example (AutoShardPolicy.DATA): the sources are in memory or decoded here,
    so there are no files for several workers to split."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    dataset = dataset.with_options(options).cache()
    if training:
        dataset = dataset.shuffle(SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    augmenter = make_augmenter(augment, seed) if training else None
    if augmenter is not None:
        dataset = dataset.map(lambda x, y: (augmenter(x, training=True), y),
                              num_parallel_calls=AUTOTUNE)
    return dataset.prefetch(AUTOTUNE)
