"""Writing output files atomically: a failing command never leaves a partial file, and an
earlier output stays intact until the new one is complete. Only a regular file is ever
replaced: a folder, a symbolic link, a FIFO or a device at the path is refused."""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from .errors import CnnUsageError
from .syntax.files import file_kind, shown_path


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write `data` to `path` through a temporary file in the same folder, then rename."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    _check_target(path)
    if not folder.is_dir():
        raise CnnUsageError(f"{shown_path(path)}: the folder {shown_path(folder)} does not exist")
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise CnnUsageError(f"{path}: cannot write there ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
        os.chmod(tmp, _mode_for(path))  # mkstemp makes it 0600
        _check_target(path)  # again: something else may have appeared there meanwhile
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _check_target(path: Path) -> None:
    """Refuse to replace anything but a regular file (or a path that does not exist)."""
    shown = shown_path(path)
    if "\0" in str(path):
        raise CnnUsageError(f"{shown}: an output path cannot contain a NUL character")
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise CnnUsageError(f"{shown}: cannot write there ({exc.strerror})") from None
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise CnnUsageError(f"{shown}: is a folder", hint="give the path of a file to write")
    raise CnnUsageError(f"{shown}: is {file_kind(mode)}; cnndsl replaces only regular files",
                        hint="remove it first, or write somewhere else")


def _mode_for(path: Path) -> int:
    """The mode `open(path, "w")` would leave: the replaced file's own, or 0666 less the
    umask for a new file."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0o022)  # reading the umask means setting it; put it back at once
        os.umask(umask)
        return 0o666 & ~umask
