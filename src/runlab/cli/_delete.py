"""``runlab delete``, ``restore``, ``gc``, ``mv`` and ``stop``: manage runs from outside."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from runlab._errors import RunlabError
from runlab.cli._common import DirOption, fail, open_store, out, store_dir
from runlab.cli._show import find_run

RunsArgument = Annotated[list[str], typer.Argument(help="Run ids, unique id prefixes, or names.")]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def delete(
    runs: RunsArgument,
    yes: YesOption = False,
    force: Annotated[
        bool, typer.Option("--force", help="Delete runs that are still running too.")
    ] = False,
    dir: DirOption = None,
) -> None:
    """Delete runs: hidden at once, restorable with `runlab restore` until `runlab gc`."""
    root = store_dir(dir)
    # Resolve every name first: a typo deletes nothing.
    api = open_store(root)
    views = {}
    for key in runs:
        view = find_run(api, root, key)
        views[view.id] = view
    console = out()
    for view in views.values():
        console.print(f"  {view.id}  {view.name}  ({view.project})", soft_wrap=True)
    noun = "run" if len(views) == 1 else "runs"
    if not yes and not typer.confirm(f"Delete {len(views)} {noun} from {root}?", default=False):
        fail("Nothing deleted.")
    try:
        api.delete(list(views), force=force)
    except RunlabError as exc:
        fail(f"Delete failed: {exc}")
    for view in views.values():
        console.print(f"Deleted {view.id} ({view.name})", soft_wrap=True)
    console.print(
        f"Restore with `runlab restore {' '.join(views)}`; `runlab gc` purges deleted runs.",
        soft_wrap=True,
    )


def restore(
    runs: Annotated[
        list[str] | None, typer.Argument(help="Ids of deleted runs (none: list the deleted runs).")
    ] = None,
    dir: DirOption = None,
) -> None:
    """Bring deleted runs back, or list the deleted runs."""
    root = store_dir(dir)
    api = open_store(root)
    console = out()
    if not runs:
        deleted = api.deleted()
        if not deleted:
            console.print(f"No deleted runs in {root}", soft_wrap=True)
        for d in deleted:
            when = dt.datetime.fromtimestamp(d.deleted_at).strftime("%Y-%m-%d %H:%M")
            console.print(f"  {d.id}  deleted {when}", soft_wrap=True)
        return
    try:
        api.restore(runs)
    except RunlabError as exc:
        fail(f"Restore failed: {exc}")
    for run_id in runs:
        console.print(f"Restored {run_id}", soft_wrap=True)


def gc(
    older_than: Annotated[
        float,
        typer.Option(
            "--older-than", min=0.0, help="Only runs deleted at least this many days ago."
        ),
    ] = 0.0,
    yes: YesOption = False,
    dir: DirOption = None,
) -> None:
    """Purge deleted runs for good (their ids stay retired)."""
    root = store_dir(dir)
    api = open_store(root)
    cutoff = older_than * 86400
    deleted = [d for d in api.deleted() if dt.datetime.now().timestamp() - d.deleted_at >= cutoff]
    console = out()
    if not deleted:
        console.print("Nothing to purge.", soft_wrap=True)
        return
    noun = "run" if len(deleted) == 1 else "runs"
    if not yes and not typer.confirm(
        f"Purge {len(deleted)} deleted {noun} from {root} for good?", default=False
    ):
        fail("Nothing purged.")
    try:
        purged = api.gc(ids=[d.id for d in deleted])
    except RunlabError as exc:
        fail(f"gc failed: {exc}")
    console.print(f"Purged {len(purged)} {noun}", soft_wrap=True)


def mv(
    runs: RunsArgument,
    project: Annotated[str, typer.Option("--project", "-p", help="The project to move to.")],
    dir: DirOption = None,
) -> None:
    """Move runs to another project."""
    root = store_dir(dir)
    api = open_store(root)
    ids = list(dict.fromkeys(find_run(api, root, key).id for key in runs))
    try:
        moved = api.move(ids, project)
    except (RunlabError, ValueError) as exc:
        fail(f"Move failed: {exc}")
    for view in moved:
        out().print(f"Moved {view.id} ({view.name}) to {project}", soft_wrap=True)


def stop(runs: RunsArgument, dir: DirOption = None) -> None:
    """Stop running runs (each ends killed within half a second)."""
    root = store_dir(dir)
    api = open_store(root)
    views = {v.id: v for v in (find_run(api, root, key) for key in runs)}
    try:
        asked = set(api.stop(list(views)))
    except RunlabError as exc:
        fail(f"Stop failed: {exc}")
    console = out()
    for run_id, view in views.items():
        if run_id in asked:
            console.print(f"Asked {run_id} ({view.name}) to stop", soft_wrap=True)
        else:
            console.print(f"{run_id} ({view.name}) is not running ({view.status})", soft_wrap=True)
