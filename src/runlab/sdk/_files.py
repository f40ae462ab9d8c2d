"""Files a live run keeps beside its metrics: code text (``artifacts/code/``) and copies of the
user's files (``files/``).

A disabled run checks its arguments like any other but writes nothing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from runlab.sdk._checks import check_file_name, check_reserved
from runlab.storage._layout import ARTIFACTS_DIR, FILES_DIR


def save_code(
    run_dir: Path,
    key: str,
    code_content: str,
    prefix: str,
    disabled: bool,
    on_fault: Callable[[str, BaseException], None],
) -> None:
    """Write ``code_content`` to ``artifacts/<prefix>code/<key>`` (``prefix`` is an episode's).

    A write failure is a fault of the run (reported, not raised).
    """
    check_reserved(key, "artifact")
    check_file_name(key)
    if not isinstance(code_content, str):
        raise TypeError(f"log_code({key!r}): code_content must be str")
    if disabled:
        return
    path = run_dir / ARTIFACTS_DIR / f"{prefix}code" / key
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code_content, encoding="utf-8")
    except OSError as exc:
        on_fault("log_code", exc)


def save_file(
    run_dir: Path, path: str | os.PathLike[str], name: str | None, disabled: bool
) -> Path:
    """Copy the file at ``path`` to the run's ``files/<name>`` and return the copy's path."""
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"run.save({os.fspath(path)!r}): no such file")
    target_name = name if name is not None else source.name
    check_reserved(Path(target_name).stem, "file")
    check_file_name(target_name)
    target = run_dir / FILES_DIR / target_name
    if not disabled:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    return target
