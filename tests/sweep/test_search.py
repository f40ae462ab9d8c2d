"""``runlab.sweep.sweep``: trials as runs, grid/random/Optuna, failures and parallel trials."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from runlab import RunlabWarning
from runlab.sweep import SweepError, sweep

QUICK = {"capture_git": False, "capture_packages": False, "capture_env": False}


def test_grid_is_the_product_named_in_one_group(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    def train(lr: float, layers: int, act: str) -> float:
        seen.append({"lr": lr, "layers": layers, "act": act})
        return lr * layers

    space = {"lr": [0.1, 0.01], "layers": [1, 2, 3], "act": "relu"}
    rc = sweep(train, space, dir=tmp_path, name="g", settings=QUICK)
    assert len(rc) == 6
    assert rc.to_list("name") == [f"g-{k}" for k in range(6)]
    assert {run.group for run in rc} == {"g"}
    assert [run.config for run in rc] == seen
    assert seen[:3] == [{"lr": 0.1, "layers": n, "act": "relu"} for n in (1, 2, 3)]
    assert rc.to_list("objective") == pytest.approx([0.1, 0.2, 0.3, 0.01, 0.02, 0.03])
    assert {str(run.status) for run in rc} == {"finished"}


def test_grid_n_caps_and_one_argument_functions_get_the_dict(tmp_path: Path) -> None:
    def train(config: dict[str, Any]) -> dict[str, float]:
        return {"loss": config["x"] * 2.0}

    rc = sweep(train, {"x": [1, 2, 3, 4]}, n=2, dir=tmp_path, metric="loss", settings=QUICK)
    assert rc.to_list("loss") == [2.0, 4.0]
    assert rc[0].group is not None and rc[0].group.startswith("sweep-")


def test_random_is_reproducible_by_seed(tmp_path: Path) -> None:
    space = {"lr": "${log_uniform(1e-4, 1e-1)}", "bs": [16, 32, 64], "depth": 3}

    def draws(seed: int, name: str) -> list[tuple[float, int]]:
        rc = sweep(
            lambda lr, bs, depth: lr,
            space,
            n=5,
            method="random",
            seed=seed,
            dir=tmp_path,
            name=name,
            settings=QUICK,
        )
        return list(zip(rc.to_list("lr"), rc.to_list("bs"), strict=True))

    first, again, other = draws(1, "a"), draws(1, "b"), draws(2, "c")
    assert first == again != other
    assert all(1e-4 <= lr <= 1e-1 and bs in (16, 32, 64) for lr, bs in first)


def test_failed_trials_are_failed_runs_and_the_sweep_goes_on(tmp_path: Path) -> None:
    def train(x: int) -> int:
        if x == 1:
            raise ValueError("bad x")
        return x

    with pytest.warns(RunlabWarning, match=r"1 of 3 trials failed:\n  f-1 .*ValueError: bad x"):
        rc = sweep(train, {"x": [0, 1, 2]}, dir=tmp_path, name="f", settings=QUICK)
    assert [str(run.status) for run in rc] == ["finished", "failed", "finished"]
    assert "bad x" in (rc[1].err_msg or "")


def test_parallel_runs_trials_in_threads_at_once(tmp_path: Path) -> None:
    both = threading.Barrier(2, timeout=10)
    threads: set[str] = set()

    def train(x: int) -> int:
        threads.add(threading.current_thread().name)
        both.wait()  # only passes when two trials run at the same time
        time.sleep(0.01)
        return x

    rc = sweep(train, {"x": [0, 1, 2, 3]}, parallel=2, dir=tmp_path, name="p", settings=QUICK)
    assert rc.to_list("name") == [f"p-{k}" for k in range(4)]
    assert rc.to_list("objective") == [0, 1, 2, 3]
    assert len(threads) == 2


def test_executor_runs_trials(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(3) as pool:
        rc = sweep(
            lambda x: x, {"x": [1, 2, 3]}, executor=pool, parallel=3, dir=tmp_path, settings=QUICK
        )
    assert sorted(rc.to_list("objective")) == [1, 2, 3]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "bayes"}, "method='bayes' is not one of 'grid', 'random', 'optuna'"),
        ({"goal": "max"}, "goal='max' is not one of 'minimize', 'maximize'"),
        ({"method": "random"}, "method='random' needs n"),
        ({"parallel": 0}, "parallel=0 must be an int >= 1"),
    ],
)
def test_bad_options_say_what_is_allowed(
    tmp_path: Path, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(SweepError, match=message.replace("(", r"\(")):
        sweep(lambda x: x, {"x": [1]}, dir=tmp_path, **kwargs)


def test_optuna_minimises_a_quadratic(tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    space = {"x": "${uniform(-10, 10)}", "y": "${uniform(-10, 10)}", "k": [1, 2]}
    rc = sweep(
        lambda x, y, k: (x - 3) ** 2 + (y + 1) ** 2 + k,
        space,
        n=30,
        method="optuna",
        seed=0,
        dir=tmp_path,
        name="o",
        settings=QUICK,
    )
    assert len(rc) == 30
    best = rc.sort("objective")[0]
    assert best.summary["objective"] < 3.0  # optimum 1 at (3, -1, k=1)


def test_optuna_maximises_a_dict_metric(tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    space = {"n": "${randint(0, 20)}", "c": "${categorical(['a', 'b'])}"}
    rc = sweep(
        lambda n, c: {"acc": n + (c == "b")},
        space,
        n=25,
        method="optuna",
        metric="acc",
        goal="maximize",
        seed=1,
        dir=tmp_path,
        settings=QUICK,
    )
    assert max(rc.to_list("acc")) >= 19


def test_optuna_rejects_what_it_cannot_search(tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    with pytest.raises(SweepError, match=r"cannot search x: .*gaussian.*uniform\(\.\.\.\)"):
        sweep(lambda x: x, {"x": "${gaussian(0, 1)}"}, n=2, method="optuna", dir=tmp_path)


def test_runlab_sweep_is_both_the_package_and_the_function(tmp_path: Path) -> None:
    import runlab
    import runlab.sweep._grid  # importing a submodule must not hide the function

    assert runlab.sweep.ExperimentGrid is runlab.ExperimentGrid
    trials = runlab.sweep(lambda lr: lr * 2, {"lr": [0.1, 0.2]}, dir=tmp_path)
    assert sorted(t.summary["objective"] for t in trials) == [0.2, 0.4]
