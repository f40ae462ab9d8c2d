"""``runlab`` commands against run stores recorded with the real SDK."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import runlab
from runlab.cli import app
from runlab.storage._layout import RunRecord, run_dir, write_json_atomic

QUICK = {
    "quiet": True,
    "capture_output": False,
    "capture_git": False,
    "capture_packages": False,
}
# Wide enough that no column is shortened; no colour so output compares as text.
ENV = {"COLUMNS": "200", "NO_COLOR": "1", "RUNLAB_DIR": None, "RUNLAB_SILENT": None}


def invoke(
    args: list[str], input: str | None = None, env: Mapping[str, str] | None = None
) -> Result:
    return CliRunner().invoke(app, args, input=input, env={**ENV, **(env or {})})


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three runs: finished (grasping), failed (walking), crashed (walking, no metadata)."""
    root = tmp_path_factory.mktemp("store") / "runlab"
    config = {"lr": 0.0003, "model": {"layers": 4, "act": "relu"}}
    with runlab.init(
        project="grasping",
        name="brave-otter-3",
        id="k3j9x0ab",
        config=config,
        tags=["baseline"],
        notes="first try",
        dir=root,
        settings=QUICK,
    ) as run:
        for step in range(8):
            run.log({"ramp": float(step), "loss": 1.0 / (step + 1)})
        run.log({"gappy": float("nan")})
    with (
        pytest.raises(ValueError),
        runlab.init(
            project="walking",
            name="calm-heron-7",
            id="z81mq0cd",
            tags=["baseline", "v2"],
            dir=root,
            settings=QUICK,
        ) as run,
    ):
        run.log({"reward": 1.5})
        raise ValueError("diverged")
    crashed = RunRecord(
        id="c7ashed1",
        project="walking",
        name="lost-lynx-1",
        status="running",
        created_at=time.time() - 7200,
        heartbeat_at=time.time() - 3600,
        heartbeat_interval=10.0,
    )
    run_dir(root, crashed.id).mkdir(parents=True)
    write_json_atomic(run_dir(root, crashed.id) / "run.json", crashed.to_json())
    return root


@pytest.fixture
def scratch(store: Path, tmp_path: Path) -> Path:
    """A copy of ``store`` that a test may change (copying a run directory moves the run)."""
    root = tmp_path / "runlab"
    shutil.copytree(store / "runs", root / "runs")
    return root


def _rows(output: str) -> dict[str, str]:
    """Table rows of ``runlab ls`` keyed by run id (the header under "id")."""
    table = output.splitlines()[:-1]  # the last line counts the runs
    return {line.split()[0]: line for line in table if line.strip()}


# -- version and help ------------------------------------------------------------------------------


def test_version() -> None:
    result = invoke(["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"runlab {runlab.__version__}"


def test_help_lists_commands() -> None:
    result = invoke(["--help"])
    assert result.exit_code == 0
    for command in ("ls", "show", "delete", "reindex"):
        assert command in result.stdout


# -- ls --------------------------------------------------------------------------------------------


def test_ls_lists_every_run_newest_first(store: Path) -> None:
    result = invoke(["ls", "--dir", str(store)])
    assert result.exit_code == 0, result.output
    rows = _rows(result.stdout)
    assert list(rows)[1:] == ["z81mq0cd", "k3j9x0ab", "c7ashed1"]
    assert rows["id"].split()[:7] == [
        "id",
        "name",
        "project",
        "status",
        "created",
        "runtime",
        "tags",
    ]
    assert "brave-otter-3" in rows["k3j9x0ab"] and "finished" in rows["k3j9x0ab"]
    assert "failed" in rows["z81mq0cd"] and "baseline,v2" in rows["z81mq0cd"]
    assert "crashed" in rows["c7ashed1"] and "2h ago" in rows["c7ashed1"]
    assert f"3 runs in {store}" in result.stdout


def test_ls_shows_shared_summary_values(store: Path) -> None:
    rows = _rows(invoke(["ls", "--dir", str(store), "--project", "grasping"]).stdout)
    # Numeric summary keys in the order the run first set them, last values as in the summary.
    assert rows["id"].split()[-3:] == ["ramp", "loss", "gappy"]
    assert rows["k3j9x0ab"].split()[-3:] == ["7", "0.125", "nan"]


@pytest.mark.parametrize(
    ("args", "ids"),
    [
        (["--project", "grasping"], ["k3j9x0ab"]),
        (["-p", "walking"], ["z81mq0cd", "c7ashed1"]),
        (["--status", "crashed"], ["c7ashed1"]),
        (["--status", "failed"], ["z81mq0cd"]),
        (["--status", "ERRORED"], ["z81mq0cd"]),
        (["--tag", "baseline"], ["z81mq0cd", "k3j9x0ab"]),
        (["--tag", "baseline", "--tag", "v2"], ["z81mq0cd"]),
        (["--limit", "2"], ["z81mq0cd", "k3j9x0ab"]),
    ],
)
def test_ls_filters(store: Path, args: list[str], ids: list[str]) -> None:
    result = invoke(["ls", "--dir", str(store), *args])
    assert result.exit_code == 0, result.output
    assert list(_rows(result.stdout))[1:] == ids


def test_ls_says_when_the_limit_hides_runs(store: Path) -> None:
    result = invoke(["ls", "--dir", str(store), "-n", "1"])
    assert "1 run in" in result.stdout
    assert "more not shown: raise --limit 1" in result.stdout


def test_ls_reads_runlab_dir_from_the_environment(store: Path) -> None:
    result = invoke(["ls"], env={"RUNLAB_DIR": str(store)})
    assert result.exit_code == 0
    assert "k3j9x0ab" in result.stdout


def test_ls_defaults_to_runlab_in_cwd(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(store.parent)
    result = invoke(["ls"])
    assert result.exit_code == 0
    assert "3 runs in ./runlab" in result.stdout


def test_ls_missing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = invoke(["ls", "--dir", str(missing)])
    assert result.exit_code == 1
    assert f"No runs in {missing} (directory does not exist)" in result.stderr
    assert not missing.exists()


def test_ls_empty_store(tmp_path: Path) -> None:
    result = invoke(["ls", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert f"No runs in {tmp_path}" in result.stderr


def test_ls_no_match_names_the_filters(store: Path) -> None:
    result = invoke(["ls", "--dir", str(store), "-p", "flying", "--tag", "x"])
    assert result.exit_code == 1
    assert f"No runs match project='flying' tags='x' in {store}" in result.stderr


def test_ls_rejects_an_unknown_status(store: Path) -> None:
    result = invoke(["ls", "--dir", str(store), "--status", "sleeping"])
    assert result.exit_code == 2
    assert "'sleeping' is not a run state" in result.output
    assert "finished" in result.output


# -- show ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["k3j9x0ab", "k3j", "brave-otter-3"])
def test_show_finds_a_run_by_id_prefix_or_name(store: Path, key: str) -> None:
    result = invoke(["show", key, "--dir", str(store)])
    assert result.exit_code == 0, result.output
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[0] == "brave-otter-3  k3j9x0ab  finished"
    text = "\n".join(lines)
    for section in ("Run", "Metadata", "Config", "Summary", "History"):
        assert section in lines
    assert "project  grasping" in text
    assert "tags     baseline" in text
    assert "notes    first try" in text
    assert f"python   {sys.version_info.major}.{sys.version_info.minor}" in text
    assert "model/layers  4" in text
    assert "lr            0.0003" in text


def test_show_draws_history(store: Path) -> None:
    result = invoke(["show", "k3j9x0ab", "--dir", str(store)])
    history = result.stdout.split("History")[1].splitlines()
    rows = {line.split()[0]: line.split() for line in history if line.strip()}
    assert rows["key"] == ["key", "history", "last", "min", "max", "points"]
    assert rows["ramp"] == ["ramp", "▁▂▃▄▅▆▇█", "7", "0", "7", "8"]
    assert rows["loss"][1:] == ["█▄▃▂▂▁▁▁", "0.125", "0.125", "1", "8"]
    # A key whose only value is NaN: no bar, and no finite min or max.
    assert rows["gappy"] == ["gappy", "nan", "-", "-", "1"]


def test_show_summary_and_failure(store: Path) -> None:
    result = invoke(["show", "z81mq0cd", "--dir", str(store)])
    assert result.exit_code == 0
    assert "status   failed" in result.stdout
    assert "error    ValueError: diverged" in result.stdout
    summary = result.stdout.split("Summary")[1]
    assert "reward  1.5" in summary


def test_show_a_run_with_no_metadata_or_history(store: Path) -> None:
    result = invoke(["show", "c7ashed1", "--dir", str(store)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].rstrip() == "lost-lynx-1  c7ashed1  crashed"
    for section in ("Metadata", "Config", "Summary", "History"):
        assert section not in result.stdout.splitlines()


def test_show_unknown_run(store: Path) -> None:
    result = invoke(["show", "xyz", "--dir", str(store)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert f"No run matches 'xyz' in {store}" in result.stderr


def test_show_ambiguous_prefix_lists_candidates(scratch: Path) -> None:
    twin = run_dir(scratch, "k3j9zzzz")
    shutil.copytree(run_dir(scratch, "k3j9x0ab"), twin)
    result = invoke(["show", "k3j9", "--dir", str(scratch)])
    assert result.exit_code == 1
    assert "matches 2 runs" in result.stderr
    assert "k3j9x0ab" in result.stderr and "k3j9zzzz" in result.stderr


def test_show_missing_directory(tmp_path: Path) -> None:
    result = invoke(["show", "abc", "--dir", str(tmp_path / "nowhere")])
    assert result.exit_code == 1
    assert "directory does not exist" in result.stderr


# -- delete ----------------------------------------------------------------------------------------


def test_delete_with_yes(scratch: Path) -> None:
    result = invoke(["delete", "k3j9x0ab", "calm-heron-7", "--yes", "--dir", str(scratch)])
    assert result.exit_code == 0, result.output
    assert "Deleted k3j9x0ab (brave-otter-3)" in result.stdout
    assert "Deleted z81mq0cd (calm-heron-7)" in result.stdout
    assert sorted(p.name for p in (scratch / "runs").iterdir()) == ["c7ashed1"]
    assert list(_rows(invoke(["ls", "--dir", str(scratch)]).stdout))[1:] == ["c7ashed1"]


def test_delete_asks_first(scratch: Path) -> None:
    declined = invoke(["delete", "k3j", "--dir", str(scratch)], input="n\n")
    assert declined.exit_code == 1
    assert "Delete 1 run from" in declined.stdout
    assert "Nothing deleted." in declined.stderr
    assert run_dir(scratch, "k3j9x0ab").is_dir()

    accepted = invoke(["delete", "k3j", "--dir", str(scratch)], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "Deleted k3j9x0ab" in accepted.stdout
    assert not run_dir(scratch, "k3j9x0ab").exists()


def test_delete_unknown_run_deletes_nothing(scratch: Path) -> None:
    result = invoke(["delete", "k3j9x0ab", "nope", "-y", "--dir", str(scratch)])
    assert result.exit_code == 1
    assert f"No run matches 'nope' in {scratch}" in result.stderr
    assert run_dir(scratch, "k3j9x0ab").is_dir()


# -- reindex ---------------------------------------------------------------------------------------


def test_reindex_counts_runs_and_picks_up_copied_ones(scratch: Path, store: Path) -> None:
    result = invoke(["reindex", "--dir", str(scratch)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"Indexed 3 runs in {scratch}"
    assert (scratch / "catalog.sqlite").exists()

    shutil.copytree(run_dir(store, "k3j9x0ab"), run_dir(scratch, "copy0001"))
    (scratch / "catalog.sqlite").unlink()
    assert invoke(["reindex", "--dir", str(scratch)]).stdout.strip().startswith("Indexed 4 runs")
    assert "copy0001" in invoke(["ls", "--dir", str(scratch)]).stdout


def test_reindex_missing_directory(tmp_path: Path) -> None:
    result = invoke(["reindex", "--dir", str(tmp_path / "nowhere")])
    assert result.exit_code == 1
    assert "No run store at" in result.stderr
    assert not (tmp_path / "nowhere").exists()


# -- as a real process -----------------------------------------------------------------------------


def _runlab(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNLAB_")}
    src = str(Path(runlab.__file__).parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    env.update(COLUMNS="200", NO_COLOR="1")
    return subprocess.run(
        [sys.executable, "-m", "runlab", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_python_m_runlab(store: Path) -> None:
    listed = _runlab("ls", cwd=store.parent)
    assert listed.returncode == 0, listed.stderr
    assert list(_rows(listed.stdout))[1:] == ["z81mq0cd", "k3j9x0ab", "c7ashed1"]

    shown = _runlab("show", "k3j", "--dir", str(store))
    assert shown.returncode == 0, shown.stderr
    assert "▁▂▃▄▅▆▇█" in shown.stdout

    missing = _runlab("show", "xyz", "--dir", str(store))
    assert missing.returncode == 1
    assert missing.stdout == ""
    assert f"No run matches 'xyz' in {store}" in missing.stderr

    version = _runlab("--version")
    assert version.stdout.strip() == f"runlab {runlab.__version__}"


def test_cli_import_is_light() -> None:
    # Startup stays fast: Polars and SQLAlchemy load only inside commands that read runs.
    code = (
        "import sys, runlab.cli\n"
        "heavy = [m for m in ('polars', 'sqlalchemy', 'numpy') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    src = str(Path(runlab.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": src}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_show_lists_run_files(scratch: Path) -> None:
    files = run_dir(scratch, "k3j9x0ab") / "files"
    files.mkdir(exist_ok=True)
    (files / "notes.txt").write_text("hello")
    result = invoke(["show", "k3j9x0ab", "--dir", str(scratch)])
    assert "files/notes.txt" in result.stdout


def test_show_unreadable_metadata_is_an_error_not_a_traceback(scratch: Path) -> None:
    (run_dir(scratch, "k3j9x0ab") / "metadata.json").write_text("{not json")
    result = invoke(["show", "k3j9x0ab", "--dir", str(scratch)])
    assert result.exit_code == 1
    assert "Cannot show run k3j9x0ab" in result.stderr
    assert "metadata.json" in result.stderr


def test_restore_lists_and_brings_back_and_gc_purges(scratch: Path) -> None:
    assert invoke(["delete", "k3j9x0ab", "-y", "--dir", str(scratch)]).exit_code == 0
    listed = invoke(["restore", "--dir", str(scratch)])
    assert listed.exit_code == 0 and "k3j9x0ab  deleted" in listed.stdout
    restored = invoke(["restore", "k3j9x0ab", "--dir", str(scratch)])
    assert restored.exit_code == 0, restored.output
    assert "k3j9x0ab" in _rows(invoke(["ls", "--dir", str(scratch)]).stdout)
    assert invoke(["delete", "k3j9x0ab", "-y", "--dir", str(scratch)]).exit_code == 0
    declined = invoke(["gc", "--dir", str(scratch)], input="n\n")
    assert declined.exit_code == 1 and "Nothing purged." in declined.stderr
    purged = invoke(["gc", "-y", "--dir", str(scratch)])
    assert purged.exit_code == 0 and "Purged 1 run" in purged.stdout
    again = invoke(["restore", "k3j9x0ab", "--dir", str(scratch)])
    assert again.exit_code == 1 and "purged" in again.stderr


def test_mv_moves_runs_to_another_project(scratch: Path) -> None:
    args = ["mv", "k3j9x0ab", "calm-heron-7", "--project", "elsewhere", "--dir", str(scratch)]
    result = invoke(args)
    assert result.exit_code == 0, result.output
    assert "Moved k3j9x0ab (brave-otter-3) to elsewhere" in result.stdout
    listed = invoke(["ls", "--project", "elsewhere", "--dir", str(scratch)])
    assert sorted(_rows(listed.stdout))[1:] == ["k3j9x0ab", "z81mq0cd"]
