"""Hostile and broken input through the real CLI, beyond spec text (tests/frontends/test_hostile_specs.py):
Keras model files (.keras archives and model JSON) through `analyze`, `check` and `import`,
enormous layer counts, output paths, and the worst cases again under a memory limit.

Every refusal is one line on stderr starting "convplan: error: " (never a traceback, never
"internal error"), exit code 2, nothing on stdout (`check` prints its summary there), nothing
written, in bounded time. RELIABILITY.md's table of hostile inputs is this file's cases.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import pytest
from cli_run import EXAMPLES, ROOT, clean_env, one_error_line, run_main
from test_keras_import import CONV, layer, model

SECONDS = 10  # every refusal below, in-process, on a loaded 2-core machine
MEMORY_MIB = 512  # the address space the worst cases get in a subprocess (a normal run: ~60)
GIB = 1 << 30


# ---------------------------------------------------------------- hostile files


def deflate_bomb(path: Path, inflated: int, declared: int | None = None) -> Path:
    """A .keras whose config.json inflates to `inflated` bytes of spaces (after a JSON
    opening), from a file of about inflated / 1000 bytes, written in well under a second: one
    compressed 16 MiB block repeated (each block ends with a full flush, so blocks do not refer
    back). `declared` is the size the zip headers claim (a lying header when smaller)."""
    head = b'{"class_name": "Functional", "config": {"layers": [], "pad": "'
    chunk = 16 << 20
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(b" " * chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    count = (inflated - len(head)) // chunk
    data = start + block * count + compressor.flush(zlib.Z_FINISH)
    size = len(head) + count * chunk if declared is None else declared
    name = b"config.json"
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, 0, len(data), size,
                        len(name), 0) + name
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, 0, len(data),
                          size, len(name), 0, 0, 0, 0, 0, 0) + name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central),
                      len(local) + len(data), 0)
    path.write_bytes(local + data + central + end)
    return path


def many_entries(path: Path, count: int) -> Path:
    """A zip of `count` empty stored entries, written directly (zipfile.writestr is slow)."""
    local, central = bytearray(), bytearray()
    for i in range(count):
        name = str(i).encode()
        offset = len(local)
        local += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0, 0, 0, 0, len(name),
                             0) + name
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0, 0, 0, 0,
                               len(name), 0, 0, 0, 0, 0, offset) + name
    entries = min(count, 0xFFFF)
    path.write_bytes(bytes(local + central) + struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, entries, entries, len(central), len(local), 0))
    return path


def archive(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as handle:
        for name, data in files.items():
            handle.writestr(name, data)
    return path


GOOD = model(layer("Conv2D", "conv", ["x"], **CONV))


def keras_json(mutate) -> str:
    data = json.loads(json.dumps(GOOD))
    mutate(data)
    return json.dumps(data)


def _set(path: list, value):
    def mutate(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return mutate


ARCHIVES = {
    # name: (how to make the file at path, words the error must hold)
    "not a zip, .keras suffix": (lambda p: p.write_text("name: spec\n"), "not a .keras archive"),
    "empty .keras file": (lambda p: p.write_bytes(b""), "not a .keras archive"),
    "truncated archive": (lambda p: p.write_bytes(archive(p.with_suffix(".zip"), {
        "config.json": json.dumps(GOOD).encode(), "model.weights.h5": os.urandom(20_000)})
        .read_bytes()[:12_000]), "not a .keras archive"),
    "zip bomb: config.json inflates to 1 GiB": (
        lambda p: deflate_bomb(p, GIB), "configs larger than 8 MiB are refused"),
    "zip bomb with a lying size header (1 GiB, says 100 bytes)": (
        lambda p: deflate_bomb(p, GIB, declared=100), "damaged or unsupported"),
    "200,000 entries": (lambda p: many_entries(p, 200_000), "a .keras archive holds a few"),
    "no config.json": (lambda p: archive(p, {"metadata.json": b"{}"}), "holds no config.json"),
    "config.json not JSON": (lambda p: archive(p, {"config.json": b"\x00garbage"}),
                             "is not"),
    "config.json nested 100,000 deep": (
        lambda p: archive(p, {"config.json": b"[" * 100_000 + b"]" * 100_000}), "nests"),
    "a folder named .keras": (lambda p: p.mkdir(), "is a directory"),
}

MODEL_JSON = {
    "inbound_nodes a string": (_set(["config", "layers", 1, "inbound_nodes"], "garbage"),
                               "'inbound_nodes' must be a JSON list"),
    "inbound_nodes without tensors": (_set(["config", "layers", 1, "inbound_nodes"],
                                           [{"args": 5}]), "without tensor inputs"),
    "inbound node of the wrong form": (_set(["config", "layers", 1, "inbound_nodes"],
                                            [[["x", "a", 0, {}]]]), "malformed inbound node"),
    "unknown layer class": (_set(["config", "layers", 1, "class_name"], "Lambda"), "Lambda"),
    "class name not a string": (_set(["config", "layers", 1, "class_name"], 7), "7"),
    "layers not a list": (_set(["config", "layers"], {"a": 1}), "must be a JSON list"),
    "no config": (lambda d: d.pop("config"), ""),
    "cycle": (lambda d: d["config"].update(layers=model(
        layer("ReLU", "a", ["b"]), layer("ReLU", "b", ["a"]))["config"]["layers"],
        output_layers=[["b", 0, 0]]), "'b'"),
    "self-loop": (lambda d: d["config"].update(layers=model(layer("ReLU", "a", ["a"]))
                                               ["config"]["layers"],
                                               output_layers=[["a", 0, 0]]), "'a'"),
    "unknown output layer": (_set(["config", "output_layers"], [["nowhere", 0, 0]]),
                             "nowhere"),
    "NaN filters": (_set(["config", "layers", 1, "config", "filters"], float("nan")),
                    "'filters' must be an integer"),
    "negative kernel": (_set(["config", "layers", 1, "config", "kernel_size"], [-3, 3]),
                        "kernel_size"),
    "duplicate layer names": (lambda d: d["config"]["layers"].append(
        json.loads(json.dumps(d["config"]["layers"][1]))), "conv"),
}


def assert_refused(code: int, out: str, err: str, elapsed: float, command: str,
                   words: str) -> str:
    line = one_error_line(err)
    assert code == 2, err
    assert "Traceback" not in err and "internal error" not in line, line
    assert words in line, line
    assert command == "check" or out == "", out
    assert "All checks passed" not in out  # check's summary said so when no file was read
    assert elapsed < SECONDS, f"{elapsed:.1f} s"
    return line


@pytest.fixture(scope="module")
def hostile_archives(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("archives")
    made = {}
    for index, (case, (make, _)) in enumerate(ARCHIVES.items()):
        path = folder / f"case{index}.keras"
        make(path)
        made[case] = path
    return made


@pytest.mark.parametrize("command", ["analyze", "check", "import"])
@pytest.mark.parametrize("case", list(ARCHIVES))
def test_hostile_keras_archive(case, command, hostile_archives, tmp_path, capsys):
    if command == "check" and case == "a folder named .keras":
        return  # check reads a folder as the specs inside it (none here): not an error
    output = tmp_path / "out" / "written.yaml"
    output.parent.mkdir()
    args = [command, hostile_archives[case]] + (["-o", output] if command != "check" else [])
    start = time.perf_counter()
    code, out, err = run_main(capsys, *args)
    assert_refused(code, out, err, time.perf_counter() - start, command, ARCHIVES[case][1])
    assert not any(output.parent.iterdir()), "nothing may be written"


@pytest.mark.parametrize("command", ["analyze", "check", "import"])
@pytest.mark.parametrize("case", list(MODEL_JSON))
def test_hostile_keras_model_json(case, command, tmp_path, capsys):
    mutate, words = MODEL_JSON[case]
    source = tmp_path / "model.json"
    source.write_text(keras_json(mutate))
    output = tmp_path / "out" / "written.yaml"
    output.parent.mkdir()
    args = [command, source] + (["-o", output] if command != "check" else [])
    start = time.perf_counter()
    code, out, err = run_main(capsys, *args)
    assert_refused(code, out, err, time.perf_counter() - start, command, words)
    assert not any(output.parent.iterdir()), "nothing may be written"


def test_the_good_model_json_is_accepted(tmp_path, capsys):
    """The mutations above break a model the three commands accept as it is."""
    source = tmp_path / "model.json"
    source.write_text(json.dumps(GOOD))
    for command in ("analyze", "check", "import"):
        code, out, err = run_main(capsys, command, source)
        assert code == 0 and out and not err, (command, err)


# ---------------------------------------------------------------- the zip directory guard


def with_zip64_end(path: Path, entries: int, claimed: int, gap: bytes = b"") -> Path:
    """The zip at `path` with its end record replaced by ZIP64 end records that hold the true
    directory (`entries` entries), and an end record claiming `claimed` entries in a directory
    of 46 bytes per entry (0xFFFF: the honest "see ZIP64" placeholder). `gap` (the record's
    "extensible data") sits between the ZIP64 record and its locator, so only a reader that
    follows the locator's offset finds the record."""
    raw = path.read_bytes()
    size, offset = struct.unpack_from("<II", raw, len(raw) - 10)  # the 22-byte end, no comment
    body = raw[:-22]
    record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44 + len(gap), 45, 45, 0, 0, entries,
                         entries, size, offset) + gap
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, len(body), 1)
    small = 0xFFFFFFFF if claimed == 0xFFFF else 46 * claimed
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, claimed, claimed, small,
                      0xFFFFFFFF if claimed == 0xFFFF else offset, 0)
    path.write_bytes(body + record + locator + end)
    return path


def test_the_directory_guard_needs_no_private_zipfile_name(tmp_path, capsys, monkeypatch):
    """The end records are read with struct: with zipfile's private end-record reader gone,
    200,000 entries are still refused before zipfile lists them."""
    for name in ("_EndRecData", "_EndRecData64", "_ECD_ENTRIES_TOTAL", "_ECD_SIZE"):
        monkeypatch.delattr(zipfile, name)
    path = many_entries(tmp_path / "many.zip", 200_000)
    directory = sum(46 + len(str(i)) for i in range(200_000))  # header and name per entry
    for command in ("analyze", "check", "import"):
        code, out, err = run_main(capsys, command, path)
        assert_refused(code, out, err, 0, command, f"lists 65535 files in a {directory}-byte")


@pytest.mark.parametrize("gap", [b"", b"extensible data"], ids=["adjacent", "with a gap"])
def test_a_zip64_directory_is_sized_from_its_zip64_record(tmp_path, capsys, gap):
    """An end record that says 3 entries in 138 bytes while the ZIP64 record says 200,000:
    the ZIP64 counts are the ones zipfile lists, so the guard takes them."""
    path = with_zip64_end(many_entries(tmp_path / "many.keras", 200_000), 200_000, 3, gap)
    code, out, err = run_main(capsys, "analyze", path)
    assert_refused(code, out, err, 0, "analyze", "lists 200000 files")


def test_an_honest_zip64_archive_is_read(tmp_path, capsys):
    path = archive(tmp_path / "zip64.keras", {"metadata.json": b"{}",
                                              "config.json": json.dumps(GOOD).encode()})
    with_zip64_end(path, 2, 0xFFFF)
    with zipfile.ZipFile(path) as handle:  # zipfile reads it as ZIP64 too
        assert handle.namelist() == ["metadata.json", "config.json"]
    code, out, err = run_main(capsys, "analyze", path, "--format", "json", "--no-symbolic")
    assert code == 0 and json.loads(out)["totals"]["params"] == 4 * (3 * 3 * 3 + 1), err


# ---------------------------------------------------------------- enormous layer counts


def flat_spec(path: Path, layers: int) -> Path:
    lines = ["name: flat", "inputs: {x: [8, 8, 3]}", "layers:"]
    lines += [f"  - {{name: r{i}, op: ReLU}}" for i in range(layers)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_10k_layer_spec_is_analyzed_in_seconds(tmp_path, capsys):
    start = time.perf_counter()
    code, out, _ = run_main(capsys, "analyze", flat_spec(tmp_path / "flat.yaml", 10_000),
                            "--format", "json", "--no-symbolic")
    assert code == 0 and json.loads(out)["output_shape"] == [None, 8, 8, 3]
    assert time.perf_counter() - start < 30


# ---------------------------------------------------------------- output paths


def test_a_report_goes_exactly_where_asked_even_outside_the_folder(tmp_path, capsys,
                                                                   monkeypatch):
    """`-o ../../report.json` is the user's own path (as with any shell command): honoured,
    written whole (a temporary file beside it, renamed), nothing else left behind."""
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    code, out, err = run_main(capsys, "analyze", EXAMPLES / "seed_cnn.yaml", "-o",
                              "../../report.json")
    assert code == 0 and out == "" and err == ""
    assert json.loads((tmp_path / "report.json").read_text())["name"] == "seed_cnn"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "b", "report.json"]


@pytest.mark.parametrize("command", ["analyze", "plot", "import"])
def test_unwritable_outputs_are_refused_before_any_work(command, tmp_path, capsys):
    source = EXAMPLES / "seed_cnn.yaml"
    if command == "import":
        source = tmp_path / "model.json"
        source.write_text(json.dumps(GOOD))
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "a_folder.svg").mkdir()
    for target in (tmp_path / "missing" / "out.svg", tmp_path / "a_file" / "out.svg",
                   tmp_path / "a_folder.svg"):
        before = sorted(tmp_path.rglob("*"))
        code, out, err = run_main(capsys, command, source, "-o", target)
        assert_refused(code, out, err, 0, command, "")
        assert sorted(tmp_path.rglob("*")) == before, target


@pytest.mark.parametrize("command", ["analyze", "plot", "import"])
def test_bad_input_leaves_no_file_and_no_temporary(command, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("inputs: {x: [4, 4, 3]}\nlayers: [{name: a, op: Conv2D, filters: 2, "
                   "kernel_size: 5}]\n")
    (tmp_path / "out").mkdir()
    code, out, err = run_main(capsys, command, bad, "-o", tmp_path / "out" / "report.svg")
    assert_refused(code, out, err, 0, command, "")
    assert not any((tmp_path / "out").iterdir())


def test_a_symlinked_output_is_replaced_not_written_through(tmp_path, capsys):
    """Writing replaces the link itself (rename over it), so a link planted at the output path
    cannot redirect the write into another file."""
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    link = tmp_path / "report.json"
    link.symlink_to(precious)
    code, _, _ = run_main(capsys, "analyze", EXAMPLES / "seed_cnn.yaml", "-o", link)
    assert code == 0
    assert precious.read_text() == "keep me"
    assert not link.is_symlink() and json.loads(link.read_text())["name"] == "seed_cnn"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    from convplan.report import files

    target = tmp_path / "report.json"
    target.write_text("old")

    def fail(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", fail)
    with pytest.raises(OSError):
        files.write_text_atomic(target, "new" * 1000)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


# ---------------------------------------------------------------- under a memory limit

LIMITED = """
import resource, sys, time
limit = {mib} << 20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from convplan.cli.main import main
start = time.perf_counter()
code = main(sys.argv[1:])
print(f"elapsed {{time.perf_counter() - start:.2f}}", file=sys.stdout)
sys.exit(code)
"""


def run_limited(*args, mib: int = MEMORY_MIB) -> subprocess.CompletedProcess:
    """The CLI in a subprocess whose address space is capped: a bomb that got through would
    fail with MemoryError (an "internal error" line) instead of exhausting the machine."""
    return subprocess.run([sys.executable, "-c", LIMITED.format(mib=mib), *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, env=clean_env(),
                          timeout=120)


def test_the_memory_limit_bites(tmp_path):
    """The cap is real here (containers may ignore it): allocating 1 GiB under it fails, and a
    normal analysis runs under it."""
    allocate = "import resource; resource.setrlimit(resource.RLIMIT_AS, (512 << 20,) * 2); " \
               "bytearray(1 << 30)"
    proc = subprocess.run([sys.executable, "-c", allocate], capture_output=True, text=True)
    assert proc.returncode != 0 and "MemoryError" in proc.stderr
    proc = run_limited("analyze", EXAMPLES / "resnet50.yaml", "-o", tmp_path / "r.json")
    assert proc.returncode == 0, proc.stderr


WORST = {
    # name: (files to make in tmp_path, args after the command, words)
    "alias bomb": ({"s.yaml": "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{k}: &{k} [{', '.join(['*' + p] * 9)}]\n" for p, k in zip("abcdefgh", "bcdefghi"))},
        ["s.yaml"], "aliases"),
    "nested block blow-up": ({"s.yaml": "inputs: {x: [8, 8, 3]}\nblocks: {a: {layers: [{name: "
                              "r, op: ReLU}]}, b: {layers: [{name: i, block: a, repeat: 10000}]}}"
                              "\nlayers: [{name: s, block: b, repeat: 10000}]\n"},
                             ["s.yaml"], "100000"),
    "huge power in an expression": ({"s.yaml": "inputs: {x: [8, 8, 3]}\nblocks: {b: {params: "
                                     "{f: 2}, layers: [{name: c, op: Conv2D, filters: "
                                     "\"${f ** 99999999}\", kernel_size: 1}]}}\n"
                                     "layers: [{name: s, block: b}]\n"}, ["s.yaml"], ""),
    "deep JSON nesting": ({"s.json": "[" * 200_000 + "]" * 200_000}, ["s.json"], ""),
}


@pytest.mark.parametrize("case", list(WORST) + ["zip bomb (1 GiB)", "lying zip bomb",
                                                "200,000 zip entries", "100,001 layers"])
def test_worst_cases_under_a_memory_limit(case, tmp_path, hostile_archives):
    if case in WORST:
        files, args, words = WORST[case]
        for name, text in files.items():
            (tmp_path / name).write_text(text)
        args = [tmp_path / a for a in args]
    elif case == "100,001 layers":
        # 100,000 layers and the input: one past the limit, refused after the parse.
        args, words = [flat_spec(tmp_path / "flat.yaml", 100_000)], "more than 100000 layers"
    else:
        key = {"zip bomb (1 GiB)": "zip bomb: config.json inflates to 1 GiB",
               "lying zip bomb": "zip bomb with a lying size header (1 GiB, says 100 bytes)",
               "200,000 zip entries": "200,000 entries"}[case]
        args, words = [hostile_archives[key]], ARCHIVES[key][1]
    commands = ("analyze", "check") if case in WORST else ("analyze", "check", "import")
    if case == "100,001 layers":
        commands = ("analyze",)  # 8 s of YAML parsing per run
    for command in commands:
        out = tmp_path / "out"
        out.mkdir(exist_ok=True)
        written = ["-o", out / "x.yaml"] if command != "check" else []
        proc = run_limited(command, *args, *written)
        line = one_error_line(proc.stderr)
        assert proc.returncode == 2 and "internal error" not in line and words in line, line
        assert not any(out.iterdir())
        assert float(proc.stdout.split()[-1]) < 60, proc.stdout
