"""convplan.options: one reading of quantities for every place that takes one (budgets, --where,
solve's budgets), one printing of counts and bytes, and a module the CLI can import at start-up.
"""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convplan.checks import CheckConfig, apply_settings
from convplan.cli.solve_cmd import _budget
from convplan.errors import UsageError
from convplan.explore.where import parse_number
from convplan.options import dtype_bytes, format_bytes, format_count, optimizer_slots, parse_quantity


@pytest.mark.parametrize(("text", "value"), [
    ("64", 64), ("0.5", 0.5), ("5.", 5), ("1e9", 10**9), ("1E9", 10**9), ("2.5e-1", 0.25),
    ("1e+03", 1000), ("12M", 12 * 10**6), ("3.5G", 3_500_000_000), ("1.5k", 1500),
    ("2GiB", 2 * 2**30), ("2Gi", 2 * 2**30), ("16 GB", 16 * 10**9), ("500mb", 500 * 10**6),
    ("1.5 KiB", 1536), ("40B", 40), ("1_000", 1000), ("1,000,000", 10**6), (" 7 ", 7),
    (1000, 1000), (1.0e9, 10**9), (0.25, 0.25),
])
def test_spellings_read_as_people_mean_them(text, value):
    assert parse_quantity(text) == value
    assert type(parse_quantity(text)) is type(value)


@pytest.mark.parametrize("text", [
    "", "abc", "-3", "+3", "1e", "e9", ".5", "12Q", "1.2.3", "1 e9", "2iB", "1e1000", "inf",
    "nan", True, None, -1, -0.5, float("inf"), float("nan"), [1], "9" * 5000,
])
def test_anything_else_is_refused(text):
    assert parse_quantity(text) is None


@pytest.mark.parametrize(("text", "count", "size"), [
    ("25M", 25 * 10**6, None),  # MB or MiB? a size needs the B
    ("16GiB", None, 16 * 2**30), ("16Gi", None, 16 * 2**30), ("500MB", None, 500 * 10**6),
    ("1e9", 10**9, 10**9), ("4.1G", 4_100_000_000, None), ("40B", None, 40), ("64", 64, 64),
])
def test_counts_and_sizes_refuse_what_would_be_ambiguous(text, count, size):
    assert parse_quantity(text, "count") == count
    assert parse_quantity(text, "bytes") == size


@pytest.mark.parametrize(("value", "text"), [
    (0, "0"), (999, "999"), (1000, "1K"), (18496, "18.5K"), (4241152, "4.24M"),
    (12_345_678, "12.3M"), (4_100_000_000, "4.1G"), (15_500_000_000_000, "15.5T"),
    (0.5, "0.5"), (1500.0, "1.5K"),
])
def test_counts_print_with_three_significant_digits(value, text):
    assert format_count(value) == text


def test_counts_take_a_unit():
    assert format_count(61_700, " per s") == "61.7K per s"


@pytest.mark.parametrize(("value", "text"), [
    (40, "40 B"), (1023, "1023 B"), (1024, "1 KiB"), (1536, "1.5 KiB"), (204392, "200 KiB"),
    (1_688_000, "1.61 MiB"), (3 * 2**20, "3 MiB"), (6_950_000_000, "6.47 GiB"),
    (2**41, "2 TiB"),
])
def test_bytes_print_with_binary_prefixes(value, text):
    assert format_bytes(value) == text


# format -> parse: the printed number reads back within its three significant digits
@given(st.integers(min_value=0, max_value=10**16))
def test_printed_counts_read_back(value):
    back = parse_quantity(format_count(value), "count")
    assert back is not None and abs(back - value) <= value * Fraction(5, 1000)


@given(st.integers(min_value=0, max_value=2**54))
def test_printed_bytes_read_back(value):
    back = parse_quantity(format_bytes(value), "bytes")
    assert back is not None and abs(back - value) <= value * Fraction(5, 1000)


@given(st.floats(min_value=0, max_value=1e15, allow_nan=False))
def test_printed_fractional_counts_read_back(value):
    back = parse_quantity(format_count(value), "count")
    assert back is not None and abs(back - value) <= value * 0.005


PREFIXES = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
            "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


@st.composite
def spellings(draw) -> tuple[str, Fraction]:
    """A quantity as someone might type it, and the number it means."""
    whole = draw(st.integers(min_value=0, max_value=10**6))
    decimals = draw(st.one_of(st.none(), st.text("0123456789", max_size=3)))
    exponent = draw(st.one_of(st.none(), st.integers(min_value=-6, max_value=6)))
    prefix = draw(st.sampled_from(sorted(PREFIXES)))
    byte = draw(st.sampled_from(["", "B"]))
    number = str(whole) + ("" if decimals is None else "." + decimals)
    value = Fraction(number)
    if exponent is not None:
        number += draw(st.sampled_from(["e", "E"])) + (f"{exponent:+d}" if draw(st.booleans())
                                                       else str(exponent))
        value *= Fraction(10) ** exponent
    suffix = prefix + byte
    suffix = draw(st.sampled_from([suffix, suffix.lower(), suffix.upper()]))
    space = draw(st.sampled_from(["", " "]))
    return f"{number}{space}{suffix}", value * PREFIXES[prefix]


@given(spellings())
def test_every_accepted_spelling_means_one_number_everywhere(spelling):
    text, meant = spelling
    value = parse_quantity(text)
    assert value == (int(meant) if meant.denominator == 1 else float(meant))
    assert parse_quantity(text, "count") in (None, value)
    assert parse_quantity(text, "bytes") in (None, value)
    if " " not in text:  # --where takes a value without spaces
        assert parse_number(text) == value
    for budget, unit in (("max_macs", "count"), ("max_training_memory", "bytes")):
        expected = parse_quantity(text, unit)
        try:
            config = apply_settings(CheckConfig(), {"budgets": {budget: text}}, "test")
        except UsageError:
            assert not isinstance(expected, int)
        else:
            assert getattr(config.budgets, budget) == expected
    if value > 0:
        assert _budget(text, "--max-macs") == int(value)


def test_importing_it_loads_neither_sympy_nor_numpy():
    probe = ("import sys, convplan.options, convplan.cli.common, convplan.cli.console; "
             "print([m for m in ('sympy', 'numpy') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


def test_dtypes_and_optimizers_are_looked_up_with_a_helpful_error():
    assert dtype_bytes("mixed_float16") == (2, 4) and optimizer_slots("adam") == 2
    with pytest.raises(UsageError, match="unknown dtype 'float8'; expected one of float32, "):
        dtype_bytes("float8")
    with pytest.raises(UsageError, match="unknown optimizer 'adamm'; expected one of sgd, "):
        optimizer_slots("adamm")


@pytest.mark.parametrize(("value", "count", "size"), [
    (999, "999", "999 B"),
    (999_600, "1M", "976 KiB"),
    (1_036_288, "1.04M", "0.988 MiB"),  # was '1.01e+03 KiB': 1012 KiB rounds past 3 digits
    (1023.5 * 1024, "1.05M", "1 MiB"),
    (4_241_152, "4.24M", "4.04 MiB"),
])
def test_a_mantissa_that_rounds_past_three_digits_takes_the_next_prefix(value, count, size):
    assert (format_count(value), format_bytes(value)) == (count, size)
