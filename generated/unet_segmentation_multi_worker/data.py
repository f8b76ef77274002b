"""Input pipelines as tf.data: keras.datasets, an image folder, or synthetic data.

Every source yields (image, label) pairs with float32 images in [0, 1] at the model's input
shape (None, 64, 64, 1): other sizes are resized (bilinear) and other channel
counts converted (grayscale <-> RGB). Labels are per-pixel masks of shape
(height, width, 1) holding class indices.
- folder: `DATA_DIR/images/*.png|jpg` and `DATA_DIR/masks/<same file name>` (a grayscale image
  whose pixel values are class indices),
  split by --validation-split (default 0.2);
- synthetic: random images, each with one rectangle of one class on background 0, and their
  masks; a quick way to see the whole path run.

`make_pipeline` caches, shuffles (training only), batches, augments (training only, as Keras
preprocessing layers) and prefetches.
"""

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from model import INPUT_SHAPE, NUM_CLASSES

TASK = 'segmentation'
BINARY = False
DATASETS = ('folder', 'synthetic')
DEFAULT_DATASET = 'synthetic'
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


def split_indices(count: int, validation_split: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded shuffle of range(count), cut into (train, validation)."""
    order = np.random.default_rng(seed).permutation(count)
    held_out = int(round(count * validation_split))
    return order[held_out:], order[:held_out]


def read_pair(image_path: tf.Tensor, mask_path: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    image = tf.io.decode_image(tf.io.read_file(image_path), channels=INPUT_SHAPE[-1],
                               expand_animations=False)
    image.set_shape((None, None, INPUT_SHAPE[-1]))
    mask = tf.io.decode_image(tf.io.read_file(mask_path), channels=1, expand_animations=False)
    mask.set_shape((None, None, 1))
    mask = tf.image.resize(mask, INPUT_SHAPE[:2], method="nearest")
    return to_model_input(image), to_labels(mask)


def to_labels(mask: tf.Tensor) -> tf.Tensor:
    """Mask pixels -> per-pixel labels of shape (height, width, 1)."""
    if BINARY:
        return tf.cast(mask > 0, tf.float32)
    mask = tf.cast(mask, tf.int32)
    tf.debugging.assert_less(mask, NUM_CLASSES, message="a mask pixel is not a class index")
    return mask


def load_folder(data_dir: str, validation_split: float, seed: int
                ) -> tuple[tf.data.Dataset, tf.data.Dataset | None]:
    """DATA_DIR/images and DATA_DIR/masks with the same file names."""
    images_dir, masks_dir = Path(data_dir) / "images", Path(data_dir) / "masks"
    if not images_dir.is_dir() or not masks_dir.is_dir():
        raise DataError(f"{data_dir} needs an images/ and a masks/ subfolder")
    names = sorted(p.name for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not names:
        raise DataError(f"{images_dir} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    missing = [n for n in names if not (masks_dir / n).is_file()]
    if missing:
        raise DataError(f"{len(missing)} image(s) have no mask of the same name in {masks_dir}, "
                        f"e.g. {missing[0]}")
    images = np.array([str(images_dir / n) for n in names])
    masks = np.array([str(masks_dir / n) for n in names])
    train, held_out = split_indices(len(names), validation_split, seed)

    def make(index: np.ndarray) -> tf.data.Dataset:
        dataset = tf.data.Dataset.from_tensor_slices((images[index], masks[index]))
        return dataset.map(read_pair, num_parallel_calls=AUTOTUNE)

    return make(train), make(held_out) if len(held_out) else None


def synthetic_arrays(size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images with one rectangle each (a random class from 1 on background 0) and their masks."""
    rng = np.random.default_rng(seed)
    height, width, channels = INPUT_SHAPE
    classes = rng.integers(1, NUM_CLASSES, size) if NUM_CLASSES > 2 else np.ones(size, int)
    top, left = rng.integers(0, height // 2, size), rng.integers(0, width // 2, size)
    bottom = top + rng.integers(height // 4, height // 2 + 1, size)
    right = left + rng.integers(width // 4, width // 2 + 1, size)
    rows = np.arange(height)[None, :, None]
    cols = np.arange(width)[None, None, :]
    inside = ((rows >= top[:, None, None]) & (rows < bottom[:, None, None])
              & (cols >= left[:, None, None]) & (cols < right[:, None, None]))
    masks = (inside * classes[:, None, None])[..., None]
    brightness = (masks / max(NUM_CLASSES - 1, 1)) * 0.75
    images = rng.uniform(0.0, 0.25, (size, height, width, channels)) + brightness
    labels = masks.astype("float32") if BINARY else masks.astype("int32")
    return images.astype("float32"), labels


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
    raise DataError(f"no loader for {name!r}")


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
