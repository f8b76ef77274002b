"""Input data for every Keras backend: keras.datasets, an image folder, or synthetic data.

Every source gives (image, label) pairs with float32 images in [0, 1] at the model's input
shape (None, 32, 32, 3): other sizes are resized (bilinear) and other channel counts
converted (grayscale <-> RGB). Labels are
class indices.
- mnist: keras.datasets.mnist (downloaded once), validated on its test split;
- fashion_mnist: keras.datasets.fashion_mnist (downloaded once), validated on its test split;
- cifar10: keras.datasets.cifar10 (downloaded once), validated on its test split;
- folder: `DATA_DIR/<class name>/*.png|jpg|bmp|gif`, one subfolder per class (sorted names
  give the class indices), split by --validation-split (default 0.2);
- synthetic: random images whose class brightens one band of rows, so the model can learn it.
Downloads go to ~/.keras/datasets.

Image folders are streamed: only file names are listed here, images are decoded batch by batch
(cached only with --cache), and several workers each read their own files. DATA_DIR may be a
gs:// path (read through tf.io.gfile). `make_pipeline` gives tf.data on the TensorFlow
backend (tf_pipeline.py) and a keras.utils.PyDataset, which needs no TensorFlow, on JAX and
PyTorch; both shuffle (training), batch, augment (training, keras.layers.Pipeline) and can pad
the last batch with zero-weight examples where shapes must stay static.
"""

import io
import math
from dataclasses import dataclass

import keras
import numpy as np

import files
from model import INPUT_SHAPE, NUM_CLASSES

TASK = 'classification'
BINARY = False
DATASETS = ('mnist', 'fashion_mnist', 'cifar10', 'folder', 'synthetic')
DEFAULT_DATASET = 'cifar10'
DEFAULT_VALIDATION_SPLIT = 0.2
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
PIL_MODES = {1: "L", 3: "RGB", 4: "RGBA"}
CACHES = ("auto", "none", "memory")  # or a file path (tf.data only)
DECODE_THREADS = 4


class DataError(ValueError):
    """A dataset that does not fit this model, explained in one line."""


@dataclass(frozen=True)
class Arrays:
    """Examples in memory: uint8 pixels in [0, 255] (any size and channels), or float32 in
    [0, 1] at INPUT_SHAPE when `scaled`."""

    images: np.ndarray
    labels: np.ndarray
    scaled: bool = False

    def __len__(self) -> int:
        return len(self.images)

    def take(self, index: np.ndarray) -> "Arrays":
        return Arrays(self.images[index], self.labels[index], self.scaled)


@dataclass(frozen=True)
class Files:
    """Image files, with a class index each (classification) or a mask file each."""

    paths: tuple[str, ...]
    labels: tuple  # class indices, or mask paths for segmentation

    def __len__(self) -> int:
        return len(self.paths)

    def take(self, index: np.ndarray) -> "Files":
        return Files(tuple(self.paths[i] for i in index), tuple(self.labels[i] for i in index))

    def shard(self, count: int, index: int) -> "Files":
        """Every count-th file from `index`, the same number for every shard (the tail that
        does not divide is left out, so no worker waits for another's last batch)."""
        usable = len(self) // count * count
        return self.take(np.arange(index, usable, count))


def match_channels(images: np.ndarray, channels: int) -> np.ndarray:
    """The last axis as `channels`: grayscale <-> RGB, alpha dropped or added (opaque)."""
    have = images.shape[-1]
    if have == channels:
        return images
    if have == 4:
        images, have = images[..., :3], 3
    if have == 3 and channels == 1:
        weights = np.array([0.2989, 0.5870, 0.1140], images.dtype)  # tf.image.rgb_to_grayscale
        return (images @ weights)[..., None]
    if have == 1:
        images = np.repeat(images, 3, axis=-1)
    if channels == 4:
        images = np.concatenate([images, np.ones_like(images[..., :1])], axis=-1)
    return images


def to_model_input(images: np.ndarray) -> np.ndarray:
    """A batch of pixels in [0, 255] (any size, 1, 3 or 4 channels) -> float32 in [0, 1] at
    INPUT_SHAPE."""
    images = match_channels(np.asarray(images, np.float32) / 255.0, INPUT_SHAPE[-1])
    if tuple(images.shape[-3:-1]) != INPUT_SHAPE[:2]:
        images = keras.ops.convert_to_numpy(keras.ops.image.resize(images, INPUT_SHAPE[:2]))
    return images.astype(np.float32)


def decode(path: str, nearest: bool = False, channels: int = INPUT_SHAPE[-1]) -> np.ndarray:
    """One image file at the input's size (Pillow; bilinear, nearest for masks)."""
    from PIL import Image

    with Image.open(io.BytesIO(files.read_bytes(path))) as image:
        image = image.convert(PIL_MODES[channels])
        method = Image.Resampling.NEAREST if nearest else Image.Resampling.BILINEAR
        image = image.resize((INPUT_SHAPE[1], INPUT_SHAPE[0]), method)
        pixels = np.asarray(image)
    return pixels.reshape(INPUT_SHAPE[0], INPUT_SHAPE[1], channels)


def load_keras_dataset(name: str) -> tuple[Arrays, Arrays]:
    """keras.datasets.<name>: (train, test), the test split used for validation."""
    (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, name).load_data()

    def make(images: np.ndarray, labels: np.ndarray) -> Arrays:
        if images.ndim == 3:
            images = images[..., None]
        return Arrays(images, labels.reshape(-1).astype("int32"))

    return make(x_train, y_train), make(x_test, y_test)


def split_indices(count: int, validation_split: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded shuffle of range(count), cut into (train, validation)."""
    order = np.random.default_rng(seed).permutation(count)
    held_out = int(round(count * validation_split))
    return order[held_out:], order[:held_out]


def image_names(folder: str) -> list[str]:
    return [n for n in files.listdir(folder) if n.lower().endswith(IMAGE_SUFFIXES)]


def list_folder(data_dir: str) -> Files:
    """One subfolder per class (sorted names give the indices); file names only, nothing read."""
    if not files.isdir(data_dir):
        raise DataError(f"--data-dir {data_dir} is not a folder")
    classes = [n for n in files.listdir(data_dir) if files.isdir(files.join(data_dir, n))]
    if len(classes) != NUM_CLASSES:
        raise DataError(f"{data_dir} has {len(classes)} class folder(s) ({', '.join(classes[:5])}"
                        f"{', ...' if len(classes) > 5 else ''}); this model predicts "
                        f"{NUM_CLASSES} classes")
    paths, labels = [], []
    for index, name in enumerate(classes):
        folder = files.join(data_dir, name)
        found = image_names(folder)
        paths += [files.join(folder, n) for n in found]
        labels += [index] * len(found)
    if not paths:
        raise DataError(f"{data_dir}'s class folders hold no images ({', '.join(IMAGE_SUFFIXES)})")
    return Files(tuple(paths), tuple(labels))


def label_array(labels) -> np.ndarray:
    labels = np.asarray(labels)
    return labels.astype("float32")[:, None] if BINARY else labels.astype("int32")


def read_examples(source: Files, index) -> tuple[np.ndarray, np.ndarray]:
    images = np.stack([decode(source.paths[i]) for i in index])
    return to_model_input(images), label_array([source.labels[i] for i in index])


def synthetic_arrays(size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noise images; class k brightens every NUM_CLASSES-th band of rows starting at band k."""
    rng = np.random.default_rng(seed)
    height = INPUT_SHAPE[0]
    labels = rng.integers(0, NUM_CLASSES, size)
    band = max(height // NUM_CLASSES, 1)
    lit = (np.arange(height)[None, :] // band) % NUM_CLASSES == labels[:, None]
    images = rng.uniform(0.0, 0.5, (size, *INPUT_SHAPE)) + 0.5 * lit[:, :, None, None]
    return images.astype("float32"), label_array(labels)


def load(name: str, data_dir: str | None = None, validation_split: float | None = None,
         seed: int = 0, synthetic_size: int = 1024) -> tuple[Arrays | Files, Arrays | Files | None]:
    """(train, validation) sources; validation is None for a split of 0. A `data_dir` without
    a dataset name means the folder."""
    name = "folder" if name is None and data_dir is not None else name or DEFAULT_DATASET
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; this model trains on {', '.join(DATASETS)}")
    if data_dir is not None and name != "folder":
        raise DataError(f"--data-dir is an image folder; it cannot be read as --dataset {name}")
    split = DEFAULT_VALIDATION_SPLIT if validation_split is None else validation_split
    if not 0.0 <= split < 1.0:
        raise DataError(f"--validation-split must be in [0, 1), received {split}")
    if name in ("folder", "synthetic"):
        if name == "folder":
            if data_dir is None:
                raise DataError("--dataset folder needs --data-dir DIR")
            source = list_folder(data_dir)
        else:
            source = Arrays(*synthetic_arrays(synthetic_size, seed), scaled=True)
        train, held_out = split_indices(len(source), split, seed)
        return source.take(train), source.take(held_out) if len(held_out) else None
    if validation_split is not None:
        raise DataError(f"{name} is validated on its test split; --validation-split applies to "
                        "folder and synthetic data")
    return load_keras_dataset(name)


def make_augmenter(kind: str, seed: int = 0) -> keras.layers.Pipeline | None:
    """'translate': random shifts of up to 10% of the size; 'flip': also horizontal flips.
    keras.layers.Pipeline runs in tf.data and on every backend (a Sequential does not)."""
    if kind == "none":
        return None
    steps = [keras.layers.RandomTranslation(0.1, 0.1, seed=seed, dtype="float32")]
    if kind == "flip":
        steps.insert(0, keras.layers.RandomFlip("horizontal", seed=seed, dtype="float32"))
    return keras.layers.Pipeline(steps, name="augment")


def per_output(weights, ops=np):
    """Example weights as the loss needs them: one per pixel for segmentation."""
    if TASK != "segmentation":
        return weights
    return ops.ones((1, *INPUT_SHAPE[:2]), "float32") * weights[:, None, None]


def padding_for(count: int, batch_size: int) -> int:
    """Zero-weight examples that make `count` a whole number of batches."""
    return -count % batch_size


class Batches(keras.utils.PyDataset):
    """Batches of a source without TensorFlow: numpy slices, or files decoded by a few
    threads per batch; reshuffled every epoch (training)."""

    def __init__(self, source: Arrays | Files, batch_size: int, *, training: bool,
                 drop_remainder: bool, augment: str = "none", seed: int = 0,
                 cache: str = "auto", pad_to_batch: bool = False):
        super().__init__(workers=DECODE_THREADS if isinstance(source, Files) else 1)
        self.source, self.batch_size, self.training = source, batch_size, training
        self.drop_remainder, self.pad = drop_remainder, pad_to_batch and not drop_remainder
        self.augmenter = make_augmenter(augment, seed) if training else None
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(source)) if training else np.arange(len(source))
        self.cache = {} if cache == "memory" and isinstance(source, Files) else None

    def __len__(self) -> int:
        count = len(self.source) / self.batch_size
        return math.floor(count) if self.drop_remainder else math.ceil(count)

    def on_epoch_end(self) -> None:
        if self.training:
            self.order = self.rng.permutation(len(self.source))

    def examples(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(self.source, Arrays):
            images, labels = self.source.images[index], self.source.labels[index]
            return (images if self.source.scaled else to_model_input(images)), labels
        if self.cache is None:
            return read_examples(self.source, index)
        missing = [i for i in index if i not in self.cache]
        if missing:
            for i, image, label in zip(missing, *read_examples(self.source, missing), strict=True):
                self.cache[i] = (image, label)
        return tuple(np.stack(part) for part in zip(*(self.cache[i] for i in index), strict=True))

    def __getitem__(self, batch: int):
        if not 0 <= batch < len(self):
            raise IndexError(batch)
        index = self.order[batch * self.batch_size:(batch + 1) * self.batch_size]
        images, labels = self.examples(index)
        if self.augmenter is not None:
            images = keras.ops.convert_to_numpy(self.augmenter(images, training=True))
        if not self.pad:
            return images, labels
        missing = self.batch_size - len(index)
        weights = np.concatenate([np.ones(len(index)), np.zeros(missing)]).astype(np.float32)
        images, labels = (np.concatenate([a, np.zeros((missing, *a.shape[1:]), a.dtype)])
                          for a in (images, labels))
        return images, labels, per_output(weights)


def make_pipeline(source: Arrays | Files, batch_size: int, *, training: bool,
                  drop_remainder: bool, augment: str = "none", seed: int = 0, cache: str = "auto",
                  pad_to_batch: bool = False):
    """tf.data on the TensorFlow backend, a PyDataset elsewhere (module doc). `pad_to_batch`
    yields (x, y, sample_weight) with zero weights for the padding."""
    if keras.backend.backend() == "tensorflow":
        import tf_pipeline

        return tf_pipeline.make_dataset(source, batch_size, training=training,
                                        drop_remainder=drop_remainder, augment=augment,
                                        seed=seed, cache=cache, pad_to_batch=pad_to_batch)
    if cache not in CACHES:
        raise DataError(f"--cache {cache}: a cache file needs the TensorFlow backend; use "
                        "memory or none")
    return Batches(source, batch_size, training=training, drop_remainder=drop_remainder,
                   augment=augment, seed=seed, cache=cache, pad_to_batch=pad_to_batch)


def first_batch(pipeline):
    """The first batch of either kind of pipeline, as numpy arrays."""
    batch = pipeline[0] if isinstance(pipeline, keras.utils.PyDataset) else next(iter(pipeline))
    return tuple(keras.ops.convert_to_numpy(part) for part in batch)
