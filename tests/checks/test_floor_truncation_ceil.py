"""CP104 (floor-truncation) with ceil_mode: reported exactly where PyTorch's pooling leaves
an input row out of every window. Measured: the gradient of a ceil_mode average pooling's
sum (count_include_pad off) is zero exactly on the rows no window reads."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convplan.checks import check_file

torch = pytest.importorskip("torch")

SPEC = """\
inputs: {{image: [{n}, 8, 1]}}
layers:
  - {{name: pool, op: MaxPooling2D, pool_size: [{k}, 1], strides: [{s}, 1], ceil_mode: {ceil}}}
"""


def torch_rows_missed(n: int, k: int, s: int, ceil: bool) -> int:
    x = torch.zeros(1, 1, n, 1, requires_grad=True)
    torch.nn.functional.avg_pool2d(x, (k, 1), (s, 1), ceil_mode=ceil,
                                   count_include_pad=False).sum().backward()
    return int((x.grad.reshape(-1) == 0).sum())


def cp104_fires(tmp_path, n: int, k: int, s: int, ceil: bool) -> bool:
    path = tmp_path / f"p{n}_{k}_{s}_{ceil}.yaml"
    path.write_text(SPEC.format(n=n, k=k, s=s, ceil=str(ceil).lower()))
    report = check_file(path, isolated=True)
    assert report.error is None, report.error
    return any(f.code == "CP104" for f in report.findings)


def test_ceil_mode_3x2_pool_at_56_reaches_every_row(tmp_path):
    # ResNet's stem pool as PyTorch writes it with ceil_mode: (56 - 3) / 2 rounds up to 27,
    # so 28 windows, the last on rows 54..55 (floor mode stops at 53 and drops row 55).
    assert torch_rows_missed(56, 3, 2, True) == 0
    assert not cp104_fires(tmp_path, 56, 3, 2, True)
    assert torch_rows_missed(56, 3, 2, False) == 1
    assert cp104_fires(tmp_path, 56, 3, 2, False)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(4, 40), k=st.integers(2, 4), s=st.integers(2, 4), ceil=st.booleans())
def test_cp104_fires_exactly_where_torch_misses_rows(tmp_path_factory, n, k, s, ceil):
    if k < s:
        return  # windows skip rows by design; CP104 does not report them
    fires = cp104_fires(tmp_path_factory.mktemp("cp104"), n, k, s, ceil)
    assert fires == (torch_rows_missed(n, k, s, ceil) > 0)
