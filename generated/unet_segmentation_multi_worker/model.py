"""The network, as a Keras functional model: `build_model()`.

Written by convplan 0.1.0 from the plan in plan.json. Layer names are the spec's,
so tests/test_model.py can compare every layer with the plan. The output layer computes in
float32, so the loss stays float32 under a mixed-precision policy.
"""

import keras
from keras import layers

NAME = 'unet_segmentation'
DESCRIPTION = 'U-Net-style encoder-decoder for 3-class segmentation of 64x64 images'
INPUT_SHAPE = (64, 64, 1)
NUM_CLASSES = 3
OUTPUT_LAYER = 'classes'


def build_model() -> keras.Model:
    """The planned network (53 layers), built under the current dtype policy."""
    image = keras.Input(shape=(64, 64, 1), name='image')
    enc1_conv_a = layers.Conv2D(
        name='enc1_conv_a', filters=16, kernel_size=(3, 3), padding='same', use_bias=False,
    )(image)
    enc1_bn_a = layers.BatchNormalization(name='enc1_bn_a')(enc1_conv_a)
    enc1_relu_a = layers.ReLU(name='enc1_relu_a')(enc1_bn_a)
    enc1_conv_b = layers.Conv2D(
        name='enc1_conv_b', filters=16, kernel_size=(3, 3), padding='same', use_bias=False,
    )(enc1_relu_a)
    enc1_bn_b = layers.BatchNormalization(name='enc1_bn_b')(enc1_conv_b)
    enc1_relu_b = layers.ReLU(name='enc1_relu_b')(enc1_bn_b)
    down1 = layers.MaxPooling2D(name='down1')(enc1_relu_b)
    enc2_conv_a = layers.Conv2D(
        name='enc2_conv_a', filters=32, kernel_size=(3, 3), padding='same', use_bias=False,
    )(down1)
    enc2_bn_a = layers.BatchNormalization(name='enc2_bn_a')(enc2_conv_a)
    enc2_relu_a = layers.ReLU(name='enc2_relu_a')(enc2_bn_a)
    enc2_conv_b = layers.Conv2D(
        name='enc2_conv_b', filters=32, kernel_size=(3, 3), padding='same', use_bias=False,
    )(enc2_relu_a)
    enc2_bn_b = layers.BatchNormalization(name='enc2_bn_b')(enc2_conv_b)
    enc2_relu_b = layers.ReLU(name='enc2_relu_b')(enc2_bn_b)
    down2 = layers.MaxPooling2D(name='down2')(enc2_relu_b)
    enc3_conv_a = layers.Conv2D(
        name='enc3_conv_a', filters=64, kernel_size=(3, 3), padding='same', use_bias=False,
    )(down2)
    enc3_bn_a = layers.BatchNormalization(name='enc3_bn_a')(enc3_conv_a)
    enc3_relu_a = layers.ReLU(name='enc3_relu_a')(enc3_bn_a)
    enc3_conv_b = layers.Conv2D(
        name='enc3_conv_b', filters=64, kernel_size=(3, 3), padding='same', use_bias=False,
    )(enc3_relu_a)
    enc3_bn_b = layers.BatchNormalization(name='enc3_bn_b')(enc3_conv_b)
    enc3_relu_b = layers.ReLU(name='enc3_relu_b')(enc3_bn_b)
    down3 = layers.MaxPooling2D(name='down3')(enc3_relu_b)
    bottleneck_conv_a = layers.Conv2D(
        name='bottleneck_conv_a', filters=128, kernel_size=(3, 3), padding='same', use_bias=False,
    )(down3)
    bottleneck_bn_a = layers.BatchNormalization(name='bottleneck_bn_a')(bottleneck_conv_a)
    bottleneck_relu_a = layers.ReLU(name='bottleneck_relu_a')(bottleneck_bn_a)
    bottleneck_conv_b = layers.Conv2D(
        name='bottleneck_conv_b', filters=128, kernel_size=(3, 3), padding='same', use_bias=False,
    )(bottleneck_relu_a)
    bottleneck_bn_b = layers.BatchNormalization(name='bottleneck_bn_b')(bottleneck_conv_b)
    bottleneck_relu_b = layers.ReLU(name='bottleneck_relu_b')(bottleneck_bn_b)
    up3 = layers.Conv2DTranspose(
        name='up3', filters=64, kernel_size=(2, 2), strides=(2, 2), padding='same',
    )(bottleneck_relu_b)
    skip3 = layers.Concatenate(name='skip3')([up3, enc3_relu_b])
    dec3_conv_a = layers.Conv2D(
        name='dec3_conv_a', filters=64, kernel_size=(3, 3), padding='same', use_bias=False,
    )(skip3)
    dec3_bn_a = layers.BatchNormalization(name='dec3_bn_a')(dec3_conv_a)
    dec3_relu_a = layers.ReLU(name='dec3_relu_a')(dec3_bn_a)
    dec3_conv_b = layers.Conv2D(
        name='dec3_conv_b', filters=64, kernel_size=(3, 3), padding='same', use_bias=False,
    )(dec3_relu_a)
    dec3_bn_b = layers.BatchNormalization(name='dec3_bn_b')(dec3_conv_b)
    dec3_relu_b = layers.ReLU(name='dec3_relu_b')(dec3_bn_b)
    up2 = layers.Conv2DTranspose(
        name='up2', filters=32, kernel_size=(2, 2), strides=(2, 2), padding='same',
    )(dec3_relu_b)
    skip2 = layers.Concatenate(name='skip2')([up2, enc2_relu_b])
    dec2_conv_a = layers.Conv2D(
        name='dec2_conv_a', filters=32, kernel_size=(3, 3), padding='same', use_bias=False,
    )(skip2)
    dec2_bn_a = layers.BatchNormalization(name='dec2_bn_a')(dec2_conv_a)
    dec2_relu_a = layers.ReLU(name='dec2_relu_a')(dec2_bn_a)
    dec2_conv_b = layers.Conv2D(
        name='dec2_conv_b', filters=32, kernel_size=(3, 3), padding='same', use_bias=False,
    )(dec2_relu_a)
    dec2_bn_b = layers.BatchNormalization(name='dec2_bn_b')(dec2_conv_b)
    dec2_relu_b = layers.ReLU(name='dec2_relu_b')(dec2_bn_b)
    up1 = layers.Conv2DTranspose(
        name='up1', filters=16, kernel_size=(2, 2), strides=(2, 2), padding='same',
    )(dec2_relu_b)
    skip1 = layers.Concatenate(name='skip1')([up1, enc1_relu_b])
    dec1_conv_a = layers.Conv2D(
        name='dec1_conv_a', filters=16, kernel_size=(3, 3), padding='same', use_bias=False,
    )(skip1)
    dec1_bn_a = layers.BatchNormalization(name='dec1_bn_a')(dec1_conv_a)
    dec1_relu_a = layers.ReLU(name='dec1_relu_a')(dec1_bn_a)
    dec1_conv_b = layers.Conv2D(
        name='dec1_conv_b', filters=16, kernel_size=(3, 3), padding='same', use_bias=False,
    )(dec1_relu_a)
    dec1_bn_b = layers.BatchNormalization(name='dec1_bn_b')(dec1_conv_b)
    dec1_relu_b = layers.ReLU(name='dec1_relu_b')(dec1_bn_b)
    classes = layers.Conv2D(
        name='classes', filters=3, kernel_size=(1, 1), activation='softmax', dtype='float32',
    )(dec1_relu_b)
    return keras.Model(inputs=image, outputs=classes, name=NAME)


if __name__ == "__main__":
    build_model().summary()
