"""data.py: the image-folder pipeline on a tiny folder made here, and synthetic data, give
batches the model takes."""

import numpy as np
import pytest
import tensorflow as tf

import data
from model import INPUT_SHAPE, NUM_CLASSES, build_model

SIZES = [(INPUT_SHAPE[0] + 7, INPUT_SHAPE[1] + 3), (INPUT_SHAPE[0] // 2 + 1, INPUT_SHAPE[1] // 2)]


def write_png(path, array):
    path.write_bytes(tf.io.encode_png(tf.constant(array, dtype=tf.uint8)).numpy())


def make_folder(root, count=5):
    """Images of other sizes, in RGB, with masks holding class indices."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(count):
        height, width = SIZES[i % len(SIZES)]
        write_png(root / "images" / f"{i}.png", rng.integers(0, 256, (height, width, 3)))
        write_png(root / "masks" / f"{i}.png", rng.integers(0, NUM_CLASSES, (height, width, 1)))
    return count


def test_the_folder_pipeline_gives_model_sized_images_and_masks(tmp_path):
    total = make_folder(tmp_path)
    train, held_out = data.load("folder", str(tmp_path), validation_split=0.4, seed=1)
    assert int(train.cardinality()) + int(held_out.cardinality()) == total
    images, masks = next(iter(data.make_pipeline(train, 2, training=True, drop_remainder=True)))
    assert tuple(images.shape) == (2, *INPUT_SHAPE) and images.dtype == tf.float32
    assert 0.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 1.0
    assert tuple(masks.shape) == (2, *INPUT_SHAPE[:2], 1)
    assert 0 <= int(tf.reduce_min(masks)) and int(tf.reduce_max(masks)) < NUM_CLASSES
    assert build_model()(images).shape[:3] == masks.shape[:3]


def test_an_image_without_a_mask_is_refused(tmp_path):
    make_folder(tmp_path, count=2)
    (tmp_path / "masks" / "1.png").unlink()
    with pytest.raises(data.DataError, match="no mask"):
        data.load("folder", str(tmp_path))


def test_synthetic_batches_fit_the_model():
    train, held_out = data.load("synthetic", synthetic_size=20, seed=3)
    assert int(train.cardinality()) == 16 and int(held_out.cardinality()) == 4
    images, labels = next(iter(data.make_pipeline(train, 8, training=True, drop_remainder=True)))
    predictions = build_model()(images)
    assert tuple(images.shape) == (8, *INPUT_SHAPE)
    assert predictions.shape[0] == labels.shape[0] == 8
