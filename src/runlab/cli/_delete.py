"""``runlab delete RUN...``: remove runs (their directories and catalog rows)."""

from __future__ import annotations

from typing import Annotated

import typer

from runlab._errors import RunlabError
from runlab.cli._common import DirOption, fail, open_store, out, store_dir
from runlab.cli._show import find_run


def delete(
    runs: Annotated[list[str], typer.Argument(help="Run ids, unique id prefixes, or names.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    dir: DirOption = None,
) -> None:
    """Delete runs and everything recorded in them."""
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
        api.delete(list(views))
    except RunlabError as exc:
        fail(f"Delete failed: {exc}")
    for view in views.values():
        console.print(f"Deleted {view.id} ({view.name})", soft_wrap=True)
