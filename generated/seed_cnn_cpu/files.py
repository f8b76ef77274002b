"""Paths that may be local or remote (gs://, s3://, hdfs://): through tf.io.gfile when the
path has a scheme (TensorFlow must then be installed, whatever the Keras backend), else the
local file system. Keras's own callbacks (checkpoints, backups) do the same."""

import json
import os
from pathlib import Path


def remote(path: str) -> bool:
    return "://" in str(path)


def _gfile():
    try:
        import tensorflow as tf
    except ImportError:
        raise OSError("paths such as gs://... are read through tf.io.gfile: pip install "
                      "tensorflow (or tensorflow-cpu)") from None
    return tf.io.gfile


def join(*parts: str) -> str:
    first = str(parts[0])
    return "/".join([first.rstrip("/"), *map(str, parts[1:])]) if remote(first) \
        else str(Path(first, *parts[1:]))


def makedirs(path: str) -> None:
    _gfile().makedirs(path) if remote(path) else Path(path).mkdir(parents=True, exist_ok=True)


def exists(path: str) -> bool:
    return _gfile().exists(path) if remote(path) else os.path.exists(path)


def isdir(path: str) -> bool:
    return _gfile().isdir(path) if remote(path) else os.path.isdir(path)


def listdir(path: str) -> list[str]:
    """Entry names, sorted, without trailing slashes."""
    names = _gfile().listdir(path) if remote(path) else os.listdir(path)
    return sorted(name.rstrip("/") for name in names)


def read_bytes(path: str) -> bytes:
    if remote(path):
        with _gfile().GFile(path, "rb") as handle:
            return handle.read()
    return Path(path).read_bytes()


def write_text(path: str, text: str) -> None:
    if remote(path):
        with _gfile().GFile(path, "w") as handle:
            handle.write(text)
    else:
        Path(path).write_text(text, encoding="utf-8")


def write_bytes(path: str, content: bytes) -> None:
    if remote(path):
        with _gfile().GFile(path, "wb") as handle:
            handle.write(content)
    else:
        Path(path).write_bytes(content)


def write_json(path: str, value) -> None:
    write_text(path, json.dumps(value, indent=2) + "\n")


def rmtree(path: str) -> None:
    if remote(path):
        if _gfile().exists(path):
            _gfile().rmtree(path)
    else:
        import shutil

        shutil.rmtree(path, ignore_errors=True)


def copytree(source: str, destination: str) -> None:
    if not remote(source) and not remote(destination):
        import shutil

        shutil.copytree(source, destination)
        return
    gfile = _gfile()
    for folder, _, names in gfile.walk(source):
        target = join(destination, folder[len(source):].lstrip("/")) if folder != source \
            else destination
        gfile.makedirs(target)
        for name in names:
            gfile.copy(join(folder, name), join(target, name), overwrite=True)
