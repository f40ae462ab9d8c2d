"""ExperimentGrid and setup_logger_kwargs: Spinning Up's names and directories, exactly."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from rich.console import Console

import runlab
from runlab import ExperimentGrid, RunlabWarning, setup_logger_kwargs
from runlab._console import set_console
from runlab.sweep import _grid


class Tanh:
    pass


class ReLU:
    pass


# (grid name, adds in order as (args, kwargs), names in variants() order)
ISSUE_EXAMPLES: list[tuple[str, list[tuple[tuple[Any, ...], dict[str, Any]]], list[str]]] = [
    (
        "exp",
        [
            (("lr", [0.1, 1e-5]), {}),
            (("clip_ratio", [0.2]), {}),
            (("gamma", 0.99), {"in_name": True}),
        ],
        ["exp_lr0-1_gam0-99", "exp_lr1e-05_gam0-99"],
    ),
    ("", [(("lr", [0.1, 0.01]), {})], ["lr0-1", "lr0-01"]),
    (
        "b",
        [(("use_gae", [True, False]), {}), (("n", [1, 2]), {})],
        ["b_use_n1", "b_use_n2", "b_n1", "b_n2"],
    ),
    ("p", [(("hid", [[32, 32], [64]]), {})], ["p_hid32-32", "p_hid64"]),
    (
        "s",
        [
            (("env_name", ["A", "B"]), {"shorthand": ""}),
            (("pi_lr", [1, 2]), {"shorthand": "Pi LR!"}),
        ],
        ["s_a_pi-lr-1", "s_a_pi-lr-2", "s_b_pi-lr-1", "s_b_pi-lr-2"],
    ),
    (
        "n",
        [(("a:b:c", [1, 2]), {}), (("a:b:d", 5), {}), (("a:e", [7]), {})],
        ["n_a-b-c1", "n_a-b-c2"],
    ),
    (
        "ppo-pyt-bench",
        [
            (("env_name", "CartPole-v0"), {"shorthand": "", "in_name": True}),
            (("seed", [0, 10, 20]), {}),
            (("epochs", 10), {}),
            (("steps_per_epoch", 4000), {}),
            (("ac_kwargs:hidden_sizes", [(32,), (64, 64)]), {"shorthand": "hid"}),
            (("ac_kwargs:activation", [Tanh, ReLU]), {"shorthand": ""}),
        ],
        [
            f"ppo-pyt-bench_cartpole-v0_{suffix}"
            for _seed in range(3)
            for suffix in ("hid32_tanh", "hid32_relu", "hid64-64_tanh", "hid64-64_relu")
        ],
    ),
]


def make(name: str, adds: list[tuple[tuple[Any, ...], dict[str, Any]]]) -> ExperimentGrid:
    grid = ExperimentGrid(name)
    for args, kwargs in adds:
        grid.add(*args, **kwargs)
    return grid


@pytest.mark.parametrize(
    ("name", "adds", "expected"), ISSUE_EXAMPLES, ids=[e[0] or "unnamed" for e in ISSUE_EXAMPLES]
)
def test_issue_examples_name_variants_exactly(
    name: str, adds: list[tuple[tuple[Any, ...], dict[str, Any]]], expected: list[str]
) -> None:
    grid = make(name, adds)
    assert grid.names() == expected
    assert [grid.variant_name(v) for v in grid.variants()] == expected
    assert len(grid) == len(expected) == len(grid.variants())


def test_nested_keys_become_nested_dicts() -> None:
    grid = make(*ISSUE_EXAMPLES[5][:2])
    assert grid.variants() == [
        {"a": {"b": {"c": 1, "d": 5}, "e": 7}},
        {"a": {"b": {"c": 2, "d": 5}, "e": 7}},
    ]


def test_ppo_variants_first_added_key_varies_slowest() -> None:
    grid = make(*ISSUE_EXAMPLES[6][:2])
    variants = grid.variants()
    assert len(variants) == 12
    assert len(set(grid.names())) == 4
    assert [v["seed"] for v in variants] == [0] * 4 + [10] * 4 + [20] * 4
    assert variants[1] == {
        "env_name": "CartPole-v0",
        "seed": 0,
        "epochs": 10,
        "steps_per_epoch": 4000,
        "ac_kwargs": {"hidden_sizes": (32,), "activation": ReLU},
    }


def test_a_non_list_is_one_value_and_a_list_value_needs_wrapping() -> None:
    grid = ExperimentGrid("t")
    grid.add("shape", (32, 32))
    grid.add("sizes", [[32, 32]])
    grid.add("cfg", {"x": 1})
    assert grid.variants() == [{"shape": (32, 32), "sizes": [32, 32], "cfg": {"x": 1}}]
    assert grid.names() == ["t"]


def test_functions_are_named_by_dunder_name_and_the_grid_name_is_not_sanitised() -> None:
    def my_fn() -> None: ...

    grid = ExperimentGrid("My Grid!")
    grid.add("fn", [my_fn, len], shorthand="f")
    assert grid.names() == ["My Grid!_fmy_fn", "My Grid!_flen"]


def test_default_shorthand_drops_non_alphanumerics_per_part() -> None:
    assert _grid.default_shorthand("pi_lr") == "pi"
    assert _grid.default_shorthand("ac_kwargs:hidden_sizes") == "ac-hid"
    assert _grid.default_shorthand("a:b:c") == "a-b-c"


def test_flat_key_colliding_with_a_nested_head_raises() -> None:
    for first, second in (("a", "a:b"), ("a:b", "a"), ("x:a", "x:a:b")):
        grid = ExperimentGrid()
        grid.add(first, 1)
        grid.add(second, 2)
        with pytest.raises(
            ValueError, match=r"^You can't assign multiple values to the same key\."
        ):
            grid.variants()


def test_a_repeated_key_overwrites_with_a_warning() -> None:
    grid = ExperimentGrid("r")
    grid.add("lr", [1, 2])
    grid.add("bs", [8, 16])
    with pytest.warns(RunlabWarning, match="'lr' added twice"):
        grid.add("lr", [3, 4, 5])
    assert grid.keys == ["lr", "bs"]
    assert len(grid) == 6
    assert grid.names()[:3] == ["r_lr3_bs8", "r_lr3_bs16", "r_lr4_bs8"]


def test_colliding_shorthands_warn() -> None:
    grid = ExperimentGrid()
    grid.add("steps", [1, 2])
    with pytest.warns(RunlabWarning, match="share the shorthand 'ste'"):
        grid.add("step_size", [0.1, 0.2])
    assert grid.names()[0] == "ste1_ste0-1"


def test_the_32_32_pitfall_warns() -> None:
    grid = ExperimentGrid()
    with pytest.warns(RunlabWarning, match=r"for one list value write \[\[32, 32\]\]"):
        grid.add("hidden_sizes", [32, 32])
    assert len(grid) == 2
    grid.add("widths", [32, 64])  # distinct ints: an ordinary axis, no warning
    grid.add("flags", [True, True])  # bools are not the pitfall


def test_invalid_arguments() -> None:
    grid = ExperimentGrid()
    with pytest.raises(TypeError, match="key=1"):
        grid.add(1, [1])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="shorthand=3"):
        grid.add("k", [1], shorthand=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty list"):
        grid.add("k", [])


def test_default_shorthand_setting_off_uses_full_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNLAB_DEFAULT_SHORTHAND", "0")
    grid = ExperimentGrid("x")
    grid.add("pi_lr", [1, 2])
    grid.add("a:b", [3, 4], shorthand="ab")
    assert grid.names()[0] == "x_pi_lr1_ab3"


@pytest.fixture
def recorded() -> Iterator[Console]:
    console = Console(record=True, width=100, file=io.StringIO())
    set_console(console)
    yield console
    set_console(None)


def test_print_shows_keys_shorthands_values_and_counts(
    recorded: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNLAB_SILENT", raising=False)
    grid = make(*ISSUE_EXAMPLES[6][:2])
    grid.print()
    lines = [line.rstrip() for line in recorded.export_text().splitlines()]
    assert lines == [
        "              ExperimentGrid ppo-pyt-bench",
        "┏━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━┓",
        "┃ key                    ┃ shorthand ┃ values          ┃",
        "┡━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━┩",
        "│ env_name               │ (none)    │ 'CartPole-v0'   │",
        "│ seed                   │ see       │ 0, 10, 20       │",
        "│ epochs                 │ epo       │ 10              │",
        "│ steps_per_epoch        │ ste       │ 4000            │",
        "│ ac_kwargs:hidden_sizes │ hid       │ (32,), (64, 64) │",
        "│ ac_kwargs:activation   │ (none)    │ Tanh, ReLU      │",
        "└────────────────────────┴───────────┴─────────────────┘",
        "           12 variants; 4 not counting seeds",
    ]


def test_print_is_silenced(recorded: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNLAB_SILENT", "1")
    ExperimentGrid("q").print()
    assert recorded.export_text() == ""


# -- setup_logger_kwargs ---------------------------------------------------------------------------

FROZEN = time.struct_time((2024, 3, 9, 7, 5, 2, 5, 69, 0))


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_grid, "_now", lambda: FROZEN)
    for name in ("RUNLAB_DATA_DIR", "RUNLAB_FORCE_DATESTAMP"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("kwargs", "output_dir"),
    [
        ({"data_dir": "D"}, "D/exp"),
        ({"data_dir": "D", "seed": 3}, "D/exp/exp_s3"),
        ({"data_dir": "D", "datestamp": True}, "D/2024-03-09_exp"),
        (
            {"data_dir": "D", "seed": 0, "datestamp": True},
            "D/2024-03-09_exp/2024-03-09_07-05-02-exp_s0",
        ),
        ({}, "./data/exp"),
        ({"seed": 7}, "./data/exp/exp_s7"),
    ],
)
def test_setup_logger_kwargs(frozen: None, kwargs: dict[str, Any], output_dir: str) -> None:
    assert setup_logger_kwargs("exp", **kwargs) == {"output_dir": output_dir, "exp_name": "exp"}


def test_setup_logger_kwargs_reads_settings_from_the_environment(
    frozen: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNLAB_DATA_DIR", "/runs")
    monkeypatch.setenv("RUNLAB_FORCE_DATESTAMP", "1")
    assert setup_logger_kwargs("e", seed=1)["output_dir"] == (
        "/runs/2024-03-09_e/2024-03-09_07-05-02-e_s1"
    )
    assert setup_logger_kwargs("e", data_dir="here")["output_dir"] == "here/2024-03-09_e"


def test_setup_logger_kwargs_uses_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNLAB_DATA_DIR", raising=False)
    out = setup_logger_kwargs("e", seed=2, data_dir="d", datestamp=True)["output_dir"]
    assert re.fullmatch(r"d/(\d{4}-\d\d-\d\d)_e/\1_\d\d-\d\d-\d\d-e_s2", out)


def test_settings_fields_and_defaults() -> None:
    settings = runlab.Settings()
    assert (settings.data_dir, settings.force_datestamp, settings.default_shorthand) == (
        "./data",
        False,
        True,
    )
    env = {"RUNLAB_DATA_DIR": "x", "RUNLAB_FORCE_DATESTAMP": "yes", "RUNLAB_DEFAULT_SHORTHAND": "0"}
    resolved = runlab.Settings.resolve(env=env)
    assert (resolved.data_dir, resolved.force_datestamp, resolved.default_shorthand) == (
        "x",
        True,
        False,
    )
