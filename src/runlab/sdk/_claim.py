"""One process at a time takes over an ended run (or one process's part of a shared run).

Resuming checks that the run's last writer is gone, then the new process starts writing. Those
are two steps: two processes resuming the same run at the same moment (a job launched twice, a
requeue racing a manual restart) would both pass the check and append to the same log. So the
resuming process first claims the session it takes over, by an exclusive create of a file
named after that session (its writer and last heartbeat) under ``<part>/.claims/``; the second
finds the file and is refused while its owner lives. A claimer that died before writing
anything is passed over: the next attempt has a name of its own, again created exclusively.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from runlab._errors import RunExistsError
from runlab.sdk._resume import host_name, pid_alive
from runlab.storage._layout import encode_json, write_new

CLAIMS_DIR = ".claims"
STALE_S = 60.0
"""Seconds after which another host's claim counts as abandoned: the claimer writes its own
``run.json`` within moments, and from then on the run's heartbeat says who writes it."""
ATTEMPTS = 100


def claim(home: Path, prior: dict[str, Any], what: str) -> None:
    """Make this process the one that takes over ``home`` from the session ``prior`` describes
    (the ``run.json`` or ``rank.json`` read by the liveness check).

    Raises:
        RunExistsError: another live process claimed the same session first.
    """
    writer = prior.get("writer")
    writer = writer if isinstance(writer, dict) else {}
    session = f"{writer.get('host')}\0{writer.get('pid')}\0{prior.get('heartbeat_at')}"
    name = hashlib.sha1(session.encode(), usedforsecurity=False).hexdigest()[:16]
    folder = home / CLAIMS_DIR
    try:
        folder.mkdir(exist_ok=True)
    except OSError:  # a read-only or missing part: the resume reports that fault itself
        return
    me = encode_json({"pid": os.getpid(), "host": host_name(), "at": time.time()})
    for attempt in range(ATTEMPTS):
        path = folder / f"{name}.{attempt}"
        try:
            write_new(path, me)
            return
        except FileExistsError:
            holder = _holder(path)
            if holder is not None:
                raise RunExistsError(
                    f"{what}: another process is resuming it right now ({holder}); one "
                    "process writes a run at a time"
                ) from None
        except OSError:
            return
    raise RunExistsError(f"{what}: {ATTEMPTS} earlier attempts to resume it left claims behind")


def _holder(path: Path) -> str | None:
    """Who holds the claim in ``path`` while it counts (``None`` when it is abandoned)."""
    try:
        data = json.loads(path.read_bytes())
        age = time.time() - os.stat(path).st_mtime
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    pid, host = data.get("pid"), data.get("host")
    if host == host_name() and isinstance(pid, int):
        return f"process {pid} on this host" if pid_alive(pid) else None
    if age < STALE_S:
        return f"process {pid} on {host}, {age:.0f} s ago"
    return None
