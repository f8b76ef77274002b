"""For every rule: a small spec that triggers it and the corrected spec that does not.

`convplan explain CODE` prints them, docs/checks.md shows them, and the tests check both
directions for every rule, so the documentation cannot drift from the checks.
"""

from __future__ import annotations

SEED = """\
inputs: {image: [28, 28, 1]}
layers:
  - {name: conv1, op: Conv2D, filters: 32, kernel_size: 3, padding: same, activation: relu}
  - {name: pool1, op: MaxPooling2D, pool_size: 2}
  - {name: conv2, op: Conv2D, filters: 64, kernel_size: 3, padding: same, activation: relu}
  - {name: pool2, op: MaxPooling2D, pool_size: 2}
  - {name: flatten, op: Flatten}
  - {name: dense1, op: Dense, units: 128, activation: relu}
  - {name: dense2, op: Dense, units: 10, activation: softmax}
"""

SEED_SEPARABLE = SEED.replace("{name: conv2, op: Conv2D,", "{name: conv2, op: SeparableConv2D,")
SEED_GAP = SEED.replace("{name: flatten, op: Flatten}", "{name: gap, op: GlobalAveragePooling2D}")
# a depthwise block: bytes, not FLOPs, decide its time (CP305)
DEPTHWISE_BLOCK = """\
inputs: {image: [56, 56, 64]}
layers:
  - {name: dw, op: DepthwiseConv2D, kernel_size: 3, padding: same}
  - {name: bn, op: BatchNormalization}
  - {name: relu, op: ReLU, max_value: 6}
  - {name: gap, op: GlobalAveragePooling2D}
  - {name: out, op: Dense, units: 10}
"""

# code -> (triggers the rule, corrected)
EXAMPLES: dict[str, tuple[str, str]] = {
    "CP100": ("""\
inputs: {image: [32, 32, 3]}
layers:
  - {name: a, op: Conv2D, filters: 32, kernel_size: 3, padding: same}
  - {name: b, op: Conv2D, filters: 64, kernel_size: 3, padding: same, inputs: image}
  - {name: sum, op: Add, inputs: [a, b]}       # 32 channels + 64 channels
""", """\
inputs: {image: [32, 32, 3]}
layers:
  - {name: a, op: Conv2D, filters: 32, kernel_size: 3, padding: same}
  - {name: b, op: Conv2D, filters: 32, kernel_size: 3, padding: same, inputs: image}
  - {name: sum, op: Add, inputs: [a, b]}
"""),
    "CP101": ("""\
inputs: {image: [5, 5, 1]}
layers:
  - {name: conv, op: Conv2D, filters: 8, kernel_size: 7}   # 'valid': needs 7 rows
""", """\
inputs: {image: [5, 5, 1]}
layers:
  - {name: conv, op: Conv2D, filters: 8, kernel_size: 3}
"""),
    "CP102": ("""\
inputs: {image: [64, 64, 3]}
layers:
  - {name: conv, op: Conv2D, filters: 16, kernel_size: 3, strides: 2, dilation_rate: 2,
     padding: same}
""", """\
inputs: {image: [64, 64, 3]}
layers:
  - {name: conv, op: Conv2D, filters: 16, kernel_size: 3, dilation_rate: 2, padding: same}
  - {name: down, op: MaxPooling2D, pool_size: 2}
"""),
    "CP103": ("""\
inputs: {features: [6, 6, 8]}
layers:
  - {name: conv, op: Conv2D, filters: 8, kernel_size: 2, dilation_rate: 8, padding: same}
""", """\
inputs: {features: [6, 6, 8]}
layers:
  - {name: conv, op: Conv2D, filters: 8, kernel_size: 2, dilation_rate: 4, padding: same}
"""),
    "CP104": ("""\
inputs: {image: [28, 28, 1]}
layers:
  - {name: conv1, op: Conv2D, filters: 8, kernel_size: 3, padding: same}
  - {name: pool1, op: MaxPooling2D, pool_size: 2}    # 14
  - {name: pool2, op: MaxPooling2D, pool_size: 2}    # 7
  - {name: pool3, op: MaxPooling2D, pool_size: 2}    # 3: row 7 is never read
""", """\
inputs: {image: [32, 32, 1]}
layers:
  - {name: conv1, op: Conv2D, filters: 8, kernel_size: 3, padding: same}
  - {name: pool1, op: MaxPooling2D, pool_size: 2}
  - {name: pool2, op: MaxPooling2D, pool_size: 2}
  - {name: pool3, op: MaxPooling2D, pool_size: 2}
"""),
    "CP105": ("""\
inputs: {image: [H, W, 3]}
layers:
  - {name: enc, op: Conv2D, filters: 16, kernel_size: 3, padding: same}
  - {name: down, op: MaxPooling2D, pool_size: 2}
  - {name: mid, op: Conv2D, filters: 16, kernel_size: 3, padding: same}
  - {name: up, op: UpSampling2D, size: 2}
  - {name: skip, op: Concatenate, inputs: [enc, up]}   # H and 2 * floor(H / 2)
""", """\
inputs: {image: [H, W, 3]}
checks: {input_size: [128, 128]}
layers:
  - {name: enc, op: Conv2D, filters: 16, kernel_size: 3, padding: same}
  - {name: down, op: MaxPooling2D, pool_size: 2}
  - {name: mid, op: Conv2D, filters: 16, kernel_size: 3, padding: same}
  - {name: up, op: UpSampling2D, size: 2}
  - {name: skip, op: Concatenate, inputs: [enc, up]}
"""),
    "CP106": ("""\
inputs: {image: [32, 32, 16]}
layers:
  - {name: main, op: Conv2D, filters: 32, kernel_size: 3, strides: 2, padding: same}
  - {name: shortcut, op: Conv2D, filters: 32, kernel_size: 1, strides: 2, padding: same,
     inputs: image}
  - {name: sum, op: Add, inputs: [main, shortcut]}   # centres 1 and 0
""", """\
inputs: {image: [32, 32, 16]}
layers:
  - {name: pad, op: ZeroPadding2D, padding: [[1, 0], [1, 0]]}
  - {name: main, op: Conv2D, filters: 32, kernel_size: 3, strides: 2}
  - {name: shortcut, op: Conv2D, filters: 32, kernel_size: 1, strides: 2, padding: same,
     inputs: image}
  - {name: sum, op: Add, inputs: [main, shortcut]}
"""),
    "CP200": ("""\
inputs: {image: [H, W, 1]}
checks: {budgets: {max_params: 1M}}
""" + SEED.split("\n", 1)[1], """\
inputs: {image: [H, W, 1]}
checks: {budgets: {max_params: 1M}, input_size: [28, 28]}
""" + SEED.split("\n", 1)[1]),
    "CP201": ("checks: {budgets: {max_params: 400K}}\n" + SEED,
              "checks: {budgets: {max_params: 400K}}\n" + SEED_GAP),
    "CP202": ("checks: {budgets: {max_macs: 2M}}\n" + SEED,
              "checks: {budgets: {max_macs: 2M}}\n" + SEED_SEPARABLE),
    "CP203": ("checks: {budgets: {max_flops: 5M}}\n" + SEED,
              "checks: {budgets: {max_flops: 5M}}\n" + SEED_SEPARABLE),
    "CP204": ("checks: {batch: 256, budgets: {max_activation_memory: 32MiB}}\n" + SEED,
              "checks: {batch: 256, dtype: mixed_float16, "
              "budgets: {max_activation_memory: 32MiB}}\n" + SEED),
    "CP205": ("checks: {batch: 256, budgets: {max_training_memory: 48MiB}}\n" + SEED,
              "checks: {batch: 128, budgets: {max_training_memory: 48MiB}}\n" + SEED),
    "CP206": ("checks: {budgets: {min_receptive_field: 20}}\n" + SEED,
              "checks: {budgets: {min_receptive_field: 20}}\n" + SEED.replace(
                  "  - {name: flatten", "  - {name: conv3, op: Conv2D, filters: 64, kernel_size: 3,"
                  " padding: same}\n  - {name: conv4, op: Conv2D, filters: 64, kernel_size: 3,"
                  " padding: same}\n  - {name: flatten")),
    "CP207": ("checks: {budgets: {max_receptive_field: 8}}\n" + SEED,
              "checks: {budgets: {max_receptive_field: 16}}\n" + SEED),
    "CP208": ("checks: {budgets: {output_stride: 8}}\n" + SEED,
              "checks: {budgets: {output_stride: 8}}\n" + SEED.replace("[28, 28, 1]", "[32, 32, 1]")
              .replace("  - {name: flatten", "  - {name: pool3, op: MaxPooling2D, pool_size: 2}\n"
                       "  - {name: flatten")),
    "CP301": ("checks: {dtype: mixed_float16, batch: 100}\n" + SEED.replace("filters: 32", "filters: 30"),
              "checks: {dtype: mixed_float16, batch: 128}\n" + SEED),
    "CP302": ("checks: {target: tpu, batch: 128}\n" + SEED,
              "checks: {target: tpu, batch: 128}\n" + SEED.replace("filters: 32", "filters: 128")
              .replace("filters: 64", "filters: 128")),
    "CP303": ("checks: {target: tpu, batch: 12}\n" + SEED,
              "checks: {target: tpu, batch: 16}\n" + SEED),
    "CP304": ("checks: {target: tpu, batch: 128}\n" + SEED.replace("[28, 28, 1]", "[H, W, 1]")
              .replace("{name: flatten, op: Flatten}", "{name: gap, op: GlobalAveragePooling2D}"),
              "checks: {target: tpu, batch: 128}\n" + SEED_GAP),
    "CP305": ("checks: {device: a100-80gb, batch: 64}\n" + DEPTHWISE_BLOCK,
              "checks: {device: a100-80gb, batch: 64}\n" + DEPTHWISE_BLOCK.replace(
                  "op: DepthwiseConv2D, kernel_size: 3", "op: Conv2D, filters: 256, kernel_size: 3")),
    "CP306": ("checks: {device: t4, batch: 100000}\n" + SEED,
              "checks: {device: t4, batch: 10000}\n" + SEED),
    "CP401": ("""\
inputs: {image: [64, 64, 3]}
layers:
  - {name: conv1, op: Conv2D, filters: 16, kernel_size: 3, padding: same, activation: relu}
  - {name: conv2, op: Conv2D, filters: 16, kernel_size: 3, padding: same, activation: relu}
  - {name: gap, op: GlobalAveragePooling2D}       # each feature saw 5x5 of 64x64
  - {name: out, op: Dense, units: 10}
""", """\
inputs: {image: [64, 64, 3]}
blocks:
  stage:
    layers:
      - {name: conv, op: Conv2D, filters: 16, kernel_size: 3, padding: same, activation: relu}
      - {name: pool, op: MaxPooling2D, pool_size: 2}
layers:
  - {name: stages, block: stage, repeat: 4}
  - {name: conv, op: Conv2D, filters: 16, kernel_size: 3, padding: same, activation: relu}
  - {name: gap, op: GlobalAveragePooling2D}       # 78x78
  - {name: out, op: Dense, units: 10}
"""),
    "CP402": ("""\
inputs: {features: [64, 64, 16]}
layers:
  - {name: d1, op: Conv2D, filters: 16, kernel_size: 3, dilation_rate: 2, padding: same}
  - {name: d2, op: Conv2D, filters: 16, kernel_size: 3, dilation_rate: 2, padding: same}
  - {name: d3, op: Conv2D, filters: 16, kernel_size: 3, dilation_rate: 2, padding: same}
""", """\
inputs: {features: [64, 64, 16]}
layers:
  - {name: d1, op: Conv2D, filters: 16, kernel_size: 3, dilation_rate: 1, padding: same}
  - {name: d2, op: Conv2D, filters: 16, kernel_size: 3, dilation_rate: 2, padding: same}
  - {name: d3, op: Conv2D, filters: 16, kernel_size: 3, dilation_rate: 5, padding: same}
"""),
    "CP403": ("""\
inputs: {latent: [16, 16, 32]}
layers:
  - {name: up, op: Conv2DTranspose, filters: 16, kernel_size: 3, strides: 2, padding: same}
""", """\
inputs: {latent: [16, 16, 32]}
layers:
  - {name: up, op: Conv2DTranspose, filters: 16, kernel_size: 4, strides: 2, padding: same}
"""),
    "CP404": ("""\
inputs: {image: [64, 64, 3]}
layers:
  - {name: conv, op: Conv2D, filters: 16, kernel_size: 4, padding: same}   # pads 1 and 2
""", """\
inputs: {image: [64, 64, 3]}
layers:
  - {name: conv, op: Conv2D, filters: 16, kernel_size: 3, padding: same}
"""),
    "CP405": ("""\
inputs: {image: [32, 32, 16]}
blocks:
  conv:
    layers:
      - {name: c, op: Conv2D, filters: 16, kernel_size: 3, padding: same, activation: relu}
layers:
  - {name: stack, block: conv, repeat: 11}
""", """\
inputs: {image: [32, 32, 16]}
blocks:
  conv:
    layers:
      - {name: c, op: Conv2D, filters: 16, kernel_size: 3, padding: same}
      - {name: bn, op: BatchNormalization}
      - {name: relu, op: ReLU}
layers:
  - {name: stack, block: conv, repeat: 11}
"""),
    "CP406": (SEED, SEED_SEPARABLE),
    "CP501": ("""\
checks: {port: torch}
inputs: {image: [64, 64, 3]}
layers:
  - {name: down, op: Conv2D, filters: 16, kernel_size: 3, strides: 2, padding: same}
""", """\
checks: {port: torch}
inputs: {image: [64, 64, 3]}
layers:
  - {name: pad, op: ZeroPadding2D, padding: [[0, 1], [0, 1]]}   # TF's split, explicit
  - {name: down, op: Conv2D, filters: 16, kernel_size: 3, strides: 2, padding: valid}
"""),
    "CP502": ("""\
inputs: {image: [224, 224, 3]}
layers:
  - {name: stem, op: Conv2D, filters: 64, kernel_size: 7, strides: 2, padding: [[3, 3], [3, 3]]}
""", """\
inputs: {image: [224, 224, 3]}
layers:
  - {name: pad, op: ZeroPadding2D, padding: 3}
  - {name: stem, op: Conv2D, filters: 64, kernel_size: 7, strides: 2, padding: valid}
"""),
    "CP503": ("""\
inputs: {image: [56, 56, 8]}
layers:
  - {name: relu, op: ReLU}
  - {name: pool, op: MaxPooling2D, pool_size: 3, strides: 2, ceil_mode: true}
""", """\
inputs: {image: [56, 56, 8]}
layers:
  - {name: relu, op: ReLU}
  - {name: pool, op: MaxPooling2D, pool_size: 3, strides: 2, padding: same}
"""),
    "CP504": ("""\
inputs: {image: [32, 32, 8]}
layers:
  - {name: pool, op: AveragePooling2D, pool_size: 3, strides: 1, padding: [[1, 1], [1, 1]],
     count_include_pad: true}
""", """\
inputs: {image: [32, 32, 8]}
layers:
  - {name: pad, op: ZeroPadding2D, padding: 1}
  - {name: pool, op: AveragePooling2D, pool_size: 3, strides: 1, padding: valid}
"""),
    "CP505": ("checks: {port: torch}\n" + SEED, "checks: {port: torch}\n" + SEED.replace(
        "  - {name: flatten, op: Flatten}",
        "  - {name: channels_first, op: Permute, dims: [3, 1, 2]}\n"
        "  - {name: flatten, op: Flatten}")),
}
