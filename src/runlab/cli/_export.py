"""``runlab export``: runs (configs and summaries) or their histories to Parquet or CSV."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from runlab.cli._common import DirOption, fail, open_store, out, store_dir
from runlab.cli._query import FilterOption, parse_filter

if TYPE_CHECKING:
    import polars as pl

_FORMATS = ("parquet", "csv")
RUN_COLUMNS = ("id", "name", "project", "status", "created_at", "runtime", "tags")
"""The fixed columns of a run export; ``config.<key>`` and ``summary.<key>`` columns follow."""


def export(
    out_path: Annotated[
        Path,
        typer.Option("--out", "-o", help="File to write.", show_default=False),
    ],
    dir: DirOption = None,
    project: Annotated[
        str | None, typer.Option("--project", "-p", help="Only runs of this project.")
    ] = None,
    filter: FilterOption = None,
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-F",
            help="parquet or csv (default: from the --out suffix).",
            show_default=False,
        ),
    ] = None,
    history: Annotated[
        str | None,
        typer.Option(
            "--history",
            help="Comma-separated metric keys: write the runs' histories (run_id, step, "
            "timestamp, one column per key) instead of one row per run.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write one row per run (fields, config.<key>, summary.<key>), or their histories.

    In CSV, tags are joined with commas and list or dict values are JSON; Parquet keeps
    tags as a list. ``created_at`` is a UTC timestamp, ``runtime`` seconds.
    """
    chosen = _format(format, out_path)
    matcher = parse_filter(filter)
    metric_keys = [k.strip() for k in (history or "").split(",") if k.strip()]
    if history is not None and not metric_keys:
        raise typer.BadParameter("give at least one metric key", param_hint="--history")
    root = store_dir(dir)
    runs = open_store(root).runs(project=project)
    if matcher is not None:
        runs = [run for run in runs if matcher.matches(run)]
    frame = history_frame(runs, metric_keys) if metric_keys else runs_frame(runs)
    if not out_path.parent.is_dir():
        fail(f"Cannot write {out_path}: directory {out_path.parent} does not exist")
    try:
        if chosen == "parquet":
            frame.write_parquet(out_path)
        else:
            if "tags" in frame.columns:  # CSV has no list type
                frame = frame.with_columns(frame["tags"].list.join(","))
            frame.write_csv(out_path)
    except OSError as exc:
        fail(f"Cannot write {out_path}: {exc}")
    noun = "run" if len(runs) == 1 else "runs"
    what = f"history rows of {len(runs)} {noun}" if metric_keys else noun
    count = frame.height if metric_keys else len(runs)
    out().print(f"Wrote {count} {what} to {out_path}", soft_wrap=True, markup=False)


def _format(format: str | None, path: Path) -> str:
    if format is None:
        suffix = path.suffix.lstrip(".").lower()
        if suffix in _FORMATS:
            return suffix
        raise typer.BadParameter(
            f"cannot tell the format from {path.name!r}; give --format parquet or csv",
            param_hint="--format",
        )
    if format not in _FORMATS:
        raise typer.BadParameter(
            f"{format!r} is not a format; use one of {', '.join(_FORMATS)}",
            param_hint="--format",
        )
    return format


def runs_frame(runs: Sequence[Any]) -> pl.DataFrame:
    """One row per run: the fixed fields, then flattened ``config.*`` and ``summary.*`` columns.

    Nested config dicts flatten with dots (``config.model.depth``). A column whose values mix
    kinds, or holds lists or dicts, is written as JSON text.
    """
    import polars as pl

    rows = [_row(run) for run in runs]
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    fixed = {
        "id": pl.Series("id", [r["id"] for r in rows], dtype=pl.String),
        "name": pl.Series("name", [r["name"] for r in rows], dtype=pl.String),
        "project": pl.Series("project", [r["project"] for r in rows], dtype=pl.String),
        "status": pl.Series("status", [r["status"] for r in rows], dtype=pl.String),
        "created_at": pl.Series("created_at", [_micros(r["created_at"]) for r in rows]).cast(
            pl.Datetime("us", "UTC")
        ),
        "runtime": pl.Series("runtime", [r["runtime"] for r in rows], dtype=pl.Float64),
        "tags": pl.Series("tags", [r["tags"] for r in rows], dtype=pl.List(pl.String)),
    }
    rest = [_series(name, [row.get(name) for row in rows]) for name in names if name not in fixed]
    return pl.DataFrame([*fixed.values(), *rest])


def _micros(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1_000_000)


def _row(run: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": run.id,
        "name": run.name,
        "project": run.project,
        "status": str(getattr(run.status, "value", run.status)),
        "created_at": run.created_at,
        "runtime": run.runtime,
        "tags": list(run.tags or ()),
    }
    row.update(_flatten(run.config or {}, "config."))
    row.update({f"summary.{k}": v for k, v in (run.summary or {}).items()})
    return row


def _flatten(mapping: dict[str, Any], prefix: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _series(name: str, values: list[Any]) -> pl.Series:
    import polars as pl

    present = [v for v in values if v is not None]
    if all(isinstance(v, bool) for v in present):
        return pl.Series(name, values, dtype=pl.Boolean)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pl.Series(name, values, dtype=pl.Int64)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return pl.Series(name, values, dtype=pl.Float64)
    if all(isinstance(v, str) for v in present):
        return pl.Series(name, values, dtype=pl.String)
    text = [None if v is None else json.dumps(v, ensure_ascii=False, default=str) for v in values]
    return pl.Series(name, text, dtype=pl.String)


def history_frame(runs: Sequence[Any], keys: Sequence[str]) -> pl.DataFrame:
    """The runs' histories stacked: ``run_id``, ``step``, ``timestamp``, one column per key."""
    import polars as pl

    columns = ["run_id", "step", "timestamp", *keys]
    parts = []
    for run in runs:
        frame = run.history(keys)
        if frame.height:
            parts.append(frame.with_columns(pl.lit(run.id, dtype=pl.String).alias("run_id")))
    if not parts:
        schema = {"run_id": pl.String, "step": pl.Int64, "timestamp": pl.Float64}
        schema.update({k: pl.Float64 for k in keys})
        return pl.DataFrame(schema=schema)
    stacked: pl.DataFrame = pl.concat(parts, how="diagonal_relaxed")
    return stacked.select(columns)
