"""A run's files for the web app: the output log by byte offset, file listings, safe paths.

Every path a request names is resolved inside the run's ``files/`` or ``artifacts/``
directory; ``..``, absolute paths and symlinks that lead outside are refused, so a download can
never read anything but the run's own files.
"""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path, PurePosixPath
from typing import Any

from runlab._errors import RunlabError

TEXT_SUFFIXES = frozenset(
    (
        ".txt",
        ".log",
        ".out",
        ".err",
        ".json",
        ".jsonl",
        ".yaml",
        ".yml",
        ".toml",
        ".ini",
        ".cfg",
        ".conf",
        ".csv",
        ".tsv",
        ".md",
        ".rst",
        ".py",
        ".sh",
        ".patch",
        ".diff",
        ".xml",
        ".html",
        ".js",
        ".ts",
        ".c",
        ".h",
        ".cpp",
        ".hpp",
        ".rs",
        ".go",
        ".java",
        ".tex",
        ".env",
        ".lock",
    )
)
IMAGE_TYPES = frozenset(
    ("image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/svg+xml")
)


class UnsafePath(RunlabError, ValueError):
    """A requested file path leaves the run's directory (or is not a relative path at all)."""


def kind_of(path: str) -> str:
    """``text``, ``image`` or ``binary``, from the file name."""
    suffix = PurePosixPath(path).suffix.lower()
    guessed, _ = mimetypes.guess_type(path)
    if guessed in IMAGE_TYPES:
        return "image"
    if suffix in TEXT_SUFFIXES or (guessed or "").startswith("text/") or not suffix:
        return "text"
    return "binary"


def media_type(path: str) -> str:
    """The content type a file is served with. Text of any kind is ``text/plain`` (an HTML
    file of a run must never run as a page of this app); images keep their own type."""
    kind = kind_of(path)
    if kind == "image":
        return mimetypes.guess_type(path)[0] or "application/octet-stream"
    if kind == "text":
        return "text/plain; charset=utf-8"
    return "application/octet-stream"


def resolve_inside(base: Path, relative: str) -> Path:
    """``base / relative`` after checking that it stays inside ``base``, symlinks followed.

    Raises:
        UnsafePath: ``relative`` is empty, absolute, holds ``..`` or a NUL, or resolves
            (through a symlink) to a place outside ``base``.
        FileNotFoundError: the file does not exist or is not a regular file.
    """
    if not relative or "\x00" in relative or "\\" in relative:
        raise UnsafePath(f"invalid file path {relative!r}")
    pure = PurePosixPath(relative)
    if pure.is_absolute() or ".." in pure.parts or relative.startswith("~"):
        raise UnsafePath(f"file path {relative!r} must be relative and stay inside the run")
    root = base.resolve()
    target = (root / pure).resolve()
    if not target.is_relative_to(root):
        raise UnsafePath(f"file path {relative!r} leads outside the run")
    if not target.is_file():
        raise FileNotFoundError(f"no file {relative!r} in the run's {base.name}/")
    return target


def list_files(base: Path) -> list[dict[str, Any]]:
    """Regular files under ``base`` (symlinks that lead outside are left out), sorted."""
    if not base.is_dir():
        return []
    root = base.resolve()
    out: list[dict[str, Any]] = []
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath) / name
            try:
                if path.is_symlink() and not path.resolve().is_relative_to(root):
                    continue
                st = path.stat()
            except OSError:
                continue
            rel = path.relative_to(root).as_posix()
            out.append(
                {"path": rel, "size": st.st_size, "mtime": st.st_mtime, "kind": kind_of(rel)}
            )
    out.sort(key=lambda entry: str(entry["path"]))
    return out


def read_log(path: Path, offset: int, limit: int) -> dict[str, Any]:
    """Up to ``limit`` bytes of a log from ``offset``, cut at a character boundary.

    Returns ``{"text", "offset" (where to continue), "size" (of the whole file)}``.
    """
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            start = min(offset, size)
            f.seek(start)
            data = f.read(limit)
    except FileNotFoundError:
        return {"text": "", "offset": 0, "size": 0}
    if len(data) == limit:
        data = data[: len(data) - _partial_tail(data)]
    return {
        "text": data.decode("utf-8", errors="replace"),
        "offset": start + len(data),
        "size": size,
    }


def _partial_tail(data: bytes) -> int:
    """How many bytes at the end of ``data`` start a UTF-8 character that is cut off."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # a lead byte (or ASCII)
            need = (
                1 if byte < 0x80 else 2 if byte >= 0xC0 and byte < 0xE0 else 3 if byte < 0xF0 else 4
            )
            return back if need > back else 0
    return 0
