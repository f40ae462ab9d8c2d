"""How a new ``Run`` goes on from a resumed, rewound or forked run.

:mod:`runlab.sdk._resume` plans the start and reads the state back from disk; this module hands
that state to the live run object (fields given to ``init()`` win over the stored ones) and
leaves the store's markers for the start: ``runs/.resumed/<id>`` and the ``resume="auto"``
pointer. Both run once, in ``init()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from runlab.sdk import _resume
from runlab.sdk._checks import check_tags, load_scenario
from runlab.sdk._config import Config, Summary

if TYPE_CHECKING:
    from runlab.sdk._run import Run


def take_over(
    run: Run,
    restored: _resume.Restored,
    project: str | None,
    name: str | None,
    tags: Iterable[str] | None,
    notes: str | None,
    description: str | None,
    group: str | None,
    job_type: str | None,
    seed: int | None,
) -> None:
    """Give ``run`` a resumed, rewound or forked run's state (fields given to init win)."""
    prior = restored.prior
    run.config = Config(restored.config, on_change=run._mark_dirty)
    run._tracker = restored.tracker
    run.summary = Summary(run._tracker, run._sync, run._mark_dirty)
    run._max_step = restored.last_step
    run._step = restored.last_step + 1
    run._lineage.update(restored.lineage)
    if not prior:
        return
    created = prior.get("created_at")
    if isinstance(created, (int, float)) and not isinstance(created, bool):
        run.start_time = float(created)
    if project is None and isinstance(prior.get("project"), str):
        run.project = prior["project"]
    if name is None and isinstance(prior.get("name"), str):
        run._name = prior["name"]
    if tags is None and isinstance(prior.get("tags"), list):
        run._tags = check_tags(prior["tags"])
    for attr, given, stored in (
        ("_notes", notes, prior.get("notes")),
        ("_description", description, prior.get("description")),
        ("group", group, prior.get("group")),
        ("job_type", job_type, prior.get("job_type")),
    ):
        if given is None and isinstance(stored, str):
            setattr(run, attr, stored)
    if seed is None and isinstance(prior.get("seed"), int):
        run.seed = prior["seed"]
    if run._scenario is None and isinstance(prior.get("scenario"), dict):
        run._scenario = load_scenario(prior["scenario"])
    episodes = prior.get("episodes")
    if isinstance(episodes, int) and not isinstance(episodes, bool):
        run._episodes.count = episodes


def leave_markers(
    root: Path, start: _resume.Plan, run_id: str, on_fault: Callable[[str, BaseException], None]
) -> None:
    """Mark a resumed or rewound run for readers, and point ``resume="auto"`` at the run.

    A failure is a fault of the run (reported, not raised): the run itself is in place.
    """
    if start.kind in ("resume", "rewind"):
        try:
            _resume.mark_resumed(root / "runs", run_id)
        except OSError as exc:
            on_fault("resume marker", exc)
    if start.auto_key is not None:
        try:
            _resume.write_auto_pointer(root / "runs", start.auto_key, run_id)
        except OSError as exc:
            on_fault("resume='auto' pointer", exc)
