"""The network, as a Keras functional model: `build_model()`.

Written by convplan 0.1.0 from the plan in plan.json. Layer names are the spec's,
so tests/test_model.py can compare every layer with the plan. The output layer computes in
float32, so the loss stays float32 under a mixed-precision policy.
"""

import keras
from keras import layers

NAME = 'mobilenet_small'
DESCRIPTION = 'MobileNet-style depthwise-separable network for CIFAR-10'
INPUT_SHAPE = (32, 32, 3)
NUM_CLASSES = 10
OUTPUT_LAYER = 'logits'


def build_model() -> keras.Model:
    """The planned network (31 layers), built under the current dtype policy."""
    image = keras.Input(shape=(32, 32, 3), name='image')
    stem = layers.Conv2D(
        name='stem', filters=32, kernel_size=(3, 3), padding='same', use_bias=False,
    )(image)
    stem_bn = layers.BatchNormalization(name='stem_bn')(stem)
    stem_relu = layers.ReLU(name='stem_relu', max_value=6.0)(stem_bn)
    block1_depthwise = layers.DepthwiseConv2D(
        name='block1_depthwise', kernel_size=(3, 3), padding='same', use_bias=False,
    )(stem_relu)
    block1_depthwise_bn = layers.BatchNormalization(name='block1_depthwise_bn')(block1_depthwise)
    block1_depthwise_relu = layers.ReLU(
        name='block1_depthwise_relu', max_value=6.0,
    )(block1_depthwise_bn)
    block1_pointwise = layers.Conv2D(
        name='block1_pointwise', filters=128, kernel_size=(1, 1), use_bias=False,
    )(block1_depthwise_relu)
    block1_pointwise_bn = layers.BatchNormalization(name='block1_pointwise_bn')(block1_pointwise)
    block1_pointwise_relu = layers.ReLU(
        name='block1_pointwise_relu', max_value=6.0,
    )(block1_pointwise_bn)
    block2_depthwise = layers.DepthwiseConv2D(
        name='block2_depthwise', kernel_size=(3, 3), strides=(2, 2), padding='same', use_bias=False,
    )(block1_pointwise_relu)
    block2_depthwise_bn = layers.BatchNormalization(name='block2_depthwise_bn')(block2_depthwise)
    block2_depthwise_relu = layers.ReLU(
        name='block2_depthwise_relu', max_value=6.0,
    )(block2_depthwise_bn)
    block2_pointwise = layers.Conv2D(
        name='block2_pointwise', filters=128, kernel_size=(1, 1), use_bias=False,
    )(block2_depthwise_relu)
    block2_pointwise_bn = layers.BatchNormalization(name='block2_pointwise_bn')(block2_pointwise)
    block2_pointwise_relu = layers.ReLU(
        name='block2_pointwise_relu', max_value=6.0,
    )(block2_pointwise_bn)
    block3_depthwise = layers.DepthwiseConv2D(
        name='block3_depthwise', kernel_size=(3, 3), strides=(2, 2), padding='same', use_bias=False,
    )(block2_pointwise_relu)
    block3_depthwise_bn = layers.BatchNormalization(name='block3_depthwise_bn')(block3_depthwise)
    block3_depthwise_relu = layers.ReLU(
        name='block3_depthwise_relu', max_value=6.0,
    )(block3_depthwise_bn)
    block3_pointwise = layers.Conv2D(
        name='block3_pointwise', filters=256, kernel_size=(1, 1), use_bias=False,
    )(block3_depthwise_relu)
    block3_pointwise_bn = layers.BatchNormalization(name='block3_pointwise_bn')(block3_pointwise)
    block3_pointwise_relu = layers.ReLU(
        name='block3_pointwise_relu', max_value=6.0,
    )(block3_pointwise_bn)
    block4_depthwise = layers.DepthwiseConv2D(
        name='block4_depthwise', kernel_size=(3, 3), padding='same', use_bias=False,
    )(block3_pointwise_relu)
    block4_depthwise_bn = layers.BatchNormalization(name='block4_depthwise_bn')(block4_depthwise)
    block4_depthwise_relu = layers.ReLU(
        name='block4_depthwise_relu', max_value=6.0,
    )(block4_depthwise_bn)
    block4_pointwise = layers.Conv2D(
        name='block4_pointwise', filters=256, kernel_size=(1, 1), use_bias=False,
    )(block4_depthwise_relu)
    block4_pointwise_bn = layers.BatchNormalization(name='block4_pointwise_bn')(block4_pointwise)
    block4_pointwise_relu = layers.ReLU(
        name='block4_pointwise_relu', max_value=6.0,
    )(block4_pointwise_bn)
    pool = layers.GlobalAveragePooling2D(name='pool')(block4_pointwise_relu)
    dropout = layers.Dropout(name='dropout', rate=0.2)(pool)
    logits = layers.Dense(name='logits', units=10, dtype='float32')(dropout)
    return keras.Model(inputs=image, outputs=logits, name=NAME)


if __name__ == "__main__":
    build_model().summary()
