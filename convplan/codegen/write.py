"""Writing a project whole or not at all.

Every file is rendered in memory first; then the files go into a fresh temporary folder beside
the destination, which is renamed into place in one step. A failure at any point leaves the
destination as it was. A non-empty destination is only replaced with `force`, and only if an
earlier `convplan generate` wrote it (it holds MARKER): `--force` must never delete a folder of
someone's own files. Relative paths are checked so no file can land outside the destination.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from convplan.errors import UsageError, parameter_name

MARKER = ".convplan-generated"
MARKER_TEXT = ("This folder was written by `convplan generate`; `convplan generate --force` "
               "replaces it whole.\n")


def check_relative(path: str) -> PurePosixPath:
    """A file path inside the project: relative, no '..', no empty or dot parts."""
    pure = PurePosixPath(path)
    if (pure.is_absolute() or not pure.parts or "\\" in path
            or any(p in ("", ".", "..") for p in pure.parts) or ":" in pure.parts[0]):
        raise UsageError(f"refusing to write {path!r}: files must stay inside the project folder")
    return pure


def _inside(root: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def check_destination(out: Path, force: bool) -> None:
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise UsageError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise UsageError(f"{out} is not empty; pass {parameter_name('force')} to replace a "
                             "project convplan generated there")
        if not (out / MARKER).is_file():
            raise UsageError(f"{out} is not empty and was not written by convplan generate; "
                             f"refusing to replace it even with {parameter_name('force')} "
                             "(choose a new folder)")


def write_project(files: dict[str, str], out_dir: str | Path, force: bool = False) -> Path:
    """Write `files` ({relative path: text}) as the folder `out_dir`, atomically."""
    out = Path(out_dir)
    checked = {check_relative(rel): text for rel, text in files.items()}
    check_destination(out, force)
    parent = out.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent))
    old = None
    try:
        for rel, text in sorted(checked.items()):
            target = staging.joinpath(*rel.parts)
            if not _inside(staging, target):  # the staging folder is fresh: no links to follow
                raise UsageError(f"refusing to write {rel}: it resolves outside the project")
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
        os.chmod(staging, 0o755)  # mkdtemp makes it private; a project is an ordinary folder
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=parent))
            os.replace(out, old / "project")
        try:
            os.replace(staging, out)
        except OSError:
            if old is not None:
                os.replace(old / "project", out)
            raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if old is not None and out.exists():  # restored: the emptied backup folder can go
            shutil.rmtree(old, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return out
