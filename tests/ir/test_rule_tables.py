"""Every pass's rule table covers every op: a new op without its rules fails here, loudly,
instead of silently taking a default (docs/adding-an-op.md)."""

from __future__ import annotations

import dataclasses

import pytest

from convplan.analysis.counts import ACTIVATION_FLOPS, COUNT_RULES, count
from convplan.analysis.memory_rules import SAVED_RULES
from convplan.analysis.receptive import FIELD_RULES
from convplan.analysis.shapes import SHAPE_RULES, output_shape
from convplan.frontends.schema import spec_schema
from convplan.ir import ops as O
from convplan.ir.attrs import ACTIVATIONS
from convplan.ir.keras_arguments import KERAS_ARGUMENT_RULES, keras_arguments
from convplan.ir.rules import MissingRule, rule_for, uncovered
from convplan.verify.field import LINEARIZE_RULES, linearize_op

TABLES = {
    "shapes": SHAPE_RULES,
    "counts": COUNT_RULES,
    "receptive field": FIELD_RULES,
    "keras arguments": KERAS_ARGUMENT_RULES,
    "verify linearization": LINEARIZE_RULES,
    "saved for backward (memory)": SAVED_RULES,
}


@pytest.mark.parametrize("name", TABLES)
def test_every_op_has_a_rule(name):
    assert uncovered(TABLES[name]) == [], f"the {name} table misses these ops"


@pytest.mark.parametrize("name", TABLES)
def test_no_catch_all_rule(name):
    assert O.Op not in TABLES[name], f"the {name} table has a fallback for every op"


@pytest.mark.parametrize("name", TABLES)
def test_table_keys_are_op_classes(name):
    for cls in TABLES[name]:
        assert isinstance(cls, type) and issubclass(cls, O.Op) and cls is not O.Op


@dataclasses.dataclass(frozen=True, kw_only=True)
class Unruled(O.Op):
    """An op nobody wrote rules for."""


def test_an_op_without_rules_fails_loudly():
    op = Unruled(name="x")
    with pytest.raises(MissingRule, match="infer_shapes has no rule for Unruled"):
        output_shape(op, [(4, 4, 3)], [])
    with pytest.raises(MissingRule, match="count has no rule for Unruled"):
        count(op, [(4, 4, 3)], (4, 4, 3))
    with pytest.raises(MissingRule, match="keras_arguments has no rule for Unruled"):
        keras_arguments(op)
    with pytest.raises(MissingRule, match="linearize_op has no rule for Unruled"):
        linearize_op(op)
    for table in TABLES.values():
        with pytest.raises(MissingRule):
            rule_for(table, Unruled)
    assert uncovered(SHAPE_RULES, [Unruled]) == ["Unruled"]


def test_schema_has_every_op():
    kinds = {name.removeprefix("layer.") for name in spec_schema()["$defs"]
             if name.startswith("layer.")}
    assert kinds == set(O.OPS) - {"InputLayer"}


def test_activation_names_and_flops_agree():
    assert tuple(ACTIVATION_FLOPS) == ACTIVATIONS


@pytest.mark.parametrize("cls", list(O.OPS.values()), ids=list(O.OPS))
def test_traits_are_consistent(cls):
    fields = {f.name for f in dataclasses.fields(cls)}
    assert set(cls.sweepable) <= fields, "a sweepable attribute the op does not have"
    if cls.has_kernel:
        assert cls.has_weights, "a kernel is a weight"
    if cls.elementwise:
        assert cls.max_inputs == 1 and not issubclass(cls, (O.Windowed, O.Pooling))
    assert not cls.__doc__.startswith(cls.__name__ + "("), "every op says what it is"
