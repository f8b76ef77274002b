"""Reading a .keras archive's `config.json`, bounded: weights are never opened, and neither a
zip bomb, a lying size header nor an enormous directory can exhaust memory or time.

The zip directory is sized from its end records before `zipfile` lists it (zipfile makes one
object per entry: a million empty entries, an 88 MB file, took 13 s and 550 MB to list). The
records are read here with `struct`, as APPNOTE.TXT §4.3.14-16 lays them out and `zipfile`
finds them, so the guard depends on no private name of `zipfile`.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from convplan.errors import SpecError
from convplan.frontends.loader import MAX_BYTES

MAX_ARCHIVE_ENTRIES = 10_000
MAX_DIRECTORY_BYTES = 1024 * 1024  # a .keras archive's directory lists 3 files in ~200 bytes

# What every zip starts with: a local file header, or (no entries) the end record itself.
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# End of central directory: signature, this disk, directory's disk, entries on this disk,
# entries in all, directory size, directory offset, comment length; then the comment.
END = struct.Struct("<4s4H2LH")
END_SIGNATURE = b"PK\x05\x06"
MAX_COMMENT = 0xFFFF
# ZIP64 end locator (just before the end record): signature, disk of the ZIP64 record, its
# offset, number of disks.
LOCATOR64 = struct.Struct("<4sLQL")
LOCATOR64_SIGNATURE = b"PK\x06\x07"
# ZIP64 end record: signature, record size, versions made by and needed, this disk,
# directory's disk, entries on this disk, entries in all, directory size, directory offset.
END64 = struct.Struct("<4sQ2H2L4Q")
END64_SIGNATURE = b"PK\x06\x06"


@dataclass(frozen=True)
class ZipDirectory:
    """What a zip's end records say of its central directory."""

    entries: int
    size: int  # bytes


def starts_like_zip(head: bytes) -> bool:
    return head[:4] in ZIP_MAGIC


def read_zip_directory(handle: IO[bytes]) -> ZipDirectory | None:
    """The directory's entry count and size from the end records, or None: not a zip (or
    truncated). The end record is the one zipfile reads: the last 22 bytes when they are one
    without a comment, else the last signature in the final 64 KiB + 22 bytes. Where ZIP64
    records follow, their counts replace the 16- and 32-bit ones (as in zipfile); of the two
    places a ZIP64 record may sit (just before the locator, or where the locator points), the
    larger counts are taken, so no reading of them lists more than the guard allowed."""
    handle.seek(0, 2)
    file_size = handle.tell()
    tail_start = max(file_size - END.size - MAX_COMMENT, 0)
    handle.seek(tail_start)
    tail = handle.read()
    at = len(tail) - END.size
    if not (at >= 0 and tail[at:at + 4] == END_SIGNATURE and tail[-2:] == b"\0\0"):
        at = tail.rfind(END_SIGNATURE)
    if at < 0 or len(tail) - at < END.size:
        return None
    entries, size = END.unpack_from(tail, at)[4:6]
    zip64 = _zip64_directories(handle, tail_start + at)
    if zip64:
        entries, size = max(d.entries for d in zip64), max(d.size for d in zip64)
    return ZipDirectory(entries, size)


def _zip64_directories(handle: IO[bytes], end_offset: int) -> list[ZipDirectory]:
    if end_offset < LOCATOR64.size:
        return []
    handle.seek(end_offset - LOCATOR64.size)
    signature, _, record_offset, _ = LOCATOR64.unpack(handle.read(LOCATOR64.size))
    if signature != LOCATOR64_SIGNATURE:
        return []
    found = []
    for at in {end_offset - LOCATOR64.size - END64.size, record_offset}:
        if at < 0:
            continue
        handle.seek(at)
        data = handle.read(END64.size)
        if len(data) == END64.size and data[:4] == END64_SIGNATURE:
            entries, size = END64.unpack(data)[7:9]
            found.append(ZipDirectory(entries, size))
    return found


def check_directory(path: Path, directory: ZipDirectory) -> None:
    """Refuse an enormous zip directory before zipfile lists it."""
    if directory.entries > MAX_ARCHIVE_ENTRIES or directory.size > MAX_DIRECTORY_BYTES:
        raise SpecError(f"{path} lists {directory.entries} files in a {directory.size}-byte "
                        "directory; a .keras archive holds a few")


def read_archive_config(path: str | Path) -> dict:
    """The model config inside a .keras archive: config.json, read with a bounded size so a zip
    bomb or a lying header cannot exhaust memory; weights are never opened."""
    path = Path(path)
    if not path.exists():
        raise SpecError(f"{path}: no such file")
    if path.is_dir():
        raise SpecError(f"{path} is a folder, expected a .keras archive (a SavedModel folder is "
                        "not read; save with model.save('model.keras'))")
    import zipfile  # here: every analysis imports this module, few read an archive

    try:
        with open(path, "rb") as handle:
            directory = read_zip_directory(handle)
        if directory is None:
            raise SpecError(f"{path} is not a .keras archive (not a zip file, or truncated)")
        check_directory(path, directory)
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_ARCHIVE_ENTRIES:
                raise SpecError(f"{path} holds {len(infos)} files; a .keras archive holds a few")
            info = next((i for i in infos if i.filename == "config.json"), None)
            if info is None:
                raise SpecError(f"{path} holds no config.json; is it a Keras 3 archive written "
                                "by model.save('model.keras')?")
            if info.file_size > MAX_BYTES:
                raise SpecError(f"{path}: config.json is {info.file_size} bytes; configs larger "
                                f"than {MAX_BYTES // (1024 * 1024)} MiB are refused")
            with archive.open(info) as stream:
                raw = stream.read(MAX_BYTES + 1)  # never inflate more than the limit
    except SpecError:
        raise
    except (zipfile.BadZipFile, zlib.error, struct.error, EOFError, NotImplementedError,
            RuntimeError, ValueError, OSError) as exc:
        raise SpecError(f"{path} is a damaged or unsupported .keras archive ({exc})") from None
    if len(raw) > MAX_BYTES:
        raise SpecError(f"{path}: config.json inflates to more than "
                        f"{MAX_BYTES // (1024 * 1024)} MiB; refused")
    return parse_config_json(raw, f"{path}: config.json")


def parse_config_json(raw: bytes | str, source: str) -> Any:
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return json.loads(text)
    except UnicodeDecodeError:
        raise SpecError(f"{source} is not UTF-8 text") from None
    except RecursionError:
        raise SpecError(f"{source} nests too deeply") from None
    except ValueError as exc:
        raise SpecError(f"{source} is not valid JSON ({exc})") from None
