"""RELIABILITY.md's table of hostile inputs, generated from the tests' own cases.

    python scripts/hostile_table.py > /tmp/hostile.md

Runs every case of tests/frontends/test_hostile_specs.py (spec text) and
tests/frontends/test_hostile_inputs.py
(Keras archives, Keras model JSON, the worst cases) through the real entry point in-process
(`convplan analyze`, and `import` for Keras files) and prints one Markdown row per case: the
input, the command, the exit code, the seconds it took and the line convplan printed (file
paths shortened to the file name). The tests assert the same outcomes; this only shows them.
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path[:0] = [str(TESTS), str(TESTS / "frontends")]

import test_hostile_inputs as H  # noqa: E402
import test_hostile_specs as S  # noqa: E402

from convplan.cli.main import main  # noqa: E402


def run(*args: object) -> tuple[int, str, float]:
    err = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main([str(a) for a in args])
    return code, err.getvalue().strip(), time.perf_counter() - start


def row(case: str, command: str, code: int, line: str, seconds: float, folder: Path) -> str:
    line = line.replace(str(folder) + "/", "").replace("|", "\\|").replace("\n", " ")
    line = line.removeprefix("convplan: error: ")
    if len(line) > 150:
        line = line[:147] + "..."
    case = case.replace("|", "\\|")
    return f"| {case} | `{command}` | {code} | {seconds:.2f} | {line} |"


def main_table() -> None:
    print("| input | command | exit | s | what convplan says |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for case, text in S.CASES.items():
            path = folder / f"{case}.yaml"
            path.write_text(text, encoding="utf-8")
            code, line, seconds = run("analyze", path, "--format", "json")
            print(row(f"spec: {case.replace('_', ' ')}", "analyze", code, line, seconds, folder))
        for index, (case, (make, _)) in enumerate(H.ARCHIVES.items()):
            path = folder / f"archive{index}.keras"
            make(path)
            for command in ("analyze", "import"):
                code, line, seconds = run(command, path)
                print(row(f".keras: {case}", command, code, line, seconds, folder))
        for index, (case, (mutate, _)) in enumerate(H.MODEL_JSON.items()):
            path = folder / f"model{index}.json"
            path.write_text(H.keras_json(mutate))
            code, line, seconds = run("import", path)
            print(row(f"model JSON: {case}", "import", code, line, seconds, folder))
        for case, (files, args, _) in H.WORST.items():
            for name, text in files.items():
                (folder / name).write_text(text)
            code, line, seconds = run("analyze", *[folder / a for a in args])
            print(row(f"{case}", "analyze", code, line, seconds, folder))
        path = H.flat_spec(folder / "flat.yaml", 100_000)
        code, line, seconds = run("analyze", path)
        print(row("spec of 100,000 layers (+ the input)", "analyze", code, line, seconds, folder))


if __name__ == "__main__":
    main_table()
