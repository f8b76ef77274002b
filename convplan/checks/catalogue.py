"""Every check `convplan check` runs, in one table: code -> name, group, default severity and
the function that finds it. Codes are stable (CP1xx shape validity, CP2xx budgets, CP3xx
hardware fit, CP4xx design smells; `registry.GROUPS`).

A rule documents itself: its function's docstring, or for the rules the runner reports from the
error that stops a network being built (no function), the text named beside it. `examples.py`
holds a spec that triggers each rule and the corrected spec.
"""

from __future__ import annotations

from types import MappingProxyType

from convplan.checks import budget_rules as B
from convplan.checks import design_rules as D
from convplan.checks import hardware_rules as H
from convplan.checks import portability_rules as P
from convplan.checks import shape_rules as S
from convplan.checks import time_rules as T
from convplan.checks.registry import Rule

CATALOGUE: tuple[Rule, ...] = (
    # code, name, group, default severity, check function (None: reported by the runner)
    Rule.of("CP100", "unbuildable-layer", "shape", "error", None, S.UNBUILDABLE_LAYER),
    Rule.of("CP101", "empty-output", "shape", "error", None, S.EMPTY_OUTPUT),
    Rule.of("CP102", "strides-with-dilation", "shape", "error", None, S.STRIDES_WITH_DILATION),
    Rule.of("CP103", "kernel-larger-than-input", "shape", "error",
            S.check_kernel_larger_than_input),
    Rule.of("CP104", "floor-truncation", "shape", "warning", S.check_floor_truncation),
    Rule.of("CP105", "conditional-merge", "shape", "warning", S.check_conditional_merge),
    Rule.of("CP106", "misaligned-paths", "shape", "warning", S.check_misaligned_paths),
    Rule.of("CP200", "budget-needs-size", "budget", "warning", B.check_budget_needs_size),
    Rule.of("CP201", "max-params", "budget", "error", B.check_max_params),
    Rule.of("CP202", "max-macs", "budget", "error", B.check_max_macs),
    Rule.of("CP203", "max-flops", "budget", "error", B.check_max_flops),
    Rule.of("CP204", "max-activation-memory", "budget", "error",
            B.check_max_activation_memory),
    Rule.of("CP205", "max-training-memory", "budget", "error", B.check_max_training_memory),
    Rule.of("CP206", "min-receptive-field", "budget", "error", B.check_min_receptive_field),
    Rule.of("CP207", "max-receptive-field", "budget", "error", B.check_max_receptive_field),
    Rule.of("CP208", "output-stride", "budget", "error", B.check_output_stride),
    Rule.of("CP301", "gpu-tensor-core-alignment", "hardware", "warning", H.check_gpu_alignment),
    Rule.of("CP302", "tpu-feature-alignment", "hardware", "info", H.check_tpu_features),
    Rule.of("CP303", "tpu-batch", "hardware", "warning", H.check_tpu_batch),
    Rule.of("CP304", "tpu-dynamic-shape", "hardware", "error", H.check_tpu_dynamic_shape),
    Rule.of("CP305", "memory-bound-time", "hardware", "warning", T.check_memory_bound_time),
    Rule.of("CP306", "device-memory", "hardware", "error", T.check_device_memory),
    Rule.of("CP401", "receptive-field-smaller-than-input", "design", "warning",
            D.check_field_smaller_than_input),
    Rule.of("CP402", "gridding", "design", "warning", D.check_gridding),
    Rule.of("CP403", "checkerboard", "design", "warning", D.check_checkerboard),
    Rule.of("CP404", "asymmetric-same-padding", "design", "info", D.check_asymmetric_same),
    Rule.of("CP405", "plain-deep-stack", "design", "warning", D.check_plain_deep_stack),
    Rule.of("CP406", "costly-convolution", "design", "info", D.check_costly_convolution),
    Rule.of("CP501", "same-padding-port", "portability", "info", P.check_same_padding_port),
    Rule.of("CP502", "explicit-padding-port", "portability", "info",
            P.check_explicit_padding_port),
    Rule.of("CP503", "ceil-mode-pooling", "portability", "warning", P.check_ceil_mode_pooling),
    Rule.of("CP504", "average-pool-padding-count", "portability", "warning",
            P.check_average_pool_padding),
    Rule.of("CP505", "flatten-order", "portability", "warning", P.check_flatten_order),
)

RULES: MappingProxyType[str, Rule] = MappingProxyType(
    {rule.code: rule for rule in sorted(CATALOGUE, key=lambda r: r.code)})
assert len(RULES) == len(CATALOGUE) == len({r.name for r in CATALOGUE}), "duplicate rule"
