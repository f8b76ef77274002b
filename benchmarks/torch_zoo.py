"""The torchvision zoo table of docs/onnx.md, from the tests' own oracle (tests/torch_oracle.py):
each model built with weights=None, exported to ONNX once, imported by convplan, and compared
with PyTorch at two sizes (shapes, params, MACs; the receptive field at the small size).

    .venv/bin/python benchmarks/torch_zoo.py [--markdown] [NAME ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import torch_oracle as T  # noqa: E402

from convplan.frontends.onnx_model import load_onnx  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=[z.name for z in T.ZOO])
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    head = ("model", "size", "layers", "shapes", "params", "MACs", "RF", "export s", "params #",
            "MACs #")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.names:
            model = T.build(name)
            zoo_model = T.BY_NAME[name]
            path = Path(folder) / f"{name}.onnx"
            for size in T.SIZES:
                started = time.perf_counter()
                if size == T.SIZES[0] or zoo_model.static:
                    try:
                        seconds = T.export(model, path, zoo_model.fold_constants,
                                           size if zoo_model.static else None)
                        graph = load_onnx(path)
                    except Exception as exc:  # noqa: BLE001 - the table says why
                        rows.append((name, f"{size[0]}x{size[1]}", "-", "not read: "
                                     + str(exc).split(": ", 1)[-1][:90], "", "", "", "", "", ""))
                        graph = None
                    path.unlink(missing_ok=True)
                if graph is None:
                    continue
                row = T.compare(name, model, graph, size, check_field=size == T.SIZES[0])
                mark = {True: "equal", False: "DIFFERS", None: "-"}
                rows.append((name, f"{size[0]}x{size[1]}", str(row.layers), mark[row.shapes],
                             mark[row.params], mark[row.macs], mark[row.field],
                             f"{seconds:.0f}", f"{row.torch.params:,}", f"{row.torch.macs:,}"))
                print(f"# {name} {size}: {time.perf_counter() - started:.1f} s", file=sys.stderr,
                      flush=True)
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(x) for x in col) for col in zip(head, *rows)]
        for r in (head, *rows):
            print("  ".join(x.ljust(w) for x, w in zip(r, widths)))


if __name__ == "__main__":
    main()
