"""``runlab ls --filter/--columns/--sort/--format`` and ``runlab export`` on recorded runs."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner, Result

import runlab
from runlab.cli import app
from runlab.storage._layout import RunRecord, run_dir, write_json_atomic

QUICK = {"quiet": True, "capture_output": False, "capture_packages": False, "capture_git": False}
ENV = {"COLUMNS": "200", "NO_COLOR": "1", "RUNLAB_DIR": None, "RUNLAB_SILENT": None}

# id, lr, optimizer, tags, losses logged
RUNS = [
    ("aaaa0001", 1e-3, "adam", ["baseline"], [0.9, 0.5, 0.3]),
    ("bbbb0002", 1e-5, "sgd", [], [1.0, 0.8]),
    ("cccc0003", 3e-4, "adam", ["baseline", "v2"], [0.7, 0.2, 0.1, 0.05]),
]


def invoke(args: list[str]) -> Result:
    return CliRunner().invoke(app, args, env=ENV)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three finished runs of project ``p`` and one crashed run without a summary."""
    root = tmp_path_factory.mktemp("store") / "runlab"
    for run_id, lr, optimizer, tags, losses in RUNS:
        run = runlab.init(
            dir=root,
            project="p",
            id=run_id,
            name=f"run-{run_id[:4]}",
            config={"lr": lr, "optimizer": {"name": optimizer}, "layers": [64, 64]},
            tags=tags,
            settings=QUICK,
        )
        for loss in losses:
            run.log({"loss": loss, "acc": 1 - loss})
        run.finish()
    crashed = RunRecord(
        id="dddd0004",
        project="q",
        name="lost-lynx",
        status="running",
        created_at=time.time() - 7200,
        heartbeat_at=time.time() - 3600,
        heartbeat_interval=10.0,
        config={"lr": 0.5},
    )
    run_dir(root, crashed.id).mkdir(parents=True)
    write_json_atomic(run_dir(root, crashed.id) / "run.json", crashed.to_json())
    return root


def ids_of_table(output: str) -> list[str]:
    lines = output.splitlines()[1:-1]  # header and footer
    return [line.split()[0] for line in lines if line.strip()]


# -- ls --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("lr >= 1e-4", {"aaaa0001", "cccc0003", "dddd0004"}),
        ('optimizer.name == "adam" and tags has "v2"', {"cccc0003"}),
        ('status == "crashed"', {"dddd0004"}),
        ('status in ["finished"] and summary.loss < 0.5', {"aaaa0001", "cccc0003"}),
        ("not config.lr < 1e-4", {"aaaa0001", "cccc0003", "dddd0004"}),
        ("missing == 1", set()),
    ],
)
def test_ls_filter_selects_runs(store: Path, expression: str, expected: set[str]) -> None:
    result = invoke(["ls", "--dir", str(store), "--filter", expression, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert {row["id"] for row in json.loads(result.stdout)} == expected


def test_ls_table_shows_the_chosen_columns(store: Path) -> None:
    result = invoke(
        ["ls", "-d", str(store), "-f", 'project == "p"', "--columns", "lr,loss,optimizer.name"]
    )
    assert result.exit_code == 0, result.output
    header = result.stdout.splitlines()[0].split()
    assert header[-3:] == ["lr", "loss", "optimizer.name"]
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:-1]}
    assert rows["bbbb0002"][-3:] == ["1e-05", "0.8", "sgd"]
    assert result.stdout.splitlines()[-1].startswith("3 runs in")


def test_ls_sorts_ascending_and_descending_with_missing_values_last(store: Path) -> None:
    up = invoke(["ls", "-d", str(store), "--sort", "loss"])
    down = invoke(["ls", "-d", str(store), "--sort", "-loss"])
    assert up.exit_code == down.exit_code == 0, up.output + down.output
    # final losses: aaaa 0.3, bbbb 0.8, cccc 0.05; dddd has no summary
    assert ids_of_table(up.stdout) == ["cccc0003", "aaaa0001", "bbbb0002", "dddd0004"]
    assert ids_of_table(down.stdout) == ["bbbb0002", "aaaa0001", "cccc0003", "dddd0004"]
    by_lr = invoke(["ls", "-d", str(store), "--sort", "-config.lr", "--limit", "2"])
    assert ids_of_table(by_lr.stdout) == ["dddd0004", "aaaa0001"]
    assert "more not shown" in by_lr.stdout


def test_ls_csv_is_plain_and_complete(store: Path) -> None:
    result = invoke(
        ["ls", "-d", str(store), "--format", "csv", "-c", "lr,layers", "--sort", "config.lr"]
    )
    assert result.exit_code == 0, result.output
    assert "\x1b[" not in result.stdout
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == [
        "id",
        "name",
        "project",
        "status",
        "created_at",
        "runtime",
        "tags",
        "lr",
        "layers",
    ]
    assert [r["id"] for r in rows] == ["bbbb0002", "cccc0003", "aaaa0001", "dddd0004"]
    assert rows[1]["tags"] == "baseline,v2"
    assert float(rows[1]["lr"]) == 3e-4
    assert json.loads(rows[1]["layers"]) == [64, 64]
    assert rows[3]["status"] == "crashed"
    assert rows[3]["layers"] == ""


def test_ls_json_carries_typed_values(store: Path) -> None:
    result = invoke(["ls", "-d", str(store), "-F", "json", "-c", "lr,summary.loss,optimizer"])
    assert result.exit_code == 0, result.output
    rows = {row["id"]: row for row in json.loads(result.stdout)}
    first = rows["aaaa0001"]
    assert first["tags"] == ["baseline"]
    assert first["lr"] == 1e-3
    assert first["summary.loss"] == 0.3
    assert first["optimizer"] == {"name": "adam"}
    assert first["status"] == "finished"
    assert first["created_at"].endswith("+00:00")
    assert isinstance(first["runtime"], float)
    assert rows["dddd0004"]["summary.loss"] is None


def test_ls_json_without_columns_includes_every_summary_key(store: Path) -> None:
    result = invoke(["ls", "-d", str(store), "-F", "json", "-f", 'id == "aaaa0001"'])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert row["loss"] == 0.3
    assert row["acc"] == pytest.approx(0.7)


def test_ls_reports_no_match_for_a_filter(store: Path) -> None:
    result = invoke(["ls", "-d", str(store), "-f", "lr > 100"])
    assert result.exit_code == 1
    assert "No runs match --filter 'lr > 100'" in result.stderr
    empty = invoke(["ls", "-d", str(store), "-f", "lr > 100", "-F", "json"])
    assert empty.exit_code == 0
    assert json.loads(empty.stdout) == []


@pytest.mark.parametrize(
    ("args", "message", "caret"),
    [
        (["ls", "--filter", "lr >= "], "Invalid --filter: expected a number", "        ^"),
        (["ls", "--filter", "lr = 1"], "write '==' to compare", "     ^"),
        (["ls", "--columns", "lr,run.nope"], "Invalid --columns: unknown run field", "  ^"),
        (["ls", "--sort", "-a b"], "Invalid --sort: unexpected ' ' in a key", "   ^"),
        (["export", "--out", "x.csv", "-f", "(a == 1"], "expected ')'", "         ^"),
    ],
)
def test_syntax_errors_exit_2_with_a_caret(
    store: Path, tmp_path: Path, args: list[str], message: str, caret: str
) -> None:
    result = invoke([*args, "--dir", str(store)])
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stderr.splitlines()[-1] == caret
    assert result.stdout == ""


def test_ls_rejects_an_unknown_format(store: Path) -> None:
    result = invoke(["ls", "-d", str(store), "--format", "xml"])
    assert result.exit_code == 2
    assert "table, csv, json" in result.stderr


# -- export ----------------------------------------------------------------------------------


def test_export_parquet_has_one_row_per_run(store: Path, tmp_path: Path) -> None:
    path = tmp_path / "runs.parquet"
    result = invoke(["export", "-d", str(store), "--project", "p", "--out", str(path)])
    assert result.exit_code == 0, result.output
    assert "Wrote 3 runs" in result.stdout
    frame = pl.read_parquet(path).sort("id")
    assert frame.columns == [
        "id",
        "name",
        "project",
        "status",
        "created_at",
        "runtime",
        "tags",
        "config.lr",
        "config.optimizer.name",
        "config.layers",
        "summary.loss",
        "summary.acc",
    ]
    assert frame["id"].to_list() == [r[0] for r in RUNS]
    assert frame["config.lr"].to_list() == [r[1] for r in RUNS]
    assert frame["config.optimizer.name"].to_list() == [r[2] for r in RUNS]
    assert frame["tags"].to_list() == [r[3] for r in RUNS]
    assert frame["summary.loss"].to_list() == [r[4][-1] for r in RUNS]
    assert frame["config.layers"].to_list() == ["[64, 64]"] * 3
    assert frame["status"].to_list() == ["finished"] * 3
    assert frame.schema["created_at"] == pl.Datetime("us", "UTC")
    api = runlab.Api(store)
    for row in frame.iter_rows(named=True):
        view = api.run(row["id"])
        assert row["created_at"].timestamp() == pytest.approx(view.created_at, abs=1e-5)
        assert row["runtime"] == pytest.approx(view.runtime)


def test_export_csv_reads_back_the_same_values(store: Path, tmp_path: Path) -> None:
    parquet, csv_path = tmp_path / "runs.parquet", tmp_path / "runs.csv"
    filt = ["--filter", 'tags has "baseline" or status == "crashed"']
    assert invoke(["export", "-d", str(store), *filt, "--out", str(parquet)]).exit_code == 0
    result = invoke(["export", "-d", str(store), *filt, "--format", "csv", "--out", str(csv_path)])
    assert result.exit_code == 0, result.output
    from_parquet = pl.read_parquet(parquet).sort("id")
    from_csv = pl.read_csv(csv_path).sort("id")
    assert from_csv["id"].to_list() == ["aaaa0001", "cccc0003", "dddd0004"]
    assert from_csv.columns == from_parquet.columns
    assert from_csv["tags"].to_list() == ["baseline", "baseline,v2", ""]
    for name in ("config.lr", "summary.loss", "config.optimizer.name", "status"):
        assert from_csv[name].to_list() == from_parquet[name].to_list(), name
    assert from_parquet["status"].to_list()[-1] == "crashed"


def test_export_history_writes_the_long_frame(store: Path, tmp_path: Path) -> None:
    path = tmp_path / "history.parquet"
    result = invoke(
        ["export", "-d", str(store), "-p", "p", "--history", "loss,nope", "--out", str(path)]
    )
    assert result.exit_code == 0, result.output
    frame = pl.read_parquet(path)
    assert frame.columns == ["run_id", "step", "timestamp", "loss", "nope"]
    for run_id, *_, losses in RUNS:
        rows = frame.filter(pl.col("run_id") == run_id).sort("step")
        assert rows["loss"].to_list() == losses
        assert rows["step"].to_list() == list(range(len(losses)))
        assert rows["nope"].null_count() == len(losses)
    csv_path = tmp_path / "history.csv"
    assert (
        invoke(["export", "-d", str(store), "--history", "acc", "-o", str(csv_path)]).exit_code == 0
    )
    back = pl.read_csv(csv_path)
    assert back.columns == ["run_id", "step", "timestamp", "acc"]
    assert back.height == sum(len(r[4]) for r in RUNS)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "runs.txt"], "give --format parquet or csv"),
        (["--out", "runs.csv", "--format", "xlsx"], "use one of parquet, csv"),
        (["--out", "runs.csv", "--history", " , "], "give at least one metric key"),
    ],
)
def test_export_rejects_bad_options(store: Path, args: list[str], message: str) -> None:
    result = invoke(["export", "-d", str(store), *args])
    assert result.exit_code == 2
    assert message in result.stderr


def test_export_into_a_missing_directory_fails(store: Path, tmp_path: Path) -> None:
    result = invoke(["export", "-d", str(store), "-o", str(tmp_path / "no" / "runs.csv")])
    assert result.exit_code == 1
    assert "does not exist" in result.stderr
