"""One test per error message: each names the key path, the text, the column and the rule."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

import runlab
from runlab.scenario import Scenario, ScenarioError

PATH = "robot.links[2].mass"


def nested(text: Any) -> dict[str, Any]:
    """A spec with ``text`` at ``robot.links[2].mass``."""
    return {"robot": {"links": [0, 1, {"mass": text}], "name": "go2"}}


def error_of(spec: Any, **kwargs: Any) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        Scenario(spec, **kwargs)
    return info.value


def check(
    err: ScenarioError,
    *words: str,
    path: str | None = PATH,
    text: str | None = None,
    column: int | None = None,
) -> None:
    message = str(err)
    assert err.path == path
    if path is not None:
        assert f"scenario key {path}" in message
    if text is not None:
        assert err.text == text
        assert repr(text) in message
    assert err.column == column
    if column is not None:
        assert f"column {column}" in message
        assert message.splitlines()[-1] == " " * 4 + " " * (column - 1) + "^"
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def check_value(text: str, column: int | None, *words: str) -> None:
    check(error_of(nested(text)), *words, text=text, column=column)


def test_error_is_a_runlab_error_and_a_value_error_and_pickles() -> None:
    err = error_of(nested("${uniform(0, 1}"))
    assert isinstance(err, runlab.RunlabError) and isinstance(err, ValueError)
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.path, copy.text, copy.column, str(copy)) == (
        err.path,
        err.text,
        err.column,
        str(err),
    )


# -- syntax ---------------------------------------------------------------------------------------


def test_syntax_unclosed_call() -> None:
    check_value("${uniform(0, 1}", 15, "syntax error at column 15", "expected ',' or ')'", "'}'")


def test_syntax_unclosed_interpolation() -> None:
    check_value("${uniform", 10, "syntax error", "expected '}', '(' or ':'", "end of the text")


def test_syntax_empty_interpolation() -> None:
    check_value("${ }", 4, "syntax error", "empty ${}", "uniform(0, 1)", "robot.mass")


def test_syntax_unterminated_string() -> None:
    check_value("${categorical(['abc])}", 16, "syntax error", "unterminated string")


def test_syntax_unquoted_text() -> None:
    check_value("${categorical([red, 'blue'])}", 16, "unquoted text 'red'", "quote strings")


def test_syntax_positional_after_keyword() -> None:
    check_value("${gaussian(0, std=1, 4)}", 22, "syntax error", "positional argument after")


def test_syntax_malformed_number() -> None:
    check_value("${uniform(1.2.3, 4)}", 11, "syntax error", "expected a number")


def test_syntax_bad_list_index() -> None:
    check_value("${robot.links[x]}", 15, "syntax error", "expected a list index")


def test_non_finite_number() -> None:
    check_value("${uniform(0, inf)}", 14, "non-finite number 'inf' is not allowed")


def test_number_too_large() -> None:
    check_value("${uniform(0, 1e999)}", 14, "number 1e999 is too large (not finite)")


def test_distribution_inside_text() -> None:
    check_value("mass ${uniform(0, 1)} kg", 6, "must be the whole value", "only references")


# -- distribution names and arguments -------------------------------------------------------------


def test_unknown_distribution_lists_the_known_ones() -> None:
    check_value(
        "${unifrom(0, 1)}",
        3,
        "unknown distribution 'unifrom'",
        "did you mean 'uniform'?",
        "Known: bernoulli, categorical, discrete, gaussian, log_uniform, randint, "
        "truncated_gaussian, uniform",
        "_1d/_2d/_3d",
    )


def test_unknown_vector_form() -> None:
    check_value("${categorical_2d([1, 2])}", 3, "unknown distribution 'categorical_2d'")


def test_unknown_dotted_resolver() -> None:
    check_value("${oc.env:HOME}", 3, "unknown distribution 'oc.env'", "Known:")


def test_too_many_arguments() -> None:
    check_value("${uniform(0, 1, 2)}", 17, "uniform takes 2 arguments: uniform(low, high), got 3")


def test_too_few_arguments() -> None:
    check_value(
        "${truncated_gaussian(0, 1, -1)}",
        3,
        "truncated_gaussian takes 4 arguments: truncated_gaussian(mean, std, low, high), got 3",
    )


def test_too_few_arguments_with_optional_ones() -> None:
    check_value("${discrete: 3}", 3, "discrete takes 2 to 3 arguments", "probs=None", "got 1")


def test_unknown_keyword_argument() -> None:
    check_value(
        "${gaussian(0, 1, sigma=2)}", 18, "gaussian has no argument 'sigma'", "mean, std, size"
    )


def test_argument_given_positionally_and_by_keyword() -> None:
    check_value("${gaussian(0, 1, std=2)}", 18, "gaussian got argument 'std' twice")


def test_keyword_argument_repeated() -> None:
    check_value("${gaussian(0, std=1, std=2)}", 22, "keyword argument 'std' given twice")


def test_argument_must_be_a_number() -> None:
    check_value("${uniform('a', 1)}", 11, "uniform: low must be a number, got 'a'")


def test_argument_must_be_an_integer() -> None:
    check_value("${randint(0, 2.5)}", 14, "randint: high must be an integer, got 2.5")


def test_argument_must_be_a_non_empty_list() -> None:
    check_value("${categorical([])}", 15, "categorical: choices must be a non-empty list")


def test_argument_must_be_a_list_of_numbers() -> None:
    check_value(
        "${categorical([1, 2], weights=['a', 'b'])}",
        23,
        "categorical: weights must be a list of numbers",
    )


def test_size_must_be_a_positive_integer() -> None:
    check_value("${gaussian(0, 1, size=0)}", 18, "size must be an integer from 1 to 1,000,000")


@pytest.mark.parametrize(
    ("text", "column", "rule"),
    [
        ("${uniform(5, 1)}", 11, "uniform: low must be <= high, got low=5, high=1"),
        ("${log_uniform(2, 1)}", 15, "log_uniform: low must be <= high, got low=2, high=1"),
        ("${randint(3, -3)}", 11, "randint: low must be <= high, got low=3, high=-3"),
        ("${truncated_gaussian(0, 1, 2, 1)}", 28, "low must be <= high, got low=2, high=1"),
        (
            "${uniform_2d([0, 5], [1, 4])}",
            14,
            "uniform_2d: low must be <= high, got low=5, high=4 on axis 1",
        ),
    ],
)
def test_low_must_not_exceed_high(text: str, column: int, rule: str) -> None:
    check_value(text, column, rule)


@pytest.mark.parametrize(
    ("text", "column"),
    [("${gaussian(0, -1)}", 15), ("${truncated_gaussian(0, -0.5, -1, 1)}", 25)],
)
def test_std_must_not_be_negative(text: str, column: int) -> None:
    check_value(text, column, "std must be >= 0, got std=-")


def test_log_uniform_low_must_be_positive() -> None:
    check_value("${log_uniform(0, 1)}", 15, "log_uniform: low must be > 0 (log of low), got low=0")


def test_bernoulli_p_must_be_a_probability() -> None:
    check_value("${bernoulli(1.5)}", 13, "bernoulli: p must be in [0, 1], got p=1.5")


def test_probabilities_must_not_be_negative() -> None:
    check_value(
        "${discrete(2, [1, 2], [1.5, -0.5])}",
        23,
        "discrete: probs must be non-negative, got -0.5 at index 1",
    )


def test_probabilities_must_sum_to_one() -> None:
    check_value(
        "${discrete(2, [1, 2], [0.5, 0.4])}", 23, "discrete: probs must sum to 1 (within 1e-06)"
    )


def test_probability_sum_tolerance_is_one_in_a_million() -> None:
    Scenario({"x": "${discrete(2, [1, 2], [0.5, 0.5000009])}"})  # within 1e-6: accepted
    check_value("${discrete(2, [1, 2], [0.5, 0.500002])}", 23, "must sum to 1")


def test_probabilities_must_match_the_values() -> None:
    check_value(
        "${discrete(2, [1, 2], [0.5, 0.25, 0.25])}",
        23,
        "discrete: probs has 3 entries but values has 2",
    )


def test_n_must_match_the_number_of_values() -> None:
    check_value(
        "${discrete(3, [32, 64], [0.5, 0.5])}", 15, "discrete: n=3 but values has 2 entries"
    )


def test_n_must_be_positive() -> None:
    check_value("${discrete(-1, [1])}", 12, "discrete: n must be >= 1, got n=-1")


def test_weights_must_not_be_negative() -> None:
    check_value(
        "${categorical(['a', 'b'], weights=[1, -1])}",
        27,
        "categorical: weights must be non-negative, got -1 at index 1",
    )


def test_weights_must_not_all_be_zero() -> None:
    check_value("${categorical(['a'], [0])}", 22, "categorical: weights must not all be zero")


def test_weights_must_match_the_choices() -> None:
    check_value(
        "${categorical(['a', 'b'], [1, 2, 3])}",
        27,
        "categorical: weights has 3 entries but choices has 2",
    )


def test_axis_count_must_match() -> None:
    check_value(
        "${uniform_3d([-5, -5], [5, 5, 10])}",
        14,
        "uniform_3d: low has 2 values, but uniform_3d has 3 axes",
        "one number per axis",
    )


def test_per_axis_lists_need_a_vector_form() -> None:
    check_value("${uniform([0, 0], 1)}", 11, "uniform: low must be a number, got [0, 0]")


# -- references -----------------------------------------------------------------------------------


def test_reference_to_an_unknown_key() -> None:
    check_value("${robot.mas}", 3, "reference robot.mas: unknown key 'mas' in robot", "links, name")


def test_reference_index_out_of_range() -> None:
    check_value("${robot.links[5]}", 3, "robot.links is a list of 3 items", "5")


def test_reference_into_a_constant() -> None:
    check_value("${robot.name.first}", 3, "robot.name is a str value, not a mapping or list")


def test_reference_index_into_a_single_draw() -> None:
    err = error_of({"m": "${uniform(0, 1)}", "x": "${m[0]}"})
    check(
        err,
        "m is a single draw of uniform",
        "_1d/_2d/_3d forms or size=",
        path="x",
        text="${m[0]}",
        column=3,
    )


def test_reference_index_beyond_a_vector_draw() -> None:
    err = error_of({"start": "${uniform_3d(0, 1)}", "x": "${start[3]}"})
    check(err, "start draws 3 values; 3 is not an index", path="x", text="${start[3]}", column=3)


def test_reference_cycle() -> None:
    err = error_of({"robot": {"mass": "${robot.total}", "total": "${robot.mass}"}})
    check(
        err,
        "reference cycle robot.mass -> robot.total -> robot.mass",
        "cannot depend on itself",
        path="robot.mass",
        text="${robot.total}",
    )


# -- keys, values and sources ---------------------------------------------------------------------


def test_keys_must_be_strings() -> None:
    check(error_of({"robot": {1: "a"}}), "keys must be strings, got 1 (int)", path="robot")


def test_yaml_boolean_keys_get_a_hint() -> None:
    check(error_of("robot:\n  on: 1\n"), "got True (bool)", "quote the key", path="robot")


def test_keys_must_not_be_dotted() -> None:
    err = error_of({"robot.mass": "${uniform(1, 2)}"})
    check(err, "key 'robot.mass' is not allowed", "must not contain '.'", path=None)
    assert "scenario key (root)" in str(err)


def test_unsupported_value_type() -> None:
    check(error_of(nested({1, 2})), "unsupported value {1, 2} (set)", "allowed: str, int")


def test_nesting_depth_is_bounded() -> None:
    spec: dict[str, Any] = {}
    inner = spec
    for _ in range(150):
        inner["a"] = {}
        inner = inner["a"]
    err = error_of(spec)
    assert "nested deeper than 100 levels" in str(err)


def test_scenario_must_be_a_mapping() -> None:
    check(error_of("[1, 2]"), "a scenario must be a mapping", "list [1, 2]", path=None)


def test_one_word_text_is_not_a_file_unless_yaml() -> None:
    err = error_of("robot.json")
    check(err, "a scenario must be a mapping", "only a one-line name ending in .yaml", path=None)


def test_invalid_yaml_with_unquoted_resolver_form() -> None:
    err = error_of("x: ${uniform: 0, 10}\n")
    check(err, "scenario text: invalid YAML at line 1", "must be quoted", path=None)


def test_duplicate_yaml_keys() -> None:
    err = error_of("robot:\n  mass: 1\n  mass: 2\n")
    check(err, "invalid YAML at line 3, column 3", "duplicate key 'mass'", path=None)


def test_missing_scenario_file(tmp_path: Path) -> None:
    check(error_of(str(tmp_path / "nope.yaml")), "scenario file not found", path=None)
    check(error_of(tmp_path / "nope.txt"), "scenario file not found", path=None)


@pytest.mark.parametrize("seed", [-1, 1.5, True, "7"])
def test_seed_must_be_a_non_negative_integer(seed: Any) -> None:
    with pytest.raises(ScenarioError, match="seed must be a non-negative integer"):
        Scenario({"x": 1}).sample(seed)
    with pytest.raises(ScenarioError, match="seed must be a non-negative integer"):
        Scenario({"x": 1}, seed=seed)


def test_episode_index_must_be_a_non_negative_integer() -> None:
    with pytest.raises(ScenarioError, match="episode index k must be a non-negative integer"):
        Scenario({"x": 1}).sample_episode(0, -1)


def test_episode_needs_a_seed() -> None:
    with pytest.raises(ScenarioError, match="sample_episode needs a seed"):
        Scenario({"x": 1}).sample_episode(None, 0)


def test_failed_init_leaves_the_scenario_unchanged() -> None:
    s = Scenario({"x": "${uniform(0, 1)}"}, seed=1)
    with pytest.raises(ScenarioError):
        s.init({"x": "${uniform(1, 0)}"}, seed=2)
    assert list(s.parameters) == ["x"] and s.seed == 1
