"""benchmarks/profile_step.py charges each thunk of a compiled training step to a layer and pass
by its HLO op_name metadata; checked on a hand-written module in XLA's text form."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

from profile_step import owner, thunk_owners  # noqa: E402

HLO = """HloModule jit_train_step, entry_computation_layout={(f32[2,2]{1,0})->f32[2,2]{1,0}}

%fused_computation.1 (param_0: f32[2,2], param_1: s32[2,2]) -> f32[2,2] {
  %param_0 = f32[2,2]{1,0} parameter(0)
  ROOT %m = f32[2,2]{1,0} maximum(%param_0, %param_0), metadata={@jvp(conv1)/jit(relu)/max"}
}

%wrapped_iota_computation () -> s32[2,2] {
  ROOT %i = s32[2,2]{1,0} iota(), iota_dimension=0
}

ENTRY %main.5 (p: f32[2,2]) -> f32[2,2] {
  %p = f32[2,2]{1,0} parameter(0)
  %wrapped_iota = s32[2,2]{1,0} fusion(), kind=kLoop, calls=%wrapped_iota_computation
  %fusion.1 = f32[2,2]{1,0} fusion(%p, %wrapped_iota), kind=kLoop, calls=%fused_computation.1
  %kgrad = f32[1,3,3,2]{3,2,1,0} convolution(%p, %fusion.1), window={size=2x2}, dim_labels=b01f_01io->b01f
  %update = f32[2,2]{1,0} multiply(%fusion.1, %kgrad), metadata={@adam/mul"}
  ROOT %s = f32[2,2]{1,0} add(%update, %fusion.1), metadata={@transpose(jvp(pool1))/max"}
}
""".replace("@", 'op_name="jit(train_step)/')  # each op_name's prefix, as jax writes it


def test_owner_names_the_layer_and_the_pass():
    assert owner("transpose(jvp(conv1))/conv_general_dilated") == "conv1 backward"
    assert owner("jvp(block_1_depthwise)/conv_general_dilated") == "block_1_depthwise forward"
    assert owner("adam/mul") == "adam"
    assert owner("add") == "step"


def test_thunks_are_charged_by_their_own_or_their_fused_computations_names():
    owners = thunk_owners(HLO, {"conv1": (3, 3, 1, 2), "dense": (2, 2)})
    assert owners["fusion.1"] == "conv1 forward"  # from the computation it calls
    assert owners["update"] == "adam"
    assert owners["s"] == "pool1 backward"
    # an unnamed thunk (an expander's iota) goes to the layer whose thunk consumes it
    assert owners["wrapped_iota"] == "conv1 forward"
    # XLA leaves a kernel gradient unnamed: it goes to the layer with a kernel of its dims,
    # not to the optimizer's update it feeds
    assert owners["kgrad"] == "conv1 backward"


TWINS = """HloModule jit_train_step

%fused_computation.7 (param_0: f32[8,4,4,2], param_1: f32[4,4,2,8]) -> f32[8,1,1,8] {
  %param_0 = f32[8,4,4,2]{3,2,1,0} parameter(0)
  %param_1 = f32[4,4,2,8]{3,2,1,0} parameter(1)
  ROOT %c = f32[8,1,1,8]{3,2,1,0} convolution(%param_0, %param_1), window={size=4x4}, dim_labels=X
}

ENTRY %main.9 (p: f32[2,4,4,8], g: f32[2,4,4,8]) -> f32[8,1,1,8] {
  %p = f32[2,4,4,8]{3,2,1,0} parameter(0)
  %g = f32[2,4,4,8]{3,2,1,0} parameter(1)
  %bn_a = f32[8,4,4,2]{3,2,1,0} transpose(%p), dimensions={3,1,2,0}, metadata={@jvp(bn_a)/mul"}
  %bn_b = f32[8,4,4,2]{3,2,1,0} transpose(%p), dimensions={3,1,2,0}, metadata={@jvp(bn_b)/mul"}
  %gt = f32[4,4,2,8]{3,2,1,0} transpose(%g), dimensions={1,2,0,3}, metadata={@transpose(jvp(relu_x))/mul"}
  %ynn_fusion.7 = f32[8,1,1,8]{3,2,1,0} fusion(%bn_b, %gt), kind=kCustom, calls=%fused_computation.7
  %kgrad_small = f32[8,1,1,8]{3,2,1,0} convolution(%bn_a, %gt), window={size=2x2}, dim_labels=b01f_01io->b01f
  ROOT %u = f32[8,1,1,8]{3,2,1,0} add(%ynn_fusion.7, %kgrad_small), metadata={@adam/add"}
}
""".replace("@", 'op_name="jit(train_step)/')


def test_a_kernel_gradient_shared_by_twin_kernels_goes_by_its_window_then_its_input():
    # three 1x1 8 -> 8 convolutions: conv_small on a 2x2 map, conv_a and conv_b on 4x4 maps
    # (conv_a after bn_a, conv_b after bn_b: DenseNet's dense blocks have such twins)
    kernels = {name: (1, 1, 8, 8) for name in ("conv_small", "conv_a", "conv_b")}
    maps = {"conv_small": (2, 2), "conv_a": (4, 4), "conv_b": (4, 4)}
    upstream = {"conv_small": {"bn_a"}, "conv_a": {"bn_a", "x"}, "conv_b": {"relu_b", "bn_b"}}
    owners = thunk_owners(TWINS, kernels, maps, upstream)
    assert owners["ynn_fusion.7"] == "conv_b backward"  # window 4x4, input made by bn_b
    assert owners["kgrad_small"] == "conv_small backward"  # the only one on a 2x2 map
    # without the maps and the inputs the twins cannot be told apart: inherited instead
    assert thunk_owners(TWINS, kernels)["ynn_fusion.7"] != "conv_b backward"


def test_importing_the_script_leaves_the_keras_backend_alone():
    # it once set KERAS_BACKEND=jax at import, so a pytest worker that collected this file
    # imported Keras under JAX and every TensorFlow gradient oracle after it got None
    import subprocess

    code = ("import os, sys; sys.path.insert(0, 'benchmarks'); import profile_step; "
            "print(os.environ.get('KERAS_BACKEND'))")
    env = {k: v for k, v in __import__("os").environ.items() if k != "KERAS_BACKEND"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, env=env, check=True)
    assert done.stdout.strip() == "None"
