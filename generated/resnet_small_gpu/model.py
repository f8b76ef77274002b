"""The network, as a Keras functional model: `build_model()`.

Written by convplan 0.1.0 from the plan in plan.json. Layer names are the spec's,
so tests/test_model.py can compare every layer with the plan. The output layer computes in
float32, so the loss stays float32 under a mixed-precision policy.
"""

import keras
from keras import layers

NAME = 'resnet_small'
DESCRIPTION = 'ResNet-style residual network for CIFAR-10 (basic blocks, projection shortcuts)'
INPUT_SHAPE = (32, 32, 3)
NUM_CLASSES = 10
OUTPUT_LAYER = 'logits'


def build_model() -> keras.Model:
    """The planned network (52 layers), built under the current dtype policy."""
    image = keras.Input(shape=(32, 32, 3), name='image')
    stem = layers.Conv2D(
        name='stem', filters=32, kernel_size=(3, 3), padding='same', use_bias=False,
    )(image)
    stem_bn = layers.BatchNormalization(name='stem_bn')(stem)
    stem_relu = layers.ReLU(name='stem_relu')(stem_bn)
    stage1_1_conv_a = layers.Conv2D(
        name='stage1_1_conv_a', filters=32, kernel_size=(3, 3), padding='same', use_bias=False,
    )(stem_relu)
    stage1_1_bn_a = layers.BatchNormalization(name='stage1_1_bn_a')(stage1_1_conv_a)
    stage1_1_relu_a = layers.ReLU(name='stage1_1_relu_a')(stage1_1_bn_a)
    stage1_1_conv_b = layers.Conv2D(
        name='stage1_1_conv_b', filters=32, kernel_size=(3, 3), padding='same', use_bias=False,
    )(stage1_1_relu_a)
    stage1_1_bn_b = layers.BatchNormalization(name='stage1_1_bn_b')(stage1_1_conv_b)
    stage1_1_add = layers.Add(name='stage1_1_add')([stage1_1_bn_b, stem_relu])
    stage1_1_relu = layers.ReLU(name='stage1_1_relu')(stage1_1_add)
    stage1_2_conv_a = layers.Conv2D(
        name='stage1_2_conv_a', filters=32, kernel_size=(3, 3), padding='same', use_bias=False,
    )(stage1_1_relu)
    stage1_2_bn_a = layers.BatchNormalization(name='stage1_2_bn_a')(stage1_2_conv_a)
    stage1_2_relu_a = layers.ReLU(name='stage1_2_relu_a')(stage1_2_bn_a)
    stage1_2_conv_b = layers.Conv2D(
        name='stage1_2_conv_b', filters=32, kernel_size=(3, 3), padding='same', use_bias=False,
    )(stage1_2_relu_a)
    stage1_2_bn_b = layers.BatchNormalization(name='stage1_2_bn_b')(stage1_2_conv_b)
    stage1_2_add = layers.Add(name='stage1_2_add')([stage1_2_bn_b, stage1_1_relu])
    stage1_2_relu = layers.ReLU(name='stage1_2_relu')(stage1_2_add)
    stage2_down_conv_a = layers.Conv2D(
        name='stage2_down_conv_a', filters=64, kernel_size=(3, 3), strides=(2, 2), padding='same',
        use_bias=False,
    )(stage1_2_relu)
    stage2_down_bn_a = layers.BatchNormalization(name='stage2_down_bn_a')(stage2_down_conv_a)
    stage2_down_relu_a = layers.ReLU(name='stage2_down_relu_a')(stage2_down_bn_a)
    stage2_down_conv_b = layers.Conv2D(
        name='stage2_down_conv_b', filters=64, kernel_size=(3, 3), padding='same', use_bias=False,
    )(stage2_down_relu_a)
    stage2_down_bn_b = layers.BatchNormalization(name='stage2_down_bn_b')(stage2_down_conv_b)
    stage2_down_project = layers.Conv2D(
        name='stage2_down_project', filters=64, kernel_size=(1, 1), strides=(2, 2), use_bias=False,
    )(stage1_2_relu)
    stage2_down_project_bn = layers.BatchNormalization(
        name='stage2_down_project_bn',
    )(stage2_down_project)
    stage2_down_add = layers.Add(name='stage2_down_add')([stage2_down_bn_b, stage2_down_project_bn])
    stage2_down_relu = layers.ReLU(name='stage2_down_relu')(stage2_down_add)
    stage2_conv_a = layers.Conv2D(
        name='stage2_conv_a', filters=64, kernel_size=(3, 3), padding='same', use_bias=False,
    )(stage2_down_relu)
    stage2_bn_a = layers.BatchNormalization(name='stage2_bn_a')(stage2_conv_a)
    stage2_relu_a = layers.ReLU(name='stage2_relu_a')(stage2_bn_a)
    stage2_conv_b = layers.Conv2D(
        name='stage2_conv_b', filters=64, kernel_size=(3, 3), padding='same', use_bias=False,
    )(stage2_relu_a)
    stage2_bn_b = layers.BatchNormalization(name='stage2_bn_b')(stage2_conv_b)
    stage2_add = layers.Add(name='stage2_add')([stage2_bn_b, stage2_down_relu])
    stage2_relu = layers.ReLU(name='stage2_relu')(stage2_add)
    stage3_down_conv_a = layers.Conv2D(
        name='stage3_down_conv_a', filters=128, kernel_size=(3, 3), strides=(2, 2), padding='same',
        use_bias=False,
    )(stage2_relu)
    stage3_down_bn_a = layers.BatchNormalization(name='stage3_down_bn_a')(stage3_down_conv_a)
    stage3_down_relu_a = layers.ReLU(name='stage3_down_relu_a')(stage3_down_bn_a)
    stage3_down_conv_b = layers.Conv2D(
        name='stage3_down_conv_b', filters=128, kernel_size=(3, 3), padding='same', use_bias=False,
    )(stage3_down_relu_a)
    stage3_down_bn_b = layers.BatchNormalization(name='stage3_down_bn_b')(stage3_down_conv_b)
    stage3_down_project = layers.Conv2D(
        name='stage3_down_project', filters=128, kernel_size=(1, 1), strides=(2, 2), use_bias=False,
    )(stage2_relu)
    stage3_down_project_bn = layers.BatchNormalization(
        name='stage3_down_project_bn',
    )(stage3_down_project)
    stage3_down_add = layers.Add(name='stage3_down_add')([stage3_down_bn_b, stage3_down_project_bn])
    stage3_down_relu = layers.ReLU(name='stage3_down_relu')(stage3_down_add)
    stage3_conv_a = layers.Conv2D(
        name='stage3_conv_a', filters=128, kernel_size=(3, 3), padding='same', use_bias=False,
    )(stage3_down_relu)
    stage3_bn_a = layers.BatchNormalization(name='stage3_bn_a')(stage3_conv_a)
    stage3_relu_a = layers.ReLU(name='stage3_relu_a')(stage3_bn_a)
    stage3_conv_b = layers.Conv2D(
        name='stage3_conv_b', filters=128, kernel_size=(3, 3), padding='same', use_bias=False,
    )(stage3_relu_a)
    stage3_bn_b = layers.BatchNormalization(name='stage3_bn_b')(stage3_conv_b)
    stage3_add = layers.Add(name='stage3_add')([stage3_bn_b, stage3_down_relu])
    stage3_relu = layers.ReLU(name='stage3_relu')(stage3_add)
    pool = layers.GlobalAveragePooling2D(name='pool')(stage3_relu)
    logits = layers.Dense(name='logits', units=10, activation='softmax', dtype='float32')(pool)
    return keras.Model(inputs=image, outputs=logits, name=NAME)


if __name__ == "__main__":
    build_model().summary()
