"""Atomic, validated reading and writing of JSON, JSONL and YAML files.

Everything the toolkit writes goes through :func:`atomic_write` (temporary file in the same folder,
fsync, rename) so an interrupted command never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from schemas.errors import ToolkitError

#: errno values that mean "the disk refused the write"; they become one line naming the file.
WRITE_ERRNOS = {
    errno.ENOSPC: "no space left on the device",
    errno.EFBIG: "file too large (file-size limit)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EISDIR: "is a folder, expected a file",
    errno.ENOTDIR: "a parent is not a folder",
}


def write_error(e: OSError, dest: str | os.PathLike) -> ToolkitError:
    """A one-line :class:`ToolkitError` for an OS-level write failure of ``dest`` (disk full, ...)."""
    what = WRITE_ERRNOS.get(e.errno or -1, e.strerror or str(e))
    return ToolkitError(
        f"cannot write: {what}; nothing was half-written, free space or fix it and rerun", file=str(dest)
    )


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``dest``; on success rename it onto ``dest``, else delete it.

    A disk-full, file-size-limit or permission failure becomes one :class:`ToolkitError` naming ``dest``;
    the temporary file is removed, ``dest`` keeps its old content.
    """
    dest = Path(dest)
    try:
        if dest.is_dir():
            raise IsADirectoryError(errno.EISDIR, "is a directory", str(dest))
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{dest.name}.", suffix=suffix or (dest.suffix or ".tmp"), dir=dest.parent
        )
    except OSError as e:
        raise write_error(e, dest) from None
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o644)  # mkstemp makes 0600; written files should read like any other
    try:
        yield tmp_path
        os.replace(tmp_path, dest)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        if isinstance(e, OSError) and e.errno in WRITE_ERRNOS:
            raise write_error(e, dest) from None
        raise


def atomic_write(dest: str | os.PathLike, data: str | bytes) -> None:
    """Write ``data`` to ``dest`` atomically (temporary file + fsync + rename)."""
    with atomic_path(dest) as tmp:
        mode = "wb" if isinstance(data, bytes) else "w"
        with open(tmp, mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def dumps(obj: Any) -> str:
    """Canonical pretty JSON (stable key order is the caller's; UTF-8 kept)."""
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def write_json(dest: str | os.PathLike, obj: Any) -> None:
    """Atomically write ``obj`` as indented UTF-8 JSON."""
    atomic_write(dest, dumps(obj))


def write_jsonl(dest: str | os.PathLike, rows: Iterable[Any]) -> None:
    """Atomically write one compact JSON object per line."""
    atomic_write(dest, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file; a missing or malformed file is a one-line :class:`ToolkitError`."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise ToolkitError("file not found", file=str(path)) from None
    except IsADirectoryError:
        raise ToolkitError("is a folder, expected a JSON file", file=str(path)) from None
    except UnicodeDecodeError as e:
        raise ToolkitError(f"not UTF-8 text (byte {e.start})", file=str(path)) from None
    except json.JSONDecodeError as e:
        raise ToolkitError(
            f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}", file=str(path)
        ) from None


def read_jsonl(path: str | os.PathLike, *, kind: str | None = None) -> list[Any]:
    """Read a JSONL file (blank lines skipped); errors name the file and line.

    ``kind``: validate every row against that schema (errors name ``file:line`` and the JSON path).
    """
    path = Path(path)
    rows, lines = [], []
    try:
        with open(path, encoding="utf-8") as fh:
            for i, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                        lines.append(i)
                    except json.JSONDecodeError as e:
                        raise ToolkitError(
                            f"invalid JSON: {e.msg}", file=str(path), key=f"line {i}"
                        ) from None
    except FileNotFoundError:
        raise ToolkitError("file not found", file=str(path)) from None
    except IsADirectoryError:
        raise ToolkitError("is a folder, expected a JSONL file", file=str(path)) from None
    except UnicodeDecodeError as e:
        raise ToolkitError(f"not UTF-8 text (byte {e.start})", file=str(path)) from None
    if kind is not None:
        from schemas import check

        for i, row in zip(lines, rows):
            check(kind, row, file=f"{path}:{i}")
    return rows


def _unique_key_loader():
    """A ``yaml.SafeLoader`` that rejects a key given twice in one mapping (PyYAML keeps the last)."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                try:
                    hash(key)
                except TypeError:
                    continue  # the base class reports unhashable keys
                if key in seen:
                    first = seen[key]
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"duplicate key {key!r} (first at line {first.line + 1})",
                        key_node.start_mark,
                    )
                seen[key] = key_node.start_mark
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader


def read_yaml(path: str | os.PathLike) -> Any:
    """Read a YAML file; syntax errors and a key given twice name the file, line and column."""
    import yaml

    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.load(fh, Loader=_unique_key_loader())
    except FileNotFoundError:
        raise ToolkitError("file not found", file=str(path)) from None
    except IsADirectoryError:
        raise ToolkitError("is a folder, expected a YAML file", file=str(path)) from None
    except UnicodeDecodeError as e:
        raise ToolkitError(f"not UTF-8 text (byte {e.start})", file=str(path)) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark else None
        raise ToolkitError(f"invalid YAML: {getattr(e, 'problem', e)}", file=str(path), key=where) from None
