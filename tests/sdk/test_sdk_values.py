"""What ``run.log`` refuses, with an error naming the key and the rule, and what it normalises."""

from __future__ import annotations

import math
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sdk_helpers import FAST

import runlab
from runlab import (
    InvalidRunId,
    LogKeyError,
    LogTypeError,
    RunExistsError,
    RunFinishedError,
    RunlabError,
    StepOrderError,
)
from runlab.sdk import _hooks
from runlab.storage._reader import read_series


@pytest.fixture(autouse=True)
def _no_open_runs() -> Iterator[None]:
    yield
    for run in _hooks.open_runs():
        run.finish()


@pytest.fixture
def run(tmp_path: Path) -> Iterator[runlab.Run]:
    with runlab.init(dir=tmp_path, settings=FAST) as r:
        yield r


def stored(run: runlab.Run) -> dict[str, list[Any]]:
    """``{key: values}`` as read back from the run's log (finishing the run first)."""
    run.finish()
    return {k: s.values.tolist() for k, s in read_series(run.dir).items()}


def stored_steps(run: runlab.Run) -> dict[str, list[int]]:
    run.finish()
    return {k: s.steps.tolist() for k, s in read_series(run.dir).items()}


# -- values ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        ("0.5", "str"),
        (b"0.5", "bytes"),
        ([1.0, 2.0], "list"),
        ((1.0,), "tuple"),
        ({1.0}, "set"),
        (None, "NoneType"),
        (object(), "object"),
        (1 + 2j, "complex"),
        (Decimal("0.5"), "Decimal"),
    ],
)
def test_a_value_that_is_not_a_scalar_is_refused(
    run: runlab.Run, value: Any, type_name: str
) -> None:
    with pytest.raises(LogTypeError) as info:
        run.log({"good": 1.0, "bad_key": value})
    assert isinstance(info.value, TypeError)  # ordinary `except TypeError` still works
    assert isinstance(info.value, RunlabError)
    message = str(info.value)
    assert "'bad_key'" in message
    assert type_name in message


def test_a_bad_value_in_a_nested_dict_is_named_by_its_full_key(run: runlab.Run) -> None:
    with pytest.raises(LogTypeError, match="'train/opt/lr'"):
        run.log({"train": {"opt": {"lr": "fast"}}})


@pytest.mark.parametrize("shape", [(3,), (2, 2), (0,)])
def test_an_array_of_several_numbers_is_refused(run: runlab.Run, shape: tuple[int, ...]) -> None:
    with pytest.raises(LogTypeError) as info:
        run.log({"weights": np.zeros(shape)})
    message = str(info.value)
    assert "'weights'" in message
    assert str(shape) in message
    assert "0-d" in message  # says what would be accepted


@pytest.mark.parametrize("data", [[("loss", 1.0)], ["loss"], {"loss"}, "loss", 1.0])
def test_data_that_is_not_a_dict_is_refused(run: runlab.Run, data: Any) -> None:
    run.log({"loss": 1.0, "l": 1.0, "o": 1.0, "s": 1.0})  # known keys take a faster path
    with pytest.raises(LogTypeError, match="dict"):
        run.log(data)


def test_a_dict_subclass_is_accepted(run: runlab.Run) -> None:
    from collections import OrderedDict, defaultdict

    run.log({"a": 1.0})
    run.log(OrderedDict(a=2.0))
    run.log(defaultdict(float, a=3.0))
    assert stored(run) == {"a": [1.0, 2.0, 3.0]}


def test_a_flush_with_more_than_65535_keys_loses_nothing(tmp_path: Path) -> None:
    settings = {**FAST, "flush_interval": 60.0, "system_metrics_interval": 0}  # only these keys
    run = runlab.init(dir=tmp_path, settings=settings)
    run.log({"loss": 1.0})
    run.log({f"k{i}": 1.0 for i in range(65_536)})
    run.finish()
    assert run.faults == ()
    assert len(read_series(run.dir)) == 65_537


def test_numpy_scalars_and_0d_arrays_are_stored_as_python_scalars(run: runlab.Run) -> None:
    run.log(
        {
            "f32": np.float32(0.1),
            "f64": np.float64(-0.0),
            "i64": np.int64(2**63 - 1),
            "i32": np.int32(-7),
            "u8": np.uint8(255),
            "b": np.bool_(True),
            "arr_f": np.array(2.5),
            "arr_i": np.array(3, dtype=np.int16),
            "arr_b": np.array(False),
            "nan": np.float32("nan"),
        }
    )
    got = stored(run)
    assert got["f32"] == [float(np.float32(0.1))]
    assert got["f64"] == [0.0]
    assert math.copysign(1, got["f64"][0]) == -1
    assert got["i64"] == [2**63 - 1]
    assert got["i32"] == [-7]
    assert got["u8"] == [255]
    assert got["b"] == [True]
    assert got["arr_f"] == [2.5]
    assert got["arr_i"] == [3]
    assert got["arr_b"] == [False]
    assert math.isnan(got["nan"][0])
    assert [type(v[0]) for v in got.values()] == [
        float, float, int, int, int, bool, float, int, bool, float
    ]  # fmt: skip


class FakeTensor:
    """Stands in for a torch tensor (torch is not installed): ``.item()`` and ``.size()``."""

    def __init__(self, *values: float) -> None:
        self.values = values
        self.shape = (len(values),) if len(values) != 1 else ()

    def size(self) -> tuple[int, ...]:
        return self.shape

    def item(self) -> float:
        if len(self.values) != 1:
            raise RuntimeError("a Tensor with 3 elements cannot be converted to Scalar")
        return self.values[0]


def test_a_tensor_like_value_is_stored_through_item(run: runlab.Run) -> None:
    run.log({"loss": FakeTensor(0.25)})
    with pytest.raises(LogTypeError, match=r"'grad'.*FakeTensor of shape \(3,\)"):
        run.log({"grad": FakeTensor(1.0, 2.0, 3.0)})
    assert stored(run) == {"loss": [0.25]}


def test_non_finite_floats_are_stored_as_such(run: runlab.Run) -> None:
    run.log({"x": math.nan})
    run.log({"x": math.inf})
    run.log({"x": -math.inf})
    run.log({"x": 5e-324})
    [nan, inf, ninf, tiny] = stored(run)["x"]
    assert math.isnan(nan)
    assert (inf, ninf, tiny) == (math.inf, -math.inf, 5e-324)


def test_ints_beyond_int64_are_stored_as_float(run: runlab.Run) -> None:
    """Documented normalisation: beyond int64 -> float64; beyond float64 -> +-inf."""
    run.log({"big": 2**63, "small": -(2**63) - 1, "huge": 10**400, "ok": 2**63 - 1})
    run.log({"big": 1, "small": 2, "huge": -(10**400), "ok": -(2**63)})
    got = stored(run)
    assert got["big"] == [float(2**63), 1.0]
    assert got["small"] == [-float(2**63), 2.0]
    assert got["huge"] == [math.inf, -math.inf]
    assert got["ok"] == [2**63 - 1, -(2**63)]
    assert all(type(v) is float for v in got["big"] + got["small"] + got["huge"])


def test_a_huge_int_loses_nothing_else_logged_with_it(run: runlab.Run) -> None:
    # Once, an int beyond float64 made the writer thread die and drop its whole batch.
    run.log({"loss": 1.0})
    run.log({"loss": 2.0, "count": 10**400})
    run.log({"loss": 3.0})
    assert stored(run) == {"loss": [1.0, 2.0, 3.0], "count": [math.inf]}
    assert run.faults == ()


# -- keys ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "rule"),
    [
        ("", "must not be empty"),
        ("k" * 257, "257 characters; the limit is 256"),
        ("a\nb", "control character"),
        ("tab\there", "control character"),
        ("nul\x00", "control character"),
        ("del\x7f", "control character"),
        ("step", "reserved"),
        ("timestamp", "reserved"),
        ("a//b", "empty '/'-separated part"),
        ("/a", "empty '/'-separated part"),
        ("a/", "empty '/'-separated part"),
        ("bad\ud800", "surrogate"),
        (1, "must be a str, not int"),
        (None, "must be a str, not NoneType"),
        (("a",), "must be a str, not tuple"),
    ],
)
def test_a_bad_key_is_refused_with_its_rule(run: runlab.Run, key: Any, rule: str) -> None:
    with pytest.raises(LogKeyError) as info:
        run.log({"fine": 1.0, key: 2.0})
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert rule in message
    if isinstance(key, str) and key:
        assert repr(key)[:20] in message  # the key itself is shown (long ones shortened)


@pytest.mark.parametrize("key", [1, "", "a\n", "x" * 300])
def test_a_bad_key_inside_a_nested_dict_is_refused(run: runlab.Run, key: Any) -> None:
    with pytest.raises(LogKeyError):
        run.log({"train": {key: 1.0}})


def test_a_key_of_exactly_256_characters_is_fine(run: runlab.Run) -> None:
    run.log({"k" * 256: 1.0})
    run.log({"a" * 100: {"b" * 155: 2.0}})  # 100 + "/" + 155
    assert list(stored(run)) == ["k" * 256, "a" * 100 + "/" + "b" * 155]


def test_a_nested_key_longer_than_256_is_refused(run: runlab.Run) -> None:
    with pytest.raises(LogKeyError, match="257 characters"):
        run.log({"a" * 100: {"b" * 156: 2.0}})


# -- steps -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("drained", [False, True], ids=["queued", "written"])
def test_a_step_may_not_go_back_for_a_key(run: runlab.Run, drained: bool) -> None:
    run.log({"a": 1.0}, step=5)
    if drained:
        dict(run.summary)  # flushes: the check must also see what the writer already took
    with pytest.raises(StepOrderError) as info:
        run.log({"a": 2.0}, step=3)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "'a'" in message
    assert "step 3" in message
    assert "step 5" in message
    # Another key may still be logged at the lower step for the first time.
    run.log({"b": 3.0}, step=3)
    # A refused call records nothing, not even its valid keys.
    with pytest.raises(StepOrderError, match="'a'"):
        run.log({"c": 4.0, "a": 5.0}, step=4)
    run.log({"a": 6.0}, step=5)  # repeating the last step is fine
    assert stored_steps(run) == {"a": [5], "b": [3]}
    assert read_series(run.dir)["a"].values.tolist() == [6.0]


@pytest.mark.parametrize("step", [-1, -(2**40), np.int64(-3)])
def test_a_negative_step_is_refused(run: runlab.Run, step: Any) -> None:
    with pytest.raises(StepOrderError, match=r"step must be >= 0"):
        run.log({"a": 1.0}, step=step)


@pytest.mark.parametrize("step", [1.5, 2.0, "3", True, np.float64(2.0), [1]])
def test_a_step_that_is_not_an_int_is_refused(run: runlab.Run, step: Any) -> None:
    with pytest.raises(LogTypeError, match="step must be an int") as info:
        run.log({"a": 1.0}, step=step)
    assert isinstance(info.value, TypeError)


def test_numpy_int_steps_are_accepted(run: runlab.Run) -> None:
    run.log({"a": 1.0}, step=np.int64(4))
    run.log({"a": 2.0}, step=np.array(7))
    assert stored_steps(run) == {"a": [4, 7]}


# -- run ids ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("run_id", ["a/b", "", "x" * 65, "..", "héllo", "-lead", " pad", "a.b"])
def test_a_bad_custom_run_id_is_refused(tmp_path: Path, run_id: str) -> None:
    with pytest.raises(InvalidRunId) as info:
        runlab.init(id=run_id, dir=tmp_path, settings=FAST)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert repr(run_id) in message
    assert "1-64 characters from A-Z a-z 0-9 _ -" in message
    assert list(tmp_path.glob("runs/*")) == []
    assert runlab.run is None


@pytest.mark.parametrize("run_id", ["x" * 64, "A_b-9", "0", "exp-2024_01"])
def test_a_good_custom_run_id_names_the_run_directory(tmp_path: Path, run_id: str) -> None:
    with runlab.init(id=run_id, dir=tmp_path, settings=FAST) as run:
        assert run.id == run_id
    assert run.dir == tmp_path / "runs" / run_id
    assert (run.dir / "run.json").exists()


def test_a_taken_custom_id_is_refused_and_the_first_run_carries_on(tmp_path: Path) -> None:
    first = runlab.init(id="exp1", dir=tmp_path, settings=FAST)
    first.log({"loss": 1.0})
    with pytest.raises(RunExistsError, match="'exp1'"):
        runlab.init(id="exp1", dir=tmp_path, settings=FAST)
    assert runlab.run is first
    first.log({"loss": 0.5})
    assert stored(first) == {"loss": [1.0, 0.5]}


# -- after finish, and after errors ----------------------------------------------------------------


def test_logging_after_finish_is_refused(run: runlab.Run) -> None:
    run.log({"a": 1.0})
    run.finish()
    with pytest.raises(RunFinishedError, match=run.id):
        run.log({"a": 2.0})
    with pytest.raises(RunlabError, match=r"runlab\.init\(\)"):
        runlab.log({"a": 3.0})  # no current run any more
    assert read_series(run.dir)["a"].values.tolist() == [1.0]


def test_nothing_logged_before_an_error_is_lost(run: runlab.Run) -> None:
    for i in range(100):
        run.log({"loss": float(i), "step_no": i})
    bad_calls: list[tuple[dict[str, Any], int | None]] = [
        ({"loss": "nope"}, None),
        ({"": 1.0}, None),
        ({"loss": 1.0}, 50),
        ({"loss": np.ones(3)}, None),
        ({"step": 1}, None),
    ]
    for data, step in bad_calls:
        with pytest.raises(RunlabError):
            run.log(data, step=step)
    run.log({"loss": 100.0, "step_no": 100})
    got = stored(run)
    assert got["loss"] == [float(i) for i in range(101)]
    assert got["step_no"] == list(range(101))
    assert read_series(run.dir)["loss"].steps.tolist() == list(range(101))
