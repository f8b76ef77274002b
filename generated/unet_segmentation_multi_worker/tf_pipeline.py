"""data.py's sources as tf.data, for the TensorFlow backend (imported only there).

Files are listed, shuffled by name and decoded in parallel (tf.io, so gs:// paths work);
in-memory arrays are gathered and converted a batch at a time. Several workers: `distributed`
gives each its own files (sharded by file before anything is decoded) through
strategy.distribute_datasets_from_function; in-memory data is sharded by example.
"""

import tensorflow as tf

import data
from model import INPUT_SHAPE

AUTOTUNE = tf.data.AUTOTUNE


def to_model_input(images: tf.Tensor) -> tf.Tensor:
    """Pixels in [0, 255] (any size, 1, 3 or 4 channels) -> float32 in [0, 1] at INPUT_SHAPE."""
    images = tf.cast(images, tf.float32) / 255.0
    have, channels = images.shape[-1], INPUT_SHAPE[-1]
    if have == 4 and channels != 4:
        images, have = images[..., :3], 3
    if have == 3 and channels == 1:
        images = tf.image.rgb_to_grayscale(images)
    elif have == 1 and channels > 1:
        images = tf.image.grayscale_to_rgb(images)
        if channels == 4:
            images = tf.concat([images, tf.ones_like(images[..., :1])], axis=-1)
    elif have == 3 and channels == 4:
        images = tf.concat([images, tf.ones_like(images[..., :1])], axis=-1)
    if tuple(images.shape[-3:-1]) != INPUT_SHAPE[:2]:
        images = tf.image.resize(images, INPUT_SHAPE[:2])
    return images


def decode(path: tf.Tensor, channels: int = INPUT_SHAPE[-1]) -> tf.Tensor:
    image = tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
    image.set_shape((None, None, channels))
    return image


def read_example(image_path: tf.Tensor, mask_path: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    mask = tf.image.resize(decode(mask_path, 1), INPUT_SHAPE[:2], method="nearest")
    if data.BINARY:
        labels = tf.cast(mask > 0, tf.float32)
    else:
        labels = tf.cast(mask, tf.int32)
        tf.debugging.assert_less(labels, data.NUM_CLASSES,
                                 message="a mask pixel is not a class index")
    return to_model_input(decode(image_path)), labels


def file_examples(source, training: bool, seed: int) -> tf.data.Dataset:
    """Single decoded (image, label) examples of image files."""
    names = tf.data.Dataset.from_tensor_slices((list(source.paths), list(source.labels)))
    if training:  # shuffling names is free; decoded images would fill the buffer
        names = names.shuffle(len(source), seed=seed, reshuffle_each_iteration=True)
    return names.map(read_example, num_parallel_calls=AUTOTUNE)


def array_batches(source, batch_size: int, training: bool, drop_remainder: bool, pad: int | None,
                  seed: int) -> tf.data.Dataset:
    """Batches gathered from in-memory arrays by shuffled indices, converted a whole batch at
    a time (as Keras's own array adapter does; per-example maps cost CPU time). Index -1 is
    padding, weight 0."""
    images, labels = tf.constant(source.images), tf.constant(source.labels)
    index = tf.data.Dataset.range(len(source))
    if training:
        index = index.shuffle(len(source), seed=seed, reshuffle_each_iteration=True)
    if pad is not None:
        padding = tf.data.Dataset.from_tensors(tf.constant(-1, tf.int64)).repeat(pad)
        index = index.concatenate(padding)

    def gather(batch: tf.Tensor):
        safe = tf.maximum(batch, 0)
        x, y = tf.gather(images, safe), tf.gather(labels, safe)
        x = x if source.scaled else to_model_input(x)
        if pad is None:
            return x, y
        return x, y, data.per_output(tf.cast(batch >= 0, tf.float32), tf)

    batches = index.batch(batch_size, drop_remainder=drop_remainder or pad is not None)
    return batches.map(gather, num_parallel_calls=AUTOTUNE)


def make_dataset(source, batch_size: int, *, training: bool, drop_remainder: bool,
                 augment: str = "none", seed: int = 0, cache: str = "auto",
                 pad_to_batch: bool = False, sharded: bool = False) -> tf.data.Dataset:
    """Image files: decode -> cache (optional) -> pad (optional) -> batch; in-memory arrays:
    shuffled batches gathered and converted; then augment (training) -> prefetch. `cache`
    'memory' keeps decoded files in memory, any other string but auto/none is a cache file."""
    pad = None
    if pad_to_batch and not drop_remainder:
        pad = data.padding_for(len(source), batch_size)
    if isinstance(source, data.Arrays):
        dataset = array_batches(source, batch_size, training, drop_remainder, pad, seed)
    else:
        dataset = file_examples(source, training, seed)
        if cache == "memory":
            dataset = dataset.cache()
        elif cache not in ("auto", "none"):
            dataset = dataset.cache(cache)
        if pad is not None:
            dataset = dataset.map(lambda x, y: (x, y, tf.constant(1.0)))
            zeros = tf.data.Dataset.from_tensors(tuple(
                tf.zeros(spec.shape, spec.dtype) for spec in dataset.element_spec)).repeat(pad)
            dataset = dataset.concatenate(zeros)  # weight 0: counted by neither loss nor metrics
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder or pad is not None)
        if pad is not None:
            dataset = dataset.map(lambda x, y, w: (x, y, data.per_output(w, tf)))
    augmenter = data.make_augmenter(augment, seed) if training else None
    if augmenter is not None:
        dataset = dataset.map(lambda x, *rest: (augmenter(x, training=True), *rest),
                              num_parallel_calls=AUTOTUNE)
    options = tf.data.Options()
    policy = tf.data.experimental.AutoShardPolicy
    options.experimental_distribute.auto_shard_policy = policy.OFF if sharded else policy.DATA
    return dataset.with_options(options).prefetch(AUTOTUNE)


def per_worker(source, global_batch: int, context: tf.distribute.InputContext,
               **options) -> tf.data.Dataset:
    """One input pipeline's dataset: its own files, batched per replica."""
    shard = source.shard(context.num_input_pipelines, context.input_pipeline_id)
    return make_dataset(shard, context.get_per_replica_batch_size(global_batch), sharded=True,
                        **options)


def distributed(strategy, source, global_batch: int, **options):
    """Files sharded by file over the workers (module doc); other sources are returned as a
    dataset for Keras to distribute by example."""
    several = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    if isinstance(source, data.Files) and several:
        return strategy.distribute_datasets_from_function(
            lambda context: per_worker(source, global_batch, context, **options))
    return make_dataset(source, global_batch, **options)

