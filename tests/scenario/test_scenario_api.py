"""Scenario sources (dict, YAML text, files, HumaLab's init), inspection and YAML output."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import runlab.scenario
from runlab import scenarios
from runlab.scenario import DISTRIBUTIONS, Distribution, Scenario

YAML = """\
# a robot scenario
robot:
  mass: ${uniform(1, 2)}
  payload: ${robot.mass}
  friction: '${truncated_gaussian: 0.8, 0.1, 0.5, 1.0}'
  start: ${uniform_3d([-5, -5, 0], [5, 5, 10])}
lr: ${log_uniform:1e-4,1e-1}
terrain: "${categorical(['flat', 'hills'], weights=[3, 1])}"
episodes: 100
"""


def test_yaml_text_file_and_dict_agree(tmp_path: Path) -> None:
    path = tmp_path / "robot.yaml"
    path.write_text(YAML)
    import yaml

    from_text = Scenario(YAML)
    for other in (Scenario(path), Scenario(str(path)), Scenario(yaml.safe_load(YAML))):
        assert other == from_text
        assert other.sample_episode(3, 2) == from_text.sample_episode(3, 2)
    assert list(from_text.parameters) == [
        "robot.mass",
        "robot.friction",
        "robot.start",
        "lr",
        "terrain",
    ]
    values = from_text.sample(0)
    assert values["episodes"] == 100
    assert values["robot"]["payload"] == values["robot"]["mass"]
    assert 0.5 <= values["robot"]["friction"] <= 1.0


def test_yml_extension_and_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.yml"
    path.write_text("# nothing yet\n")
    s = Scenario(str(path))
    assert s.is_empty and s.sample(0) == {} and s.parameters == {}


def test_resolver_form_means_the_same_as_the_call_form() -> None:
    call = Scenario({"x": "${uniform(0, 10)}", "v": "${gaussian(0, 1, size=3)}"})
    resolver = Scenario({"x": "${uniform: 0, 10}", "v": "${gaussian:0,1,size=3}"})
    assert resolver.parameters == call.parameters
    assert resolver.sample_episode(1, 1) == call.sample_episode(1, 1)
    assert resolver.parameters["x"].text == "${uniform: 0, 10}"


def test_argument_syntax_variants() -> None:
    s = Scenario(
        {
            "a": "${  uniform ( low = -1e-4 , high = +2.5E3 , ) }",
            "b": '${categorical(["x", \'y\', "it\'s \\"q\\""], weights=[.5, 1., 0])}',
            "c": "${categorical([[1, [2, 3]], [], true, false, null, True, None])}",
            "d": "${discrete(3, [32, 64, 128], [0.3, 0.5, 0.2])}",
        }
    )
    p = s.parameters
    assert p["a"].args == {"low": -1e-4, "high": 2500.0}
    assert p["b"].args == {"choices": ["x", "y", 'it\'s "q"'], "weights": [0.5, 1.0, 0]}
    assert p["c"].args["choices"] == [[1, [2, 3]], [], True, False, None, True, None]
    assert p["d"].args == {"n": 3, "values": [32, 64, 128], "probs": [0.3, 0.5, 0.2]}


def test_humalab_init_form() -> None:
    s = scenarios.Scenario().init(
        scenario={
            "learning_rate": "${log_uniform(0.0001, 0.1)}",
            "batch_size": "${discrete(3, [32, 64, 128], [0.3, 0.5, 0.2])}",
        },
        seed=42,
    )
    assert isinstance(s, Scenario) and s.seed == 42
    values = s.sample_episode(None, 0)
    assert 1e-4 <= values["learning_rate"] <= 0.1
    assert values["batch_size"] in (32, 64, 128)
    assert scenarios.Scenario is Scenario


def test_init_replaces_the_spec_in_place() -> None:
    s = Scenario({"a": "${uniform(0, 1)}"})
    same = s.init({"b": "${gaussian(0, 1)}"})
    assert same is s and list(s.parameters) == ["b"]
    assert s.init().is_empty


def test_copy_from_another_scenario_is_independent() -> None:
    original = Scenario({"a": {"b": "${uniform(0, 1)}"}}, seed=4)
    copy = Scenario(original)
    assert copy == original and copy.seed == 4
    copy.init({"c": 1})
    assert list(original.parameters) == ["a.b"]


def test_spec_is_copied_not_aliased() -> None:
    spec = {"a": {"b": "${uniform(0, 1)}"}}
    s = Scenario(spec)
    spec["a"]["b"] = "${uniform(5, 6)}"
    s.to_dict()["a"]["b"] = 3
    assert s.parameters["a.b"].args == {"low": 0, "high": 1}


def test_tuples_and_numpy_values_are_normalised() -> None:
    s = Scenario({"shape": (2, 3), "gain": np.float64(0.5), "n": np.int64(3), "v": np.arange(2)})
    assert s.to_dict() == {"shape": [2, 3], "gain": 0.5, "n": 3, "v": [0, 1]}
    assert type(s.to_dict()["n"]) is int
    assert Scenario(s.to_yaml()) == s


def test_parameters_describe_each_distribution() -> None:
    s = Scenario(
        {"robot": {"links": [{"mass": "${uniform(1, 2)}"}], "color": "${categorical(['r'])}"}}
    )
    mass = s.parameters["robot.links[0].mass"]
    assert isinstance(mass, Distribution)
    assert (mass.name, mass.args, mass.kind, mass.text, mass.path) == (
        "uniform",
        {"low": 1, "high": 2},
        "numeric",
        "${uniform(1, 2)}",
        "robot.links[0].mass",
    )
    assert s.parameters["robot.color"].kind == "categorical"
    assert mass == Distribution("uniform", {"low": 1.0, "high": 2.0})  # text/path not compared


def test_distribution_canonical_text_round_trips() -> None:
    texts = [
        "${uniform: 0, 10}",
        "${gaussian(0, 1, size=4)}",
        "${categorical(['a', \"b\"], weights=[1, 2])}",
        "${discrete(2, [1, 2])}",
        "${truncated_gaussian_2d(mean=[0, 1], std=1, low=-1, high=[2, 3])}",
    ]
    s = Scenario({f"k{i}": t for i, t in enumerate(texts)})
    canonical = Scenario({path: str(d) for path, d in s.parameters.items()})
    assert canonical.parameters == s.parameters
    assert canonical.sample(5) == s.sample(5)


def test_to_yaml_round_trips_and_keeps_text_as_written() -> None:
    s = Scenario(YAML)
    text = s.to_yaml()
    assert "${log_uniform:1e-4,1e-1}" in text
    again = Scenario(text)
    assert again == s and again.parameters == s.parameters
    assert again.sample_episode(8, 9) == s.sample_episode(8, 9)
    assert Scenario().to_yaml() == ""


def test_validate_returns_self() -> None:
    s = Scenario(YAML)
    assert s.validate() is s


def test_pickle_keeps_spec_and_seed() -> None:
    s = Scenario(YAML, seed=3)
    clone = pickle.loads(pickle.dumps(s))
    assert clone == s and clone.sample() == s.sample()


def test_repr_names_parameters() -> None:
    assert repr(Scenario(YAML, seed=1)) == (
        "<Scenario 5 parameters [robot.mass, robot.friction, robot.start, lr, terrain], seed=1>"
    )


def test_distribution_names_are_listed() -> None:
    numeric = ["bernoulli", "gaussian", "log_uniform", "randint", "truncated_gaussian", "uniform"]
    vectors = [f"{name}_{n}d" for name in numeric for n in (1, 2, 3)]
    assert sorted(DISTRIBUTIONS) == sorted([*numeric, *vectors, "categorical", "discrete"])


@pytest.mark.parametrize("module", ["runlab.scenario", "runlab.scenarios"])
def test_import_is_light(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "heavy = [m for m in ('numpy', 'yaml', 'polars', 'scipy') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_names() -> None:
    assert set(runlab.scenario.__all__) == {
        "DISTRIBUTIONS",
        "PROBABILITY_TOLERANCE",
        "Distribution",
        "Kind",
        "Scenario",
        "ScenarioError",
        "ScenarioSource",
    }
    assert all(hasattr(runlab.scenario, name) for name in runlab.scenario.__all__)
    assert runlab.scenario.ScenarioError is runlab._errors.ScenarioError


def test_to_yaml_keeps_unicode_and_characters_pyyaml_would_fold() -> None:
    s = Scenario({"name": "café ✓", "odd": "a\x85b\u2028c", "n": float("inf")})
    again = Scenario(s.to_yaml())
    assert again.to_dict() == s.to_dict()
    assert "café" in Scenario({"name": "café ✓"}).to_yaml()
