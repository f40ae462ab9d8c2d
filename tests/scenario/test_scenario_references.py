"""``${a.b}`` references: sampled values, chains, subtrees, indexes, text templates, cycles."""

from __future__ import annotations

import pytest

from runlab.scenario import Scenario, ScenarioError


def test_reference_takes_the_sampled_value() -> None:
    s = Scenario({"robot": {"mass": "${uniform(1, 2)}"}, "payload": "${robot.mass}"})
    for k in range(5):
        values = s.sample_episode(0, k)
        assert values["payload"] == values["robot"]["mass"]
    assert list(s.parameters) == ["robot.mass"]  # a reference is not a parameter


def test_references_chain() -> None:
    s = Scenario({"a": "${b}", "b": "${c.d}", "c": {"d": "${gaussian(0, 1)}"}, "e": "${a}"})
    values = s.sample(1)
    assert values["a"] == values["b"] == values["e"] == values["c"]["d"]


def test_reference_to_constants_and_subtrees() -> None:
    spec = {
        "base": {"size": 3, "tags": ["x", "y"], "mass": "${uniform(1, 2)}"},
        "copy": "${base}",
        "tag": "${base.tags[1]}",
        "tag_by_dotted_index": "${base.tags.0}",
    }
    values = Scenario(spec).sample(2)
    assert values["copy"] == values["base"]
    assert values["copy"] is not values["base"]
    assert values["tag"] == "y" and values["tag_by_dotted_index"] == "x"


def test_reference_through_another_reference() -> None:
    spec = {"alias": "${real}", "real": {"x": "${uniform(0, 1)}"}, "x": "${alias.x}"}
    values = Scenario(spec).sample(3)
    assert values["x"] == values["real"]["x"] == values["alias"]["x"]


def test_lazy_references_are_not_cycles() -> None:
    # d.q refers to a.p, and a refers to d: resolvable key by key, so not a cycle.
    values = Scenario({"a": "${d}", "d": {"p": 1, "q": "${a.p}"}}).sample(0)
    assert values == {"a": {"p": 1, "q": 1}, "d": {"p": 1, "q": 1}}


def test_reference_into_list_elements_and_vector_draws() -> None:
    spec = {
        "links": [{"mass": "${uniform(1, 2)}"}, {"mass": "${links[0].mass}"}],
        "start": "${uniform_3d([-5, -5, 0], [5, 5, 10])}",
        "height": "${start[2]}",
        "grid": "${uniform_2d(0, 1, size=4)}",
        "corner": "${grid[3][1]}",
    }
    values = Scenario(spec).sample(4)
    assert values["links"][1]["mass"] == values["links"][0]["mass"]
    assert values["height"] == values["start"][2]
    assert values["corner"] == values["grid"][3][1]


def test_whole_value_reference_keeps_its_type_and_blanks_are_ignored() -> None:
    values = Scenario({"n": 3, "flag": True, "m": " ${n} ", "f": "${flag}"}).sample(0)
    assert values["m"] == 3 and values["f"] is True


def test_references_inside_text_are_written_as_text() -> None:
    spec = {
        "name": "go2",
        "version": "${randint(1, 9)}",
        "pos": [0.5, 1],
        "flag": False,
        "none": None,
        "label": "${name}-v${version} at ${pos} ${flag}/${none}",
    }
    values = Scenario(spec).sample(5)
    assert values["label"] == f"go2-v{values['version']} at [0.5, 1] false/null"


def test_escaped_interpolation_is_literal_text() -> None:
    s = Scenario({"price": "\\${5}", "note": "cost: \\${uniform(0, 1)} and ${x}", "x": 1})
    assert s.sample(0) == {"price": "${5}", "note": "cost: ${uniform(0, 1)} and 1", "x": 1}
    assert s.parameters == {}
    assert s.to_dict()["price"] == "\\${5}"  # kept as written


def test_strings_without_interpolation_are_constants() -> None:
    spec = {"a": "$5 {x}", "b": "uniform(0, 1)", "c": "", "d": "\\n"}
    assert Scenario(spec).sample(0) == spec


@pytest.mark.parametrize(
    ("spec", "cycle"),
    [
        ({"a": "${a}"}, "a -> a"),
        ({"a": "${b}", "b": "${a}"}, "a -> b -> a"),
        ({"a": "${b}", "b": "${c}", "c": "${a}"}, "a -> b -> c -> a"),
        ({"a": {"x": "${a}"}}, "a.x -> a.x"),
        ({"a": "${b.x}", "b": {"x": "${a}"}}, "a -> b.x -> a"),
        ({"t": "v${t}"}, "t -> t"),
    ],
)
def test_reference_cycles_are_named(spec: dict[str, object], cycle: str) -> None:
    with pytest.raises(ScenarioError, match="reference cycle") as info:
        Scenario(spec)
    assert cycle in str(info.value)
