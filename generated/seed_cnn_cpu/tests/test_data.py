"""data.py: the image-folder pipeline on a tiny folder made here, and synthetic data, give
batches the model takes."""

import numpy as np
import pytest
import tensorflow as tf

import data
from model import INPUT_SHAPE, NUM_CLASSES, build_model


def make_folder(root, classes=NUM_CLASSES, per_class=3):
    """RGB PNGs of another size than the model's input, one subfolder per class."""
    rng = np.random.default_rng(0)
    height, width = INPUT_SHAPE[0] + 5, INPUT_SHAPE[1] + 3
    for k in range(classes):
        folder = root / f"class_{k:03d}"
        folder.mkdir(parents=True)
        for i in range(per_class):
            pixels = tf.constant(rng.integers(0, 256, (height, width, 3)), dtype=tf.uint8)
            (folder / f"{i}.png").write_bytes(tf.io.encode_png(pixels).numpy())
    return classes * per_class


def test_the_folder_pipeline_gives_model_sized_images(tmp_path):
    total = make_folder(tmp_path)
    train, held_out = data.load("folder", str(tmp_path), validation_split=0.2, seed=1)
    assert int(train.cardinality()) + int(held_out.cardinality()) == total
    batches = data.make_pipeline(train, 4, training=True, drop_remainder=True, augment="translate")
    images, labels = next(iter(batches))
    assert tuple(images.shape) == (4, *INPUT_SHAPE) and images.dtype == tf.float32
    assert 0.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 1.0
    labels = np.asarray(labels).reshape(-1)
    assert ((0 <= labels) & (labels < NUM_CLASSES)).all()
    assert build_model()(images).shape[0] == 4


def test_a_folder_with_another_class_count_is_refused(tmp_path):
    make_folder(tmp_path, classes=NUM_CLASSES + 1, per_class=1)
    with pytest.raises(data.DataError, match="class folder"):
        data.load("folder", str(tmp_path))


def test_synthetic_batches_fit_the_model():
    train, held_out = data.load("synthetic", synthetic_size=20, seed=3)
    assert int(train.cardinality()) == 16 and int(held_out.cardinality()) == 4
    images, labels = next(iter(data.make_pipeline(train, 8, training=True, drop_remainder=True)))
    predictions = build_model()(images)
    assert tuple(images.shape) == (8, *INPUT_SHAPE)
    assert predictions.shape[0] == labels.shape[0] == 8
