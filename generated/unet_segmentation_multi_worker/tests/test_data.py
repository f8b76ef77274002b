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


SIZES = [(INPUT_SHAPE[0] + 7, INPUT_SHAPE[1] + 3), (INPUT_SHAPE[0] // 2 + 1, INPUT_SHAPE[1] // 2)]


def make_folder(root, count=5):
    """Images of other sizes, in RGB, with masks holding class indices."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(count):
        height, width = SIZES[i % len(SIZES)]
        write_png(root / "images" / f"{i}.png", rng.integers(0, 256, (height, width, 3)))
        write_png(root / "masks" / f"{i}.png", rng.integers(0, NUM_CLASSES, (height, width)))
    return count


def test_the_folder_pipeline_gives_model_sized_images_and_masks(tmp_path):
    total = make_folder(tmp_path)
    train, held_out = data.load(None, str(tmp_path), validation_split=0.4, seed=1)
    assert isinstance(train, data.Files) and len(train) + len(held_out) == total
    images, masks = data.first_batch(data.make_pipeline(train, 2, training=True,
                                                        drop_remainder=True))
    assert images.shape == (2, *INPUT_SHAPE) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert masks.shape == (2, *INPUT_SHAPE[:2], 1)
    assert 0 <= masks.min() and masks.max() < NUM_CLASSES
    assert build_model()(images).shape[:3] == masks.shape[:3]


def test_an_image_without_a_mask_is_refused(tmp_path):
    make_folder(tmp_path, count=2)
    (tmp_path / "masks" / "1.png").unlink()
    with pytest.raises(data.DataError, match="no mask"):
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
