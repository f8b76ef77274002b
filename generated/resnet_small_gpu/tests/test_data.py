"""data.py on the Keras backend in use: an image folder made here (other sizes, RGB) streams
model-sized batches, `--data-dir` alone means the folder, files shard evenly by file,
validation is padded (not dropped) where shapes are static, synthetic data fits the model."""

import keras
import numpy as np
import pytest
from PIL import Image

import data
from model import INPUT_SHAPE, NUM_CLASSES, build_model

BACKEND = keras.backend.backend()


def write_png(path, array):
    Image.fromarray(np.asarray(array, np.uint8).squeeze()).save(path)


def make_folder(root, classes=NUM_CLASSES, per_class=3):
    """RGB PNGs of another size than the model's input, one subfolder per class."""
    rng = np.random.default_rng(0)
    height, width = INPUT_SHAPE[0] + 5, INPUT_SHAPE[1] + 3
    for k in range(classes):
        folder = root / f"class_{k:03d}"
        folder.mkdir(parents=True)
        for i in range(per_class):
            write_png(folder / f"{i}.png", rng.integers(0, 256, (height, width, 3)))
    return classes * per_class


@pytest.mark.parametrize("augment", ["none", "translate"])
def test_the_folder_pipeline_gives_model_sized_images(tmp_path, augment):
    total = make_folder(tmp_path)
    train, held_out = data.load(None, str(tmp_path), validation_split=0.2, seed=1)
    assert isinstance(train, data.Files) and len(train) + len(held_out) == total
    batches = data.make_pipeline(train, 4, training=True, drop_remainder=True, augment=augment)
    images, labels = data.first_batch(batches)
    assert images.shape == (4, *INPUT_SHAPE) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0 + 1e-6
    labels = labels.reshape(-1)
    assert ((0 <= labels) & (labels < NUM_CLASSES)).all()
    assert build_model()(images).shape[0] == 4


def test_a_folder_with_another_class_count_is_refused(tmp_path):
    make_folder(tmp_path, classes=NUM_CLASSES + 1, per_class=1)
    with pytest.raises(data.DataError, match="class folder"):
        data.load("folder", str(tmp_path))


def test_a_data_dir_is_not_read_as_another_dataset(tmp_path):
    with pytest.raises(data.DataError, match="image folder"):
        data.load("synthetic", str(tmp_path))


def test_files_shard_by_file_evenly():
    source = data.Files(tuple(f"{i}.png" for i in range(11)), tuple(range(11)))
    shards = [source.shard(3, i) for i in range(3)]
    assert [len(s) for s in shards] == [3, 3, 3]  # the tail of 2 is left out
    read = [p for s in shards for p in s.paths]
    assert len(set(read)) == len(read) == 9


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.data's input contexts")
def test_each_worker_reads_only_its_own_files(tmp_path):
    import tensorflow as tf

    import tf_pipeline

    make_folder(tmp_path)
    source, _ = data.load(None, str(tmp_path), validation_split=0.0)
    seen = []
    for worker in range(2):
        context = tf.distribute.InputContext(2, worker, 2)
        shard = source.shard(2, worker)
        dataset = tf_pipeline.per_worker(source, 2, context, training=False, drop_remainder=True)
        assert sum(int(x.shape[0]) for x, _ in dataset) == len(shard)
        seen += list(shard.paths)
    assert len(set(seen)) == len(seen) == len(source) // 2 * 2


@pytest.mark.parametrize("size", [5, 21])
def test_padded_validation_keeps_every_example(size):
    _, held_out = data.load("synthetic", synthetic_size=size * 2, validation_split=0.5, seed=2)
    pipeline = data.make_pipeline(held_out, 8, training=False, drop_remainder=False,
                                  pad_to_batch=True)
    batches = [pipeline[i] for i in range(len(pipeline))] if BACKEND != "tensorflow" \
        else [tuple(keras.ops.convert_to_numpy(p) for p in b) for b in pipeline]
    assert all(images.shape[0] == 8 for images, _, _ in batches)  # static shapes
    per_example = [w.reshape(w.shape[0], -1)[:, 0] for _, _, w in batches]  # per pixel: equal
    assert sum(float(w.sum()) for w in per_example) == size


def test_synthetic_batches_fit_the_model():
    train, held_out = data.load("synthetic", synthetic_size=20, seed=3)
    assert len(train) == 16 and len(held_out) == 4
    images, labels = data.first_batch(data.make_pipeline(train, 8, training=True,
                                                         drop_remainder=True))
    predictions = build_model()(images)
    assert images.shape == (8, *INPUT_SHAPE)
    assert predictions.shape[0] == labels.shape[0] == 8
