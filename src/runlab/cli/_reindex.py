"""``runlab reindex``: rebuild the catalog from the run directories."""

from __future__ import annotations

from pathlib import Path

from runlab._errors import RunlabError
from runlab.cli._common import DirOption, fail, out, store_dir


def reindex(dir: DirOption = None) -> None:
    """Rebuild the run catalog from the run directories (the directories are the truth)."""
    root = store_dir(dir)
    path = Path(root)
    if not path.is_dir():
        reason = "is not a directory" if path.exists() else "does not exist"
        fail(f"No run store at {root} (directory {reason})")
    from runlab.storage._store import RunStore

    try:
        count = RunStore(root).reindex()
    except RunlabError as exc:
        fail(f"Reindex failed: {exc}")
    noun = "run" if count == 1 else "runs"
    out().print(f"Indexed {count} {noun} in {root}", soft_wrap=True)
