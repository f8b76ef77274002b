"""The network, as a Keras functional model: `build_model()`.

Written by convplan 0.1.0 from the plan in plan.json. Layer names are the spec's,
so tests/test_model.py can compare every layer with the plan. The output layer computes in
float32, so the loss stays float32 under a mixed-precision policy.
"""

import keras
from keras import layers

NAME = 'seed_cnn'
DESCRIPTION = 'Fashion-MNIST classifier from "Understanding Convolution Operations in TensorFlow"'
INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
OUTPUT_LAYER = 'dense2'


def build_model() -> keras.Model:
    """The planned network (8 layers), built under the current dtype policy."""
    image = keras.Input(shape=(28, 28, 1), name='image')
    conv1 = layers.Conv2D(
        name='conv1', filters=32, kernel_size=(3, 3), padding='same', activation='relu',
    )(image)
    pool1 = layers.MaxPooling2D(name='pool1')(conv1)
    conv2 = layers.Conv2D(
        name='conv2', filters=64, kernel_size=(3, 3), padding='same', activation='relu',
    )(pool1)
    pool2 = layers.MaxPooling2D(name='pool2')(conv2)
    flatten = layers.Flatten(name='flatten')(pool2)
    dense1 = layers.Dense(name='dense1', units=128, activation='relu')(flatten)
    dense2 = layers.Dense(name='dense2', units=10, activation='softmax', dtype='float32')(dense1)
    return keras.Model(inputs=image, outputs=dense2, name=NAME)


if __name__ == "__main__":
    build_model().summary()
