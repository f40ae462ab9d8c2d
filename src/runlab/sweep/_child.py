"""Bootstrap of one launched experiment: ``python -m runlab.sweep._child PAYLOAD``.

The payload file holds, under plain pickle, the run's fields and the cloudpickled
``(thunk, kwargs)``. The run opens first and the thunk is unpickled inside it, so that an
import error in the user's code is recorded as the run's failure like any other. The outcome
(``ok`` or the formatted traceback) goes to ``PAYLOAD.result.json`` for the launcher.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import traceback
from pathlib import Path
from typing import Any

# Environment variables through which MPI launchers give each process its rank.
_RANK_VARIABLES = ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "MV2_COMM_WORLD_RANK")


def result_path(payload: Path) -> Path:
    """Where the child writes the outcome of the payload at ``payload``."""
    return payload.with_name(payload.name + ".result.json")


def _rank() -> int:
    for name in _RANK_VARIABLES:
        value = os.environ.get(name)
        if value is not None and value.isdigit():
            return int(value)
    return 0


def _call(blob: bytes, env_name: str | None) -> None:
    import cloudpickle

    thunk, kwargs = cloudpickle.loads(blob)
    if env_name is not None:
        kwargs["env_fn"] = _env_maker(env_name)
    thunk(**kwargs)


def _env_maker(env_name: str) -> Any:
    import functools
    import importlib

    for module in ("gymnasium", "gym"):
        try:
            gym = importlib.import_module(module)
        except ImportError:
            continue
        return functools.partial(gym.make, env_name)
    raise ImportError(f"env_name={env_name!r} needs gymnasium (or gym); neither is importable")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m runlab.sweep._child PAYLOAD", file=sys.stderr)
        return 2
    payload = Path(argv[0])
    spec: dict[str, Any] = pickle.loads(payload.read_bytes())
    if _rank() != 0:
        # Under mpirun only rank 0 records the run; the other ranks just compute.
        _call(spec["blob"], spec["env_name"])
        return 0
    import runlab

    run = runlab.init(**spec["init"])
    os.environ["RUNLAB_JOIN_RUN"] = run.id
    outcome: dict[str, Any] = {"ok": True, "traceback": None}
    try:
        with run:
            _call(spec["blob"], spec["env_name"])
    except BaseException:
        outcome = {"ok": False, "traceback": traceback.format_exc()}
    result_path(payload).write_text(json.dumps(outcome), encoding="utf-8")
    return 0 if outcome["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
