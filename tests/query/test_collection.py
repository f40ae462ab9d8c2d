"""RunCollection and the run views behind it: HydraFlow's semantics over runlab runs."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import runlab
from runlab.query import BaseRunView, RunCollection, RunInfo, RunView
from runlab.storage._layout import RunRecord
from runlab.storage.testing import write_run

ROWS = [
    # id, model, lr, depth, loss
    ("r0", "mlp", 0.1, 2, 0.5),
    ("r1", "cnn", 0.01, 4, 0.3),
    ("r2", "mlp", 0.01, 2, 0.3),
    ("r3", "cnn", 0.001, 8, 0.1),
    ("r4", "mlp", 0.1, 4, 0.4),
]


def _record(i: int, run_id: str, model: str, lr: float, depth: int, loss: float) -> RunRecord:
    return RunRecord(
        id=run_id,
        project="p",
        name=f"n{i}",
        status="finished",
        created_at=100.0 + i,
        ended_at=200.0 + i,
        config={"model": {"type": model, "depth": depth}, "lr": lr, "tags_list": [i, i]},
        summary={"loss": loss, "val/loss": loss * 2},
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for i, row in enumerate(ROWS):
        write_run(tmp_path, _record(i, *row))
    return tmp_path


@pytest.fixture
def rc(root: Path) -> RunCollection:
    # oldest first, so positions match ROWS
    return runlab.runs(dir=root).sort("created_at")


def ids(rc: RunCollection) -> list[str]:
    return [run.id for run in rc]


# -- basics ------------------------------------------------------------------------------------


def test_runs_lists_every_run_as_views(root: Path, rc: RunCollection) -> None:
    assert isinstance(runlab.runs(dir=root), runlab.RunCollection)
    assert len(rc) == 5 and ids(rc) == [r[0] for r in ROWS]
    assert len(runlab.runs("nope", dir=root)) == 0
    assert all(isinstance(run, RunView) for run in rc)


def test_indexing_slicing_and_columns(rc: RunCollection) -> None:
    assert rc[0].id == "r0" and rc[-1].id == "r4"
    assert ids(rc[1:3]) == ["r1", "r2"]
    assert ids(rc[[4, 0]]) == ["r4", "r0"]
    series = rc["model.type"]
    assert isinstance(series, pl.Series) and series.to_list() == [r[1] for r in ROWS]


# -- filter: every matcher rule ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("criteria", "kw", "expected"),
    [
        ((), {"lr": 0.01}, ["r1", "r2"]),  # equality
        ((("model.type", "cnn"),), {}, ["r1", "r3"]),  # (key, matcher) tuple, dotted
        ((), {"model__type": "cnn"}, ["r1", "r3"]),  # __ means .
        ((), {"lr": [0.1, 0.001]}, ["r0", "r3", "r4"]),  # list: membership
        ((), {"lr": {0.001}}, ["r3"]),  # set: membership
        ((), {"lr": (0.01, 0.1)}, ["r0", "r1", "r2", "r4"]),  # 2-tuple: inclusive range
        ((), {"lr": (None, 0.01)}, ["r1", "r2", "r3"]),  # open side
        ((), {"lr": lambda v: v < 0.05}, ["r1", "r2", "r3"]),  # callable on the value
        ((), {"loss": 0.3, "model.depth": 4}, ["r1"]),  # summary key, AND
        ((lambda run: run.get("lr") > 0.05,), {}, ["r0", "r4"]),  # predicate on the run
        ((), {"predicate": lambda run: run.id == "r2"}, ["r2"]),  # HydraFlow's predicate=
        (([True, False, True, False, False],), {}, ["r0", "r2"]),  # boolean mask
        (({"model.type": "mlp", "lr": 0.1},), {}, ["r0", "r4"]),  # a dict of criteria
        ((), {"tags_list": [[2, 2]]}, ["r2"]),  # an unhashable value in a list
        ((), {"val/loss": 0.6}, ["r1", "r2"]),  # a summary key holding a slash
        ((), {"status": "finished", "job_name": "p"}, ["r0", "r1", "r2", "r3", "r4"]),  # info
    ],
)
def test_filter_rules(
    rc: RunCollection, criteria: tuple[Any, ...], kw: dict[str, Any], expected: list[str]
) -> None:
    assert ids(rc.filter(*criteria, **kw)) == expected


def test_a_matcher_tuple_of_two_is_a_range_even_for_strings(rc: RunCollection) -> None:
    assert ids(rc.filter(("model.type", ("a", "d")))) == ["r1", "r3"]


def test_filter_chains_and_keeps_order(rc: RunCollection) -> None:
    assert ids(rc.filter(model__type="mlp").filter(lr=0.1)) == ["r0", "r4"]
    assert ids(rc[[4, 2, 0]].filter(model__type="mlp")) == ["r4", "r2", "r0"]


def test_exclude_drops_runs_matching_any_criterion(rc: RunCollection) -> None:
    assert ids(rc.exclude(lr=0.1)) == ["r1", "r2", "r3"]
    assert ids(rc.exclude(("lr", 0.1), ("model.type", "cnn"))) == ["r2"]
    assert ids(rc.exclude(nothing=1, missing="skip")) == ids(rc)


def test_a_missing_key_raises_unless_skipped(rc: RunCollection) -> None:
    with pytest.raises(AttributeError, match=r"^No such key: nothing$"):
        rc.filter(nothing=1)
    assert len(rc.filter(nothing=1, missing="skip")) == 0
    with pytest.raises(ValueError, match="missing='maybe' is not one of 'error', 'skip'"):
        rc.filter(lr=1, missing="maybe")  # type: ignore[arg-type]


def test_a_mask_of_the_wrong_length_is_a_value_error(rc: RunCollection) -> None:
    with pytest.raises(ValueError, match="mask of length 2 filters 5 runs"):
        rc.filter([True, False])


# -- get / try_get / first / last ----------------------------------------------------------------


def test_get_and_its_errors(rc: RunCollection) -> None:
    assert rc.get(lr=0.001).id == "r3"
    with pytest.raises(runlab.NoMatchError) as none:
        rc.get(lr=5)
    assert str(none.value) == "No item found matching the specified criteria"
    with pytest.raises(runlab.MultipleMatchError) as many:
        rc.get(model__type="mlp")
    assert str(many.value) == "Multiple items (3) found matching the criteria, expected exactly one"
    for error in (runlab.NoMatchError, runlab.MultipleMatchError):
        assert issubclass(error, ValueError) and issubclass(error, runlab.RunlabError)


def test_try_get_first_last(rc: RunCollection) -> None:
    assert rc.try_get(lr=5) is None
    assert rc.try_get(lr=0.001) is not None
    with pytest.raises(runlab.MultipleMatchError):
        rc.try_get(model__type="mlp")
    assert rc.first(model__type="mlp").id == "r0"
    assert rc.last(model__type="mlp").id == "r4"
    assert rc.first().id == "r0"
    with pytest.raises(runlab.NoMatchError, match="No item found"):
        rc.first(lr=5)
    with pytest.raises(runlab.NoMatchError, match="No item found"):
        rc.last(lr=5)


# -- sort ----------------------------------------------------------------------------------------


def test_sort_is_stable_in_both_directions(rc: RunCollection) -> None:
    assert ids(rc.sort("lr")) == ["r3", "r1", "r2", "r0", "r4"]
    # ties (r0/r4 and r1/r2) keep their original order even reversed
    assert ids(rc.sort("lr", reverse=True)) == ["r0", "r4", "r1", "r2", "r3"]
    assert ids(rc.sort("model.type", "loss")) == ["r3", "r1", "r2", "r4", "r0"]
    assert ids(rc.sort("model.type", "loss", reverse=True)) == ["r0", "r4", "r2", "r1", "r3"]


# -- extracting ----------------------------------------------------------------------------------


def test_lists_arrays_and_uniques(rc: RunCollection) -> None:
    assert rc.to_list("lr") == [0.1, 0.01, 0.01, 0.001, 0.1]
    assert rc.to_list("nothing", default=0) == [0] * 5
    assert rc.to_list("nothing", default=lambda run: run.id) == ids(rc)
    assert rc.to_numpy("model.depth").tolist() == [2, 4, 2, 8, 4]
    assert rc.to_series("loss").name == "loss"
    assert rc.unique("lr") == [0.001, 0.01, 0.1]
    assert rc.n_unique("model.type") == 2
    assert rc.n_unique("tags_list") == 5


def test_to_frame_without_keys_has_identity_config_and_summary(rc: RunCollection) -> None:
    frame = rc.to_frame()
    assert frame.columns[:6] == ["id", "name", "project", "status", "created_at", "ended_at"]
    assert {"model.type", "model.depth", "lr", "loss", "val/loss"} <= set(frame.columns)
    assert frame["model.depth"].to_list() == [2, 4, 2, 8, 4]
    assert frame["status"].to_list() == ["finished"] * 5


def test_to_frame_with_keys_defaults_and_functions(rc: RunCollection) -> None:
    frame = rc.to_frame(
        "lr",
        ("missing_a", -1),
        "missing_b",
        defaults={"missing_b": 0},
        double=lambda run: run.get("lr") * 2,
        metrics=lambda run: {"m1": run.get("loss"), "m2": run.id},
    )
    assert frame.columns == ["lr", "missing_a", "missing_b", "double", "m1", "m2"]
    assert frame.row(0) == (0.1, -1, 0, 0.2, 0.5, "r0")
    only_fns = rc.to_frame(run_id=lambda run: run.id)
    assert only_fns.columns[0] == "id" and only_fns.columns[-1] == "run_id"
    assert only_fns["run_id"].to_list() == only_fns["id"].to_list()


# -- group_by ------------------------------------------------------------------------------------


def test_group_by_one_key_maps_values_to_collections(rc: RunCollection) -> None:
    groups = rc.group_by("model.type")
    assert list(groups) == ["mlp", "cnn"]  # first appearance
    assert ids(groups["cnn"]) == ["r1", "r3"]
    assert all(isinstance(g, RunCollection) for g in groups.values())


def test_group_by_several_keys_and_unhashable_values(rc: RunCollection) -> None:
    groups = rc.group_by("model.type", "lr")
    assert list(groups) == [("mlp", 0.1), ("cnn", 0.01), ("mlp", 0.01), ("cnn", 0.001)]
    assert ids(groups[("mlp", 0.1)]) == ["r0", "r4"]
    by_list = rc.group_by("tags_list")
    assert (2, 2) in by_list
    assert by_list.agg()["tags_list"].to_list()[2] == [2, 2]


def test_group_by_agg_frames(rc: RunCollection) -> None:
    frame = rc.group_by("model.type").agg("lr", n=len, best=lambda g: min(g.to_list("loss")))
    expected = pl.DataFrame(
        {
            "model.type": ["mlp", "cnn"],
            "lr": [[0.1, 0.01, 0.1], [0.01, 0.001]],
            "n": [3, 2],
            "best": [0.3, 0.1],
        }
    )
    assert frame.equals(expected)
    direct = rc.group_by("model.type", "model.depth", n=len)
    assert direct.columns == ["model.type", "model.depth", "n"]
    assert direct.rows() == [("mlp", 2, 2), ("cnn", 4, 1), ("cnn", 8, 1), ("mlp", 4, 1)]


# -- map, sample, shuffle, history ---------------------------------------------------------------


def test_map_sample_shuffle_do_not_touch_global_random_state(rc: RunCollection) -> None:
    import random

    assert rc.map(lambda run, k: run.get("lr") * k, 10) == [1.0, 0.1, 0.1, 0.01, 1.0]
    random.seed(3)
    before = random.random()
    random.seed(3)
    assert ids(rc.sample(3, seed=1)) == ids(rc.sample(3, seed=1))
    assert len(rc.sample(2)) == 2
    shuffled = rc.shuffle(seed=7)
    assert sorted(ids(shuffled)) == ids(rc) and ids(shuffled) == ids(rc.shuffle(seed=7))
    assert random.random() == before


def test_history_reads_every_run_into_one_frame(tmp_path: Path) -> None:
    settings = {"quiet": True, "capture_output": False}
    for lr in (0.1, 0.2):
        with runlab.init(project="h", dir=tmp_path, config={"lr": lr}, settings=settings) as run:
            for step in range(3):
                run.log({"loss": lr * step, "acc": float(step)})
    rc = runlab.runs(dir=tmp_path).sort("created_at")
    long = rc.history("loss")
    assert long.columns == ["run_id", "step", "timestamp", "value"]
    assert long.height == 6 and long["run_id"].unique().len() == 2
    both = rc.history(["loss", "acc"])
    assert both.columns == ["run_id", "step", "timestamp", "loss", "acc"]
    assert RunCollection().history("loss").height == 0


# -- the run view: get, info, typed configs, impl ------------------------------------------------


def test_get_looks_in_config_then_summary_then_impl_then_info(root: Path) -> None:
    class Impl:
        def __init__(self, artifacts_dir: Path) -> None:
            self.artifacts_dir = artifacts_dir
            self.lr = "impl's lr"  # shadowed by the config
            self.loss = "impl's loss"  # shadowed by the summary
            self.score = 42
            self.run_id = "impl's id"  # shadows info

    write_run(root, _record(9, "shadow", "mlp", 0.5, 1, 0.25))
    run = runlab.Run.load(root / "runs" / "shadow", Impl)
    assert run.get("lr") == 0.5
    assert run.get("loss") == 0.25
    assert run.get("score") == 42 and run["score"] == 42
    assert run.get("run_id") == "impl's id"
    assert run.get("info.run_id") == "shadow"
    assert run.get("job_name") == "p" and run.get("status") == "finished"
    assert run.get("model__depth") == 1 and run.get("model.depth") == 1
    assert run.get("summary.loss") == 0.25 and run.get("config.lr") == 0.5
    assert run.get("nothing", 7) == 7
    assert run.get("nothing", lambda r: r.id) == "shadow"
    with pytest.raises(AttributeError, match=r"^No such key: nothing$"):
        run.get("nothing")
    with pytest.raises(AttributeError, match=r"^No such key: config\.loss$"):
        run.get("config.loss")


def test_info_and_to_dict(rc: RunCollection) -> None:
    run = rc[1]
    assert run.info == RunInfo("r1", run.dir, "p", "finished", 101.0, 201.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.info.run_id = "x"  # type: ignore[misc]
    flat = run.to_dict()
    assert flat["model.type"] == "cnn" and flat["loss"] == 0.3 and flat["id"] == "r1"
    assert run.to_dict(flatten=False)["model"] == {"type": "cnn", "depth": 4}


@dataclasses.dataclass
class Model:
    type: str
    depth: int


@dataclasses.dataclass
class Config:
    model: Model
    lr: float
    tags_list: list[int]
    extra: str = "default"


def test_typed_configs_build_nested_dataclasses(root: Path) -> None:
    paths = sorted((root / "runs").iterdir())
    runs = runlab.Run[Config].load(paths)
    assert isinstance(runs, RunCollection) and len(runs) == 5
    cfg = runs[0].cfg
    assert cfg == Config(Model("mlp", 2), 0.1, [0, 0])
    assert runs[0].get("model.depth") == 2 and runs[0].get("extra") == "default"
    assert runlab.RunView[Config].load(paths[1]).cfg.model.type == "cnn"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"model": {"type": "mlp", "depth": "deep"}, "lr": 0.1, "tags_list": []},
            "config field 'model.depth' is a str ('deep'); Model expects int",
        ),
        (
            {"model": {"type": "mlp"}, "lr": 0.1, "tags_list": []},
            "config field 'model.depth' is missing and Model.depth has no default",
        ),
        (
            {"model": {"type": "mlp", "depth": 1}, "lr": 0.1, "tags_list": [], "typo": 1},
            "config field 'typo' is not declared by Config "
            "(it declares: model, lr, tags_list, extra)",
        ),
        (
            {"model": 3, "lr": 0.1, "tags_list": []},
            "config field 'model' is a int (3); Model expects a mapping of its fields",
        ),
        (
            {"model": {"type": "mlp", "depth": True}, "lr": 0.1, "tags_list": []},
            "config field 'model.depth' is a bool (True); Model expects int",
        ),
    ],
)
def test_a_config_that_does_not_fit_names_the_field(
    tmp_path: Path, config: dict[str, Any], message: str
) -> None:
    record = dataclasses.replace(_record(0, *ROWS[0]), config=config)
    path = write_run(tmp_path, record)
    run = runlab.Run[Config].load(path)
    with pytest.raises(runlab.ConfigMismatchError) as info:
        _ = run.cfg
    assert str(info.value) == message
    assert isinstance(info.value, TypeError)


def test_impl_factories_of_both_signatures(root: Path) -> None:
    path = root / "runs" / "r3"
    seen: list[tuple[Any, ...]] = []

    def one(artifacts_dir: Path) -> str:
        seen.append((artifacts_dir,))
        return "one"

    class Two:
        def __init__(self, artifacts_dir: Path, cfg: Config | None = None) -> None:
            self.artifacts_dir, self.cfg = artifacts_dir, cfg

    view = runlab.Run.load(path, one)
    assert seen == []  # built lazily
    assert view.impl == "one" and view.impl == "one"
    assert seen == [(path / "artifacts",)]
    typed = runlab.Run[Config, Two].load(path)
    assert isinstance(typed.impl, Two)
    assert typed.impl.cfg == Config(Model("cnn", 8), 0.001, [3, 3])
    assert typed.impl.artifacts_dir == path / "artifacts"
    assert runlab.Run.load(path).impl is None


def test_run_load_accepts_views_and_rejects_other_directories(
    rc: RunCollection, tmp_path: Path
) -> None:
    typed = runlab.Run[Config].load(rc)
    assert isinstance(typed[0].cfg, Config)
    assert isinstance(rc[0].cfg, dict)  # the source views are left as they were
    with pytest.raises(runlab.RunNotFound, match=r"neither run\.json"):
        runlab.Run.load(tmp_path)
    with pytest.raises(TypeError, match="must be a dataclass"):
        runlab.Run[int]


def test_base_view_keeps_its_abstract_surface_small() -> None:
    assert BaseRunView.__abstractmethods__ == {
        "id",
        "name",
        "project",
        "status",
        "created_at",
        "ended_at",
        "tags",
        "config",
        "summary",
        "dir",
        "history",
    }


def test_import_runlab_stays_light() -> None:
    import subprocess
    import sys

    code = (
        "import runlab, sys; print(sorted(m for m in ('polars', 'sqlalchemy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
