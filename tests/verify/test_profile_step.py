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
