"""Hand-worked shapes, params, MACs and FLOPs, one table row per case, for every op.

No TensorFlow: each row's numbers are worked out by hand from Keras's formulas (shapes:
`keras/src/ops/operation_utils.py`; transposed lengths: `deconv_output_length` in
`keras/src/utils/conv_utils.py`; params: the weights each layer's `build` creates) and from the
counting conventions of docs/counting.md (MACs and FLOPs), with the arithmetic in the comment
above the row. They were not copied from convplan's output. The shapes and params of every row
(and the MACs, as `convplan.verify.measure` reads them off the built kernels) were checked
once against Keras 3.15.1 in a scratch script; FLOPs are convplan's convention, which Keras
does not report.

Valid windows: out = floor((n - ((k - 1) * d + 1)) / s) + 1; 'same' and 'causal': out =
ceil(n / s). Transposed: out = (n - 1) * s + k_eff - 2 * pad + output_padding (pad 0 for
'valid', k_eff // 2 for 'same'); without output_padding, 'valid' gives n * s + max(k_eff - s,
0) and 'same' n * s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from strategies import AUGMENTATION_ARGUMENTS

from convplan.analysis import analyze
from convplan.ir import ops as O
from convplan.ir.graph import Graph

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Case:
    op: str
    label: str
    attrs: dict[str, Any]
    inputs: Sequence[Shape]  # batch excluded
    output: Shape
    trainable: int
    non_trainable: int
    macs: int
    flops: int
    id: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", f"{self.op}: {self.label}")


CASES = [
    # The input itself: its shape, nothing to count.
    Case("InputLayer", "an image", {}, [(32, 32, 3)], (32, 32, 3), 0, 0, 0, 0),

    # ---------------------------------------------------------------- convolutions
    # causal, dilation 2, k 3, 4 -> 6 on length 10: left pad (3 - 1) * 2 = 4, out 10;
    # params 3*4*6 + 6 = 78; MACs 10 * 3*4*6 = 720; FLOPs 2*720 + bias 10*6 = 1500
    Case("Conv1D", "causal, dilated", dict(filters=6, kernel_size=3, padding="causal",
                                           dilation_rate=2),
         [(10, 4)], (10, 6), 78, 0, 720, 1500),
    # valid, k 3, dilation 2 (k_eff 5), 3 -> 4, no bias, on 20 (Keras refuses strides > 1
    # with dilation > 1 on convolutions): out 20 - 5 + 1 = 16; params 3*3*4 = 36;
    # MACs 16 * 36 = 576; FLOPs 2*576 = 1152
    Case("Conv1D", "valid, dilated, no bias", dict(filters=4, kernel_size=3, dilation_rate=2,
                                                   use_bias=False),
         [(20, 3)], (16, 4), 36, 0, 576, 1152),
    # 3x3, 8 -> 16, 'same', stride 2 on 32x32: out ceil(32 / 2) = 16; params 3*3*8*16 + 16 =
    # 1168; MACs 16*16 * 3*3*8*16 = 294912; FLOPs 2*294912 + bias 16*16*16 = 593920
    Case("Conv2D", "same, stride 2", dict(filters=16, kernel_size=3, strides=2,
                                          padding="same"),
         [(32, 32, 8)], (16, 16, 16), 1168, 0, 294912, 593920),
    # 'same' with an even kernel 2, stride 1 on 5x5: total pad 1 (at the bottom/right), out 5;
    # params 2*2*1*1 + 1 = 5; MACs 25 * 4 = 100; FLOPs 200 + 25 = 225
    Case("Conv2D", "same, even kernel", dict(filters=1, kernel_size=2, padding="same"),
         [(5, 5, 1)], (5, 5, 1), 5, 0, 100, 225),
    # 'same', 3x3 dilated 2 on 9x9: out 9; params 9 + 1 = 10; MACs 81 * 9 = 729;
    # FLOPs 1458 + 81 = 1539
    Case("Conv2D", "same, dilated", dict(filters=1, kernel_size=3, padding="same",
                                         dilation_rate=2),
         [(9, 9, 1)], (9, 9, 1), 10, 0, 729, 1539),
    # groups 2, 3x3 valid, 4 -> 6 with relu on 8x8: out 6; params 3*3*(4/2)*6 + 6 = 114;
    # MACs 6*6 * 3*3*2*6 = 3888; FLOPs 2*3888 + bias 216 + relu 216 = 8208
    Case("Conv2D", "groups, relu", dict(filters=6, kernel_size=3, groups=2,
                                        activation="relu"),
         [(8, 8, 4)], (6, 6, 6), 114, 0, 3888, 8208),
    # 3x3x3, stride 2, valid, 1 -> 2 on 6^3: out floor((6 - 3) / 2) + 1 = 2; params 27*2 + 2 =
    # 56; MACs 2^3 * 27*1*2 = 432; FLOPs 864 + 16 = 880
    Case("Conv3D", "valid, stride 2", dict(filters=2, kernel_size=3, strides=2),
         [(6, 6, 6, 1)], (2, 2, 2, 2), 56, 0, 432, 880),

    # ---------------------------------------------------------------- transposed
    # k 3, stride 2, valid, 2 -> 3 on length 5: out 5*2 + max(3 - 2, 0) = 11; kernel (3, 3, 2):
    # params 18 + 3 = 21; MACs input positions 5 * 18 = 90; FLOPs 180 + bias 11*3 = 213
    Case("Conv1DTranspose", "valid, stride 2", dict(filters=3, kernel_size=3, strides=2),
         [(5, 2)], (11, 3), 21, 0, 90, 213),
    # 3x3, stride 2, 'same', output_padding 1 on 4x4: out (4 - 1)*2 + 3 - 2*(3 // 2) + 1 = 8;
    # params 3*3*1*2 + 1 = 19; MACs 4*4 * 18 = 288; FLOPs 576 + 64 = 640
    Case("Conv2DTranspose", "same, output_padding", dict(filters=1, kernel_size=3, strides=2,
                                                         padding="same", output_padding=1),
         [(4, 4, 2)], (8, 8, 1), 19, 0, 288, 640),
    # even kernel 4, stride 2, 'same', no output_padding on 3x3: out 3*2 = 6; params 4*4*2*1 +
    # 2 = 34; MACs 3*3 * 32 = 288; FLOPs 576 + 6*6*2 = 648
    Case("Conv2DTranspose", "same, even kernel", dict(filters=2, kernel_size=4, strides=2,
                                                      padding="same"),
         [(3, 3, 1)], (6, 6, 2), 34, 0, 288, 648),
    # 2x2x2, stride 2, valid, 1 -> 2 on 2^3: out 2*2 + max(2 - 2, 0) = 4; params 8*2 + 2 = 18;
    # MACs 2^3 * 16 = 128; FLOPs 256 + 4^3*2 = 384
    Case("Conv3DTranspose", "valid, stride 2", dict(filters=2, kernel_size=2, strides=2),
         [(2, 2, 2, 1)], (4, 4, 4, 2), 18, 0, 128, 384),

    # ---------------------------------------------------------------- depthwise and separable
    # k 3, multiplier 2 on (8, 3): out 6 x 3*2; params 3*3*2 + 6 = 24; MACs 6 * 3*3*2 = 108;
    # FLOPs 216 + 36 = 252
    Case("DepthwiseConv1D", "multiplier 2", dict(kernel_size=3, depth_multiplier=2),
         [(8, 3)], (6, 6), 24, 0, 108, 252),
    # 3x3, stride 2, 'same', multiplier 3 on 7x7x4: out ceil(7 / 2) = 4, channels 12;
    # params 3*3*4*3 + 12 = 120; MACs 4*4 * 108 = 1728; FLOPs 3456 + 192 = 3648
    Case("DepthwiseConv2D", "same, stride 2, multiplier 3",
         dict(kernel_size=3, strides=2, padding="same", depth_multiplier=3),
         [(7, 7, 4)], (4, 4, 12), 120, 0, 1728, 3648),
    # k 3, 4 -> 8 on length 10: out 8; params depthwise 3*4 + pointwise 4*8 + bias 8 = 52;
    # MACs 8 * (12 + 32) = 352; FLOPs 704 + 64 = 768
    Case("SeparableConv1D", "valid", dict(filters=8, kernel_size=3),
         [(10, 4)], (8, 8), 52, 0, 352, 768),
    # 3x3, multiplier 2, stride 2 'same', 3 -> 4 on 9x9: out 5; params 3*3*3*2 = 54 depthwise
    # + 3*2*4 = 24 pointwise + 4 = 82; MACs 5*5 * (54 + 24) = 1950; FLOPs 3900 + 100 = 4000
    Case("SeparableConv2D", "same, stride 2, multiplier 2",
         dict(filters=4, kernel_size=3, strides=2, padding="same", depth_multiplier=2),
         [(9, 9, 3)], (5, 5, 4), 82, 0, 1950, 4000),

    # ---------------------------------------------------------------- pooling
    # pool 3, strides None (= 3), valid on 9: out floor((9 - 3) / 3) + 1 = 3;
    # FLOPs (3 - 1) comparisons * 3*2 = 12
    Case("MaxPooling1D", "strides None", dict(pool_size=3), [(9, 2)], (3, 2), 0, 0, 0, 12),
    # pool 2, strides None, 'same' on 5x5: out ceil(5 / 2) = 3; FLOPs (4 - 1) * 27 = 81
    Case("MaxPooling2D", "same, strides None", dict(pool_size=2, padding="same"),
         [(5, 5, 3)], (3, 3, 3), 0, 0, 0, 81),
    # pool 2, stride 1, valid on 3^3: out 2; FLOPs (8 - 1) * 8 = 56
    Case("MaxPooling3D", "stride 1", dict(pool_size=2, strides=1),
         [(3, 3, 3, 1)], (2, 2, 2, 1), 0, 0, 0, 56),
    # pool 2, stride 1, 'same' on 4: out 4; FLOPs 2 * 4 = 8
    Case("AveragePooling1D", "same, stride 1", dict(pool_size=2, strides=1, padding="same"),
         [(4, 1)], (4, 1), 0, 0, 0, 8),
    # pool 3, stride 2, valid on 7x7: out floor((7 - 3) / 2) + 1 = 3; FLOPs 9 * 3*3*2 = 162
    Case("AveragePooling2D", "valid, stride 2", dict(pool_size=3, strides=2),
         [(7, 7, 2)], (3, 3, 2), 0, 0, 0, 162),
    # pool 2, strides None on 4^3: out 2; FLOPs 8 * 2*2*2*2 = 128
    Case("AveragePooling3D", "strides None", dict(pool_size=2),
         [(4, 4, 4, 2)], (2, 2, 2, 2), 0, 0, 0, 128),
    # global pooling: 1 FLOP per input element
    Case("GlobalMaxPooling1D", "", {}, [(6, 3)], (3,), 0, 0, 0, 18),  # 6*3
    Case("GlobalMaxPooling2D", "keepdims", dict(keepdims=True),
         [(4, 5, 3)], (1, 1, 3), 0, 0, 0, 60),  # 4*5*3
    Case("GlobalMaxPooling3D", "", {}, [(2, 3, 4, 5)], (5,), 0, 0, 0, 120),  # 2*3*4*5
    Case("GlobalAveragePooling1D", "keepdims", dict(keepdims=True),
         [(6, 3)], (1, 3), 0, 0, 0, 18),  # 6*3
    Case("GlobalAveragePooling2D", "", {}, [(7, 7, 8)], (8,), 0, 0, 0, 392),  # 7*7*8
    Case("GlobalAveragePooling3D", "keepdims", dict(keepdims=True),
         [(2, 2, 2, 4)], (1, 1, 1, 4), 0, 0, 0, 32),  # 2*2*2*4

    # ---------------------------------------------------------------- normalization
    # 8 channels: gamma + beta 16 trainable, moving mean + variance 16 not;
    # FLOPs (2 + scale 1 + center 1) * 4*4*8 = 512
    Case("BatchNormalization", "", {}, [(4, 4, 8)], (4, 4, 8), 16, 16, 0, 512),
    # center False: gamma 8 trainable; FLOPs (2 + 1) * 128 = 384
    Case("BatchNormalization", "center False", dict(center=False),
         [(4, 4, 8)], (4, 4, 8), 8, 16, 0, 384),
    # last axis 6: gamma + beta 12; FLOPs (6 + 1 + 1) * 5*6 = 240
    Case("LayerNormalization", "", {}, [(5, 6)], (5, 6), 12, 0, 0, 240),
    # 6 channels in 2 groups: gamma + beta 12 trainable; FLOPs (6 + 2) * 4*4*6 = 768
    Case("GroupNormalization", "", dict(groups=2), [(4, 4, 6)], (4, 4, 6), 12, 0, 0, 768),
    # groups -1: one group per channel (5); gamma only, 5 params; FLOPs (6 + 1) * 3*5 = 105
    Case("GroupNormalization", "instance, no center", dict(groups=-1, center=False),
         [(3, 5)], (3, 5), 5, 0, 0, 105),
    # no weights; FLOPs 3 per element (square, sum, divide) * 4*3 = 36
    Case("UnitNormalization", "", {}, [(4, 3)], (4, 3), 0, 0, 0, 36),
    # one scale per feature of the last axis: 4; FLOPs 4 per element * 2*3*4 = 96
    Case("RMSNormalization", "", {}, [(2, 3, 4)], (2, 3, 4), 4, 0, 0, 96),
    # adapted statistics over 3 channels: mean 3 + variance 3 + count 1 = 7 not trainable;
    # FLOPs 2 * 4*4*3 = 96
    Case("Normalization", "adapted", {}, [(4, 4, 3)], (4, 4, 3), 0, 7, 0, 96),
    # given mean and variance: constants, no weights; FLOPs 2 * 6 = 12
    Case("Normalization", "given statistics", dict(mean=0.5, variance=2.0),
         [(3, 2)], (3, 2), 0, 0, 0, 12),
    # scale and offset: 2 FLOPs per element, 2*3 elements
    Case("Rescaling", "", dict(scale=1 / 255, offset=-1.0), [(2, 3)], (2, 3), 0, 0, 0, 12),

    # ---------------------------------------------------------------- activations and dropout
    Case("Activation", "relu6", dict(activation="relu6"), [(10,)], (10,), 0, 0, 0, 20),  # 2*10
    Case("Activation", "softmax", dict(activation="softmax"),
         [(4, 5)], (4, 5), 0, 0, 0, 60),  # 3*20
    Case("ReLU", "", {}, [(4, 4, 2)], (4, 4, 2), 0, 0, 0, 32),  # 1*32
    Case("ReLU", "max_value", dict(max_value=6.0),
         [(4, 4, 2)], (4, 4, 2), 0, 0, 0, 64),  # (1 + 1)*32
    Case("ReLU", "max_value and slope", dict(max_value=6.0, negative_slope=0.1),
         [(4, 4, 2)], (4, 4, 2), 0, 0, 0, 96),  # (1 + 1 + 1)*32
    Case("LeakyReLU", "", {}, [(3, 3)], (3, 3), 0, 0, 0, 18),  # 2*9
    Case("Softmax", "spatial axis", dict(axis=1), [(4, 5)], (4, 5), 0, 0, 0, 60),  # 3*20
    Case("Dropout", "", dict(rate=0.5), [(5, 5)], (5, 5), 0, 0, 0, 0),
    Case("SpatialDropout1D", "", dict(rate=0.5), [(6, 2)], (6, 2), 0, 0, 0, 0),
    Case("SpatialDropout2D", "", dict(rate=0.5), [(4, 4, 3)], (4, 4, 3), 0, 0, 0, 0),
    Case("SpatialDropout3D", "", dict(rate=0.5), [(2, 2, 2, 3)], (2, 2, 2, 3), 0, 0, 0, 0),

    # GaussianDropout, AlphaDropout and GaussianNoise are the identity at inference
    Case("SpatialDropout2D", "data_format", dict(rate=0.5, data_format="channels_last"),
         [(4, 4, 3)], (4, 4, 3), 0, 0, 0, 0),
    Case("GaussianDropout", "", dict(rate=0.3), [(5, 5)], (5, 5), 0, 0, 0, 0),
    Case("AlphaDropout", "", dict(rate=0.1), [(6, 2)], (6, 2), 0, 0, 0, 0),
    Case("GaussianNoise", "", dict(stddev=0.1), [(4, 4, 3)], (4, 4, 3), 0, 0, 0, 0),
    # the identity; its l1/l2 penalty is a training loss
    Case("ActivityRegularization", "", dict(l1=0.01), [(7,)], (7,), 0, 0, 0, 0),
    # ELU: 3 FLOPs per element (compare, exp - 1, scale), 5*2 = 10 elements -> 30
    Case("ELU", "", dict(alpha=0.5), [(5, 2)], (5, 2), 0, 0, 0, 30),
    # PReLU: alpha of the input's shape 4*4*3 = 48 params; FLOPs 2 per element * 48 = 96
    Case("PReLU", "", {}, [(4, 4, 3)], (4, 4, 3), 48, 0, 0, 96),
    # shared over height and width (axes 1, 2): alpha (1, 1, 3) = 3 params; FLOPs 2 * 48 = 96
    Case("PReLU", "shared_axes", dict(shared_axes=[1, 2]), [(4, 4, 3)], (4, 4, 3), 3, 0, 0, 96),

    # ---------------------------------------------------------------- dense and reshaping
    # 16 -> 10, tanh: params 16*10 + 10 = 170; MACs 160; FLOPs 320 + bias 10 + tanh 5*10 = 380
    Case("Dense", "tanh", dict(units=10, activation="tanh"), [(16,)], (10,), 170, 0, 160, 380),
    # on a rank-2 input (5, 7), per position: params 7*3 + 3 = 24; MACs 5 * 7*3 = 105;
    # FLOPs 210 + bias 5*3 = 225
    Case("Dense", "per position", dict(units=3), [(5, 7)], (5, 3), 24, 0, 105, 225),
    Case("Flatten", "", {}, [(3, 4, 5)], (60,), 0, 0, 0, 0),  # 3*4*5
    # -1 takes what is left: 3*4*2 = 24 elements / 4 = 6
    Case("Reshape", "-1", dict(target_shape=(-1, 4)), [(3, 4, 2)], (6, 4), 0, 0, 0, 0),

    # ---------------------------------------------------------------- merges
    # equal shapes: (inputs - 1) * 4*4*3 = 48
    Case("Add", "", {}, [(4, 4, 3), (4, 4, 3)], (4, 4, 3), 0, 0, 0, 48),
    # broadcasting (1, 1, 3) over (4, 4, 3): out (4, 4, 3), FLOPs 1 * 48
    Case("Add", "broadcast", {}, [(4, 4, 3), (1, 1, 3)], (4, 4, 3), 0, 0, 0, 48),
    Case("Subtract", "", {}, [(5, 2), (5, 2)], (5, 2), 0, 0, 0, 10),  # 1 * 10
    # three inputs broadcast to (3, 4, 2): FLOPs (3 - 1) * 24 = 48
    Case("Multiply", "broadcast, three inputs", {}, [(3, 1, 2), (1, 4, 2), (3, 4, 1)],
         (3, 4, 2), 0, 0, 0, 48),
    Case("Average", "three inputs", {}, [(2, 2)] * 3, (2, 2), 0, 0, 0, 12),  # 3 * 4
    Case("Maximum", "", {}, [(3,), (3,)], (3,), 0, 0, 0, 3),  # 1 * 3
    Case("Minimum", "three inputs", {}, [(2, 3)] * 3, (2, 3), 0, 0, 0, 12),  # 2 * 6
    # the last axis: 3 + 5 channels
    Case("Concatenate", "channels", {}, [(4, 4, 3), (4, 4, 5)], (4, 4, 8), 0, 0, 0, 0),
    # axis 1 counts the batch axis as 0, so it is the first spatial axis: 4 + 6 rows
    Case("Concatenate", "axis 1", dict(axis=1), [(4, 3, 2), (6, 3, 2)], (10, 3, 2),
         0, 0, 0, 0),

    # ---------------------------------------------------------------- resampling and borders
    Case("UpSampling1D", "size 3", dict(size=3), [(4, 2)], (12, 2), 0, 0, 0, 0),  # 4*3
    Case("UpSampling2D", "nearest", dict(size=2), [(3, 3, 2)], (6, 6, 2), 0, 0, 0, 0),
    # bilinear (2, 3) on 3x3: out 6 x 9; FLOPs 7 per output element * 6*9*2 = 756
    Case("UpSampling2D", "bilinear", dict(size=(2, 3), interpolation="bilinear"),
         [(3, 3, 2)], (6, 9, 2), 0, 0, 0, 756),
    Case("UpSampling3D", "", dict(size=2), [(2, 2, 2, 1)], (4, 4, 4, 1), 0, 0, 0, 0),  # 2*2
    # asymmetric: 1 before, 2 after: 5 + 3 = 8
    Case("ZeroPadding1D", "asymmetric", dict(padding=(1, 2)), [(5, 3)], (8, 3), 0, 0, 0, 0),
    # rows 4 + 1 + 2 = 7, columns 4 + 0 + 3 = 7
    Case("ZeroPadding2D", "asymmetric", dict(padding=((1, 2), (0, 3))),
         [(4, 4, 1)], (7, 7, 1), 0, 0, 0, 0),
    Case("ZeroPadding3D", "", dict(padding=1), [(2, 2, 2, 1)], (4, 4, 4, 1), 0, 0, 0, 0),
    # 8 - 1 - 2 = 5
    Case("Cropping1D", "asymmetric", dict(cropping=(1, 2)), [(8, 3)], (5, 3), 0, 0, 0, 0),
    # rows 6 - 1 - 0 = 5, columns 6 - 2 - 1 = 3
    Case("Cropping2D", "asymmetric", dict(cropping=((1, 0), (2, 1))),
         [(6, 6, 2)], (5, 3, 2), 0, 0, 0, 0),
    # each axis loses 1 + 1: (4, 5, 6) -> (2, 3, 4)
    Case("Cropping3D", "", dict(cropping=1), [(4, 5, 6, 1)], (2, 3, 4, 1), 0, 0, 0, 0),

    # ---------------------------------------------------------------- resizing, cropping
    # (4, 6) -> (8, 3) whatever the input: out (8, 3, 3); bilinear counted as 4 multiplies + 3
    # adds per output element: 7 * 8*3*3 = 504
    Case("Resizing", "bilinear", dict(height=8, width=3), [(4, 6, 3)], (8, 3, 3), 0, 0, 0, 504),
    # nearest copies: 0 FLOPs
    Case("Resizing", "nearest", dict(height=10, width=10, interpolation="nearest"),
         [(5, 5, 2)], (10, 10, 2), 0, 0, 0, 0),
    # 7x9 >= 4x5 on both axes: a crop (top (7-4)//2 = 1, left (9-5)//2 = 2), 0 FLOPs
    Case("CenterCrop", "crop", dict(height=4, width=5), [(7, 9, 2)], (4, 5, 2), 0, 0, 0, 0),
    # 3 rows < 4: Keras resizes bilinearly instead: 7 * 4*5*2 = 280
    Case("CenterCrop", "input smaller: resized", dict(height=4, width=5), [(3, 9, 2)],
         (4, 5, 2), 0, 0, 0, 280),
    # only an input of the target's size is modelled (an identity: see RandomCrop's docstring)
    Case("RandomCrop", "identity", dict(height=5, width=6), [(5, 6, 3)], (5, 6, 3), 0, 0, 0, 0),

    # ---------------------------------------------------------------- adaptive pooling
    # bins of 10 into 4: [0,3) [2,5) [5,8) [7,10), lengths 3+3+3+3 = 12; average: bin volume per
    # output (adds + divide): 12 per channel * 2 = 24
    Case("AdaptiveAveragePooling1D", "overlapping bins", dict(output_size=4), [(10, 2)],
         (4, 2), 0, 0, 0, 24),
    # 5 into 3: [0,2) [1,4) [3,5), 2+3+2 = 7; 4 into 2: 2+2 = 4; 3 channels * 7*4 = 84
    Case("AdaptiveAveragePooling2D", "", dict(output_size=(3, 2)), [(5, 4, 3)], (3, 2, 3),
         0, 0, 0, 84),
    Case("AdaptiveAveragePooling3D", "global", dict(output_size=1), [(2, 2, 2, 1)],
         (1, 1, 1, 1), 0, 0, 0, 8),  # one bin of 8
    # 5 into 2: [0,3) [2,5), 3+3 = 6 per channel, 12 reads; max: reads - outputs = 12 - 4 = 8
    Case("AdaptiveMaxPooling1D", "", dict(output_size=2), [(5, 2)], (2, 2), 0, 0, 0, 8),
    # 4 into 2 per axis: 4 * 4 = 16 reads - 4 outputs = 12
    Case("AdaptiveMaxPooling2D", "", dict(output_size=2), [(4, 4, 1)], (2, 2, 1), 0, 0, 0, 12),
    # one bin of 27 per channel: 54 reads - 2 outputs = 52
    Case("AdaptiveMaxPooling3D", "", dict(output_size=1), [(3, 3, 3, 2)], (1, 1, 1, 2),
         0, 0, 0, 52),

    # ---------------------------------------------------------------- axes, repeats, lookups
    Case("Permute", "swap", dict(dims=(2, 1)), [(3, 5)], (5, 3), 0, 0, 0, 0),
    Case("RepeatVector", "", dict(n=4), [(6,)], (4, 6), 0, 0, 0, 0),
    # table 100 * 8 = 800 params; a lookup: 0 FLOPs
    Case("Embedding", "", dict(input_dim=100, output_dim=8), [(10,)], (10, 8), 800, 0, 0, 0),
    # compare, any, multiply: 3 * 5*3 = 45
    Case("Masking", "", {}, [(5, 3)], (5, 3), 0, 0, 0, 45),

    # (5, 3) . (5, 4) along axis 1 (the 5s): (3, 4); FLOPs 2 * 5 per output * 12 = 120
    Case("Dot", "axes 1", dict(axes=1), [(5, 3), (5, 4)], (3, 4), 0, 0, 0, 120),
    # vectors (6,) . (6,): (1,); 2 * 6 = 12, normalize 3 * (6 + 6) = 36 more
    Case("Dot", "normalized vectors", dict(axes=-1, normalize=True), [(6,), (6,)], (1,),
         0, 0, 0, 48),

    # "abc,cde->abde" on (5, 6) to (5, 3, 4): kernel 6*3*4 = 72 + bias over de 3*4 = 84;
    # MACs = b*c*d*e = 5*6*3*4 = 360; FLOPs 2*360 + bias 5*3*4 = 780
    Case("EinsumDense", "projection to heads", dict(equation="abc,cde->abde",
                                                   output_shape=(None, 3, 4), bias_axes="de"),
         [(5, 6)], (5, 3, 4), 84, 0, 360, 780),
    # "...b,bc->...c" on (4, 5, 6) to 7: kernel 6*7 = 42; MACs 4*5 * 6*7 = 840; FLOPs 1680
    Case("EinsumDense", "elided on the left", dict(equation="...b,bc->...c", output_shape=7),
         [(4, 5, 6)], (4, 5, 7), 42, 0, 840, 1680),

    # ---------------------------------------------------------------- keras.ops calls
    # (4, 4, 2) + (1+2, 0, 3+0) = (7, 4, 5)
    Case("Pad", "-inf, channels too", dict(pad_width=((0, 0), (1, 2), (0, 0), (3, 0)),
                                            constant_values=float("-inf")),
         [(4, 4, 2)], (7, 4, 5), 0, 0, 0, 0),
    # 6 channels in 2 parts: part 1 has 3
    Case("Split", "sections", dict(indices_or_sections=2, axis=-1, index=1), [(4, 4, 6)],
         (4, 4, 3), 0, 0, 0, 0),
    # axis 1 of 5 cut at 1 and 3: parts 1, 2, 2; part 2 = 5 - 3 = 2
    Case("Split", "indices", dict(indices_or_sections=(1, 3), axis=1, index=2), [(5, 2)],
         (2, 2), 0, 0, 0, 0),
    # one add per input element: 4*5*3 = 60
    Case("Mean", "spatial, keepdims", dict(axis=(1, 2), keepdims=True), [(4, 5, 3)],
         (1, 1, 3), 0, 0, 0, 60),
    Case("Sum", "channels", dict(axis=-1), [(4, 5, 3)], (4, 5), 0, 0, 0, 60),
    Case("Max", "", dict(axis=1), [(6, 2)], (2,), 0, 0, 0, 12),  # 12 comparisons
    Case("Min", "keepdims", dict(axis=-1, keepdims=True), [(3, 4)], (3, 1), 0, 0, 0, 12),
    Case("ExpandDims", "last", dict(axis=-1), [(3, 4)], (3, 4, 1), 0, 0, 0, 0),
    Case("ExpandDims", "first", dict(axis=1), [(3, 4)], (1, 3, 4), 0, 0, 0, 0),
    Case("Squeeze", "", dict(axis=2), [(3, 1, 4)], (3, 4), 0, 0, 0, 0),

    # ---------------------------------------------------------------- declared layers
    # as declared: params 3 + 2 per channel * 4 = 11; FLOPs 4 per element * 5*5*4 = 400
    Case("Custom", "declared counts", dict(class_name="Scale", params=3, params_per_channel=2,
                                           flops_per_element=4),
         [(5, 5, 4)], (5, 5, 4), 11, 0, 0, 400),
    # a declared 3x3 window, stride 2, valid, 5 filters on 7x6x4: rows (7 - 3) // 2 + 1 = 3,
    # columns (6 - 3) // 2 + 1 = 2; params 9*4*5 + 5 = 185; MACs 3*2 positions * 9*4*5 = 1080;
    # FLOPs 2 * 1080 + 1 per output element * 3*2*5 = 2190
    Case("Custom", "declared window", dict(
        class_name="Down", kernel_size=3, strides=2, filters=5, params="9*C_in*C_out+C_out",
        macs_per_position="9*C_in*C_out", flops_per_element=1),
         [(7, 6, 4)], (3, 2, 5), 185, 0, 1080, 2190),
]


# The augmentation layers (RandomFlip, ...) are the identity at inference: an 8x8x3 image
# comes out as it went in, with nothing to count. Each with the arguments Keras requires.
CASES += [Case(cls.__name__, "identity at inference",
               AUGMENTATION_ARGUMENTS.get(cls.__name__, {}), [(8, 8, 3)], (8, 8, 3), 0, 0, 0, 0)
          for cls in O.AUGMENTATIONS]


def single_layer_analysis(case: Case) -> Any:
    """convplan's analysis of the case's op on inputs of its shapes."""
    graph = Graph("hand_worked")
    names = [graph.add(O.InputLayer(name=f"in{i}", shape=tuple(shape)))
             for i, shape in enumerate(case.inputs)]
    if case.op == "InputLayer":
        graph.set_outputs(names)
        return analyze(graph).layer(names[0])
    graph.add(O.make_op(case.op, "layer", dict(case.attrs)), names)
    graph.set_outputs(["layer"])
    return analyze(graph).layer("layer")


def test_every_op_has_a_hand_worked_case():
    """A new op without a row here fails: add its hand-worked case to CASES."""
    assert set(O.OPS) - {case.op for case in CASES} == set()
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_hand_worked_case(case: Case):
    result = single_layer_analysis(case)
    assert (tuple(result.output_shape), result.trainable_params, result.non_trainable_params,
            result.macs, result.flops) == (case.output, case.trainable, case.non_trainable,
                                           case.macs, case.flops)
