"""Hostile and broken specs: one clear line on stderr, exit code 2, no traceback, bounded time."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from convplan.cli.main import main

GOOD_INPUT = "inputs: {x: [8, 8, 3]}\n"

CASES = {
    "malformed_yaml": "inputs: {x: [8, 8\nlayers: [",
    "malformed_json": '{"inputs": {"x": [8, 8, 3]}, "layers": [}',
    "not_a_mapping": "- 1\n- 2\n",
    "empty_file": "",
    "alias_bomb": "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
                  "c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c]\n",
    "python_tag": "inputs: !!python/object/apply:os.system ['echo pwned']\nlayers: []\n",
    "python_name_tag": "inputs: !!python/name:os.system\n",
    "self_loop": GOOD_INPUT + "layers: [{name: a, op: ReLU, inputs: [a]}]",
    "cycle": GOOD_INPUT + "layers: [{name: a, op: ReLU, inputs: [b]}, {name: b, op: ReLU, inputs: [a]}]",
    "unknown_input": GOOD_INPUT + "layers: [{name: a, op: ReLU, inputs: [nowhere]}]",
    "missing_name": GOOD_INPUT + "layers: [{op: ReLU}]",
    "duplicate_name": GOOD_INPUT + "layers: [{name: a, op: ReLU}, {name: a, op: ReLU}]",
    "duplicate_key": GOOD_INPUT + "layers: [{name: a, op: ReLU, name: b}]",
    "unknown_op": GOOD_INPUT + "layers: [{name: a, op: Lambda}]",
    "unknown_attribute": GOOD_INPUT + "layers: [{name: a, op: ReLU, function: 'os.system'}]",
    "wrong_type": GOOD_INPUT + "layers: [{name: a, op: Conv2D, filters: many, kernel_size: 3}]",
    "bool_as_int": GOOD_INPUT + "layers: [{name: a, op: Conv2D, filters: true, kernel_size: 3}]",
    "zero_filters": GOOD_INPUT + "layers: [{name: a, op: Conv2D, filters: 0, kernel_size: 3}]",
    "negative_stride": GOOD_INPUT + "layers: [{name: a, op: Conv2D, filters: 2, kernel_size: 3, "
                       "strides: -1}]",
    "fractional_kernel": GOOD_INPUT + "layers: [{name: a, op: Conv2D, filters: 2, kernel_size: 2.5}]",
    "enormous_kernel": GOOD_INPUT + "layers: [{name: a, op: Conv2D, filters: 2, "
                       "kernel_size: 100000000000000000000}]",
    "nan_rate": GOOD_INPUT + "layers: [{name: a, op: Dropout, rate: .nan}]",
    "empty_output": "inputs: {x: [4, 4, 3]}\nlayers: [{name: a, op: Conv2D, filters: 2, kernel_size: 5}]",
    "rank_mismatch": "inputs: {x: [8, 3]}\nlayers: [{name: a, op: Conv2D, filters: 2, kernel_size: 3}]",
    "channel_mismatch": "inputs: {x: [8, 8, 3]}\nlayers: [{name: a, op: Conv2D, filters: 4, kernel_size: 1,"
                        " groups: 2}]",
    "merge_mismatch": "inputs: {x: [8, 8, 3], y: [4, 4, 3]}\nlayers: [{name: a, op: Add, inputs: [x, y]}]",
    "enormous_repeat": GOOD_INPUT + "blocks: {b: {layers: [{name: r, op: ReLU}]}}\n"
                       "layers: [{name: s, block: b, repeat: 100000000}]",
    "nested_blowup": GOOD_INPUT + "blocks: {a: {layers: [{name: r, op: ReLU}]}, "
                     "b: {layers: [{name: i, block: a, repeat: 10000}]}}\n"
                     "layers: [{name: s, block: b, repeat: 10000}]",
    "recursive_block": GOOD_INPUT + "blocks: {a: {layers: [{name: i, block: a}]}}\n"
                       "layers: [{name: s, block: a}]",
    "unicode_name": GOOD_INPUT + "layers: [{name: \"conv\u00e9\u202e\", op: ReLU}]",
    "quote_name": GOOD_INPUT + "layers: [{name: \"a'); import os; os.system('x') #\", op: ReLU}]",
    "newline_name": GOOD_INPUT + "layers: [{name: \"a\\nb\", op: ReLU}]",
    "backslash_name": GOOD_INPUT + "layers: [{name: \"a\\\\b\", op: ReLU}]",
    "expression_attack": GOOD_INPUT + "blocks: {b: {params: {f: 2}, layers: [{name: c, op: Conv2D,"
                         " filters: \"${__import__('os').getpid()}\", kernel_size: 1}]}}\n"
                         "layers: [{name: s, block: b}]",
    "huge_power": GOOD_INPUT + "blocks: {b: {params: {f: 2}, layers: [{name: c, op: Conv2D,"
                  " filters: \"${f ** 99999999}\", kernel_size: 1}]}}\nlayers: [{name: s, block: b}]",
    "channels_first": GOOD_INPUT + "layers: [{name: a, op: Conv2D, filters: 2, kernel_size: 1,"
                      " data_format: channels_first}]",
    "deep_nesting": "a: " + "[" * 200 + "]" * 200,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_spec_gets_one_line_and_exit_2(case, tmp_path, capsys):
    path = tmp_path / "spec.yaml"
    path.write_text(CASES[case], encoding="utf-8")
    start = time.perf_counter()
    code = main(["analyze", str(path), "--format", "json"])
    elapsed = time.perf_counter() - start
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == ""
    assert err.startswith("convplan: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert elapsed < 10, f"{case} took {elapsed:.1f} s"


def test_errors_name_the_layer_and_what_was_expected(tmp_path, capsys):
    path = tmp_path / "spec.yaml"
    path.write_text(CASES["empty_output"])
    main(["analyze", str(path)])
    err = capsys.readouterr().err
    assert "layer 'a' (Conv2D): output height would be 0" in err
    assert "needs an input of at least 5 rows under padding 'valid', received 4" in err


def test_missing_file_and_bad_usage_exit_2(tmp_path):
    for args in (["analyze", str(tmp_path / "absent.yaml")],
                 ["analyze", "examples/seed_cnn.yaml", "--input-size", "28by28"],
                 ["analyze", "examples/seed_cnn.yaml", "--input-size", "8x8x8"],
                 ["analyze"], ["no-such-command"]):
        proc = subprocess.run([sys.executable, "-m", "convplan", *args], capture_output=True,
                              text=True)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
