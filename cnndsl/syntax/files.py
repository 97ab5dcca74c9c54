"""Reading spec files: regular files only, and never more than the parser accepts.

A FIFO, a device (`/dev/zero`), a socket or a folder is refused before a byte is read, so
that no path given to cnndsl can block it or feed it without end.
"""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from .parser import MAX_FILE_BYTES

MAX_SHOWN_PATH = 80  # longer paths are shortened in messages


class UnreadableFile(Exception):
    """Why a spec file cannot be read, in words: `no such file`, `is a folder`, ..."""


def read_spec_bytes(path: str | Path) -> bytes:
    """The bytes of the spec file at `path` (at most MAX_FILE_BYTES + 1 of them, so that
    the parser reports a file too large), or `UnreadableFile`."""
    name = os.fspath(path)
    if "\0" in name:
        raise UnreadableFile("the path contains a NUL character")
    try:
        _check_kind(os.stat(name).st_mode)
        # O_NONBLOCK: should the path have become a FIFO since the stat, opening it does
        # not wait for a writer; the fstat below then refuses it.
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise UnreadableFile(_reason(exc)) from None
    with os.fdopen(fd, "rb") as handle:
        _check_kind(os.fstat(fd).st_mode)
        try:
            return handle.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise UnreadableFile(_reason(exc)) from None


def _check_kind(mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise UnreadableFile("is a folder, not a spec file")
    raise UnreadableFile(f"is {file_kind(mode)}, not a regular file")


def file_kind(mode: int) -> str:
    """`a FIFO`, `a device`, ... for a non-regular file's mode."""
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def _reason(exc: OSError) -> str:
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return "no such file"
    if exc.errno == errno.ENAMETOOLONG:
        return "the path is too long"
    if exc.errno == errno.EISDIR:
        return "is a folder, not a spec file"
    return f"cannot read it ({exc.strerror or exc})"


def shown_path(path: str | Path) -> str:
    """A path as messages quote it: non-printable characters escaped, long ones shortened."""
    text = os.fspath(path)
    if not text.isprintable():
        text = ascii(text)[1:-1]
    if len(text) > MAX_SHOWN_PATH:
        half = MAX_SHOWN_PATH // 2 - 2
        text = f"{text[:half]}...{text[-half:]} ({len(os.fspath(path)):,} characters)"
    return text
