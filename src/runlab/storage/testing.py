"""Test helpers for run stores, and the one behavioural suite every :class:`Catalog` must pass.

A backend's test module provides a ``catalog_factory`` fixture and subclasses
:class:`CatalogConformance`::

    @pytest.fixture
    def catalog_factory(tmp_path):
        return lambda: SQLiteCatalog(tmp_path / "catalog.sqlite")

    class TestSQLiteCatalog(CatalogConformance):
        pass

Each call of the factory within one test opens the same backing store; set ``reopenable = False``
on the subclass when a second instance cannot see the first one's data (a private in-memory
database). Importing this module imports pytest: only tests should.
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from runlab.storage._catalog import Catalog, ProjectInfo
from runlab.storage._layout import (
    FILES_DIR,
    METADATA_JSON,
    RUN_JSON,
    RunRecord,
    run_dir,
    write_json_atomic,
)

CatalogFactory = Callable[[], Catalog]


def make_record(run_id: str, **fields: Any) -> RunRecord:
    """A plausible record for tests: a running run created now, unless ``fields`` say otherwise."""
    now = time.time()
    values: dict[str, Any] = {
        "project": "default",
        "name": run_id,
        "status": "running",
        "created_at": now,
        "heartbeat_at": now,
    }
    values.update(fields)
    return RunRecord(id=run_id, **values)


def write_run(
    root: str | os.PathLike[str],
    record: RunRecord,
    *,
    metadata: dict[str, Any] | None = None,
    files: dict[str, str] | None = None,
) -> Path:
    """Write ``record`` as a run directory under ``root`` the way a run process would."""
    directory = run_dir(root, record.id)
    directory.mkdir(parents=True, exist_ok=True)
    write_json_atomic(directory / RUN_JSON, record.to_json())
    if metadata is not None:
        write_json_atomic(directory / METADATA_JSON, metadata)
    for name, text in (files or {}).items():
        path = directory / FILES_DIR / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return directory


def _full_record(run_id: str = "abc123def") -> RunRecord:
    return RunRecord(
        id=run_id,
        project="vision",
        name="resnet-lr3e-4",
        status="failed",
        created_at=1_700_000_000.25,
        ended_at=1_700_000_600.5,
        heartbeat_at=1_700_000_590.0,
        heartbeat_interval=2.5,
        group="sweep-7",
        job_type="train",
        tags=("baseline", "gpu", "ünïcode ✓"),
        notes="first try",
        description="ResNet-50 on CIFAR",
        config={"lr": 3e-4, "model": {"depth": 50, "widths": [64, 128]}, "flag": True, "x": None},
        summary={"loss": 0.25, "acc": {"top1": 0.9}, "steps": 10_000},
        exit_code=1,
        err_msg="ValueError: boom",
        seed=2**100 + 7,
        progress_deadline=1_700_000_595.5,
    )


class CatalogConformance:
    """Behaviour every :class:`Catalog` implementation keeps. Subclass it in a ``Test*`` class."""

    reopenable: ClassVar[bool] = True
    """Whether a second instance from ``catalog_factory`` sees what the first one wrote."""

    @pytest.fixture
    def catalog(self, catalog_factory: CatalogFactory) -> Iterator[Catalog]:
        catalog = catalog_factory()
        yield catalog
        catalog.close()

    # -- records in, records out ---------------------------------------------------------------

    def test_round_trip_keeps_every_field(self, catalog: Catalog) -> None:
        record = _full_record()
        for field in dataclasses.fields(RunRecord):
            default = field.default
            if field.default_factory is not dataclasses.MISSING:
                default = field.default_factory()
            assert getattr(record, field.name) != default, f"set {field.name} in _full_record"
        catalog.upsert([(record, "sig")])
        assert catalog.get(record.id) == record

    def test_non_finite_numbers_survive(self, catalog: Catalog) -> None:
        record = make_record(
            "nan1", config={"lr": math.nan, "clip": math.inf}, summary={"loss": -math.inf}
        )
        catalog.upsert([(record, "s")])
        got = catalog.get("nan1")
        assert got is not None
        assert math.isnan(got.config["lr"])
        assert got.config["clip"] == math.inf
        assert got.summary["loss"] == -math.inf

    def test_get_unknown_is_none(self, catalog: Catalog) -> None:
        assert catalog.get("nope") is None

    def test_upsert_replaces_the_run(self, catalog: Catalog) -> None:
        catalog.upsert([(make_record("r1", tags=("a", "b")), "s1")])
        catalog.upsert([(make_record("r1", status="finished", tags=("c",)), "s2")])
        got = catalog.get("r1")
        assert got is not None
        assert (got.status, got.tags) == ("finished", ("c",))
        assert catalog.list_runs(tags=["a"]) == []
        assert [r.id for r in catalog.list_runs(tags=["c"])] == ["r1"]
        assert catalog.signatures() == {"r1": ("s2", "finished")}

    def test_last_pair_wins_within_one_upsert(self, catalog: Catalog) -> None:
        catalog.upsert(
            [(make_record("r1", name="old"), "s1"), (make_record("r1", name="new"), "s2")]
        )
        got = catalog.get("r1")
        assert got is not None
        assert got.name == "new"
        assert catalog.signatures()["r1"][0] == "s2"

    def test_empty_calls_are_harmless(self, catalog: Catalog) -> None:
        catalog.upsert([])
        catalog.remove([])
        catalog.remove(["never-there"])
        assert catalog.list_runs() == []
        assert catalog.projects() == []
        assert catalog.signatures() == {}

    def test_remove_drops_runs_and_their_tags(self, catalog: Catalog) -> None:
        catalog.upsert([(make_record(i, tags=("t",)), "s") for i in ("r1", "r2", "r3")])
        catalog.remove(["r1", "r3"])
        assert [r.id for r in catalog.list_runs(tags=["t"])] == ["r2"]
        assert set(catalog.signatures()) == {"r2"}

    def test_many_runs_in_one_call(self, catalog: Catalog) -> None:
        records = [
            make_record(f"run{i:05d}", created_at=float(i), tags=("x",)) for i in range(1500)
        ]
        catalog.upsert([(r, str(i)) for i, r in enumerate(records)])
        assert len(catalog.list_runs(tags=["x"])) == 1500
        catalog.remove([r.id for r in records[:1200]])
        assert len(catalog.signatures()) == 300

    def test_clear(self, catalog: Catalog) -> None:
        catalog.upsert([(make_record("r1", tags=("t",)), "s")])
        catalog.clear()
        assert catalog.signatures() == {}
        assert catalog.list_runs(tags=["t"]) == []
        catalog.upsert([(make_record("r1"), "s")])  # still usable
        assert catalog.get("r1") is not None

    def test_returned_records_are_snapshots(self, catalog: Catalog) -> None:
        catalog.upsert([(make_record("r1", config={"a": {"b": 1}}), "s")])
        first = catalog.get("r1")
        assert first is not None
        first.config["a"]["b"] = 99
        catalog.upsert([(make_record("r1", status="finished", config={"a": {"b": 2}}), "s2")])
        assert first.status == "running"
        again = catalog.get("r1")
        assert again is not None
        assert again.config == {"a": {"b": 2}}

    # -- listing -------------------------------------------------------------------------------

    def test_list_is_newest_first_with_stable_ties(self, catalog: Catalog) -> None:
        catalog.upsert(
            [
                (make_record("a", created_at=1.0), "s"),
                (make_record("c", created_at=3.0), "s"),
                (make_record("b1", created_at=2.0), "s"),
                (make_record("b2", created_at=2.0), "s"),
            ]
        )
        assert [r.id for r in catalog.list_runs()] == ["c", "b2", "b1", "a"]
        assert [r.id for r in catalog.list_runs(limit=2)] == ["c", "b2"]
        assert catalog.list_runs(limit=0) == []

    def test_list_filters_combine(self, catalog: Catalog) -> None:
        rows = [
            make_record("r1", project="p", status="finished", tags=("a", "b"), created_at=1.0),
            make_record("r2", project="p", status="running", tags=("a",), created_at=2.0),
            make_record("r3", project="q", status="finished", tags=("a", "b"), created_at=3.0),
            make_record("r4", project="p", status="failed", tags=(), created_at=4.0),
        ]
        catalog.upsert([(r, "s") for r in rows])

        def ids(**filters: Any) -> list[str]:
            return [r.id for r in catalog.list_runs(**filters)]

        assert ids(project="p") == ["r4", "r2", "r1"]
        assert ids(status="finished") == ["r3", "r1"]
        assert ids(status=["failed", "running"]) == ["r4", "r2"]
        assert ids(tags=["a"]) == ["r3", "r2", "r1"]
        assert ids(tags=["a", "b"]) == ["r3", "r1"]
        assert ids(tags=["b", "a", "b"]) == ["r3", "r1"]
        assert ids(tags=[]) == ["r4", "r3", "r2", "r1"]
        assert ids(project="p", status="finished", tags=["b"]) == ["r1"]
        assert ids(project="p", tags=["a"], limit=1) == ["r2"]
        assert ids(project="nope") == []
        assert ids(status="killed") == []

    def test_list_rejects_a_negative_limit(self, catalog: Catalog) -> None:
        with pytest.raises(ValueError, match="limit"):
            catalog.list_runs(limit=-1)

    # -- find ----------------------------------------------------------------------------------

    def test_find_exact_id_wins_alone(self, catalog: Catalog) -> None:
        catalog.upsert([(make_record("abc"), "s"), (make_record("abcdef", name="abc"), "s")])
        assert [r.id for r in catalog.find("abc")] == ["abc"]

    def test_find_by_prefix(self, catalog: Catalog) -> None:
        catalog.upsert(
            [
                (make_record("abc111", created_at=1.0), "s"),
                (make_record("abc222", created_at=2.0), "s"),
                (make_record("xyz333", created_at=3.0), "s"),
            ]
        )
        assert [r.id for r in catalog.find("abc1")] == ["abc111"]
        assert [r.id for r in catalog.find("abc")] == ["abc222", "abc111"]
        assert catalog.find("ab") == []  # too short to be a prefix
        assert catalog.find("ABC1") == []  # case-sensitive
        assert catalog.find("ab%") == []  # no wildcards
        assert catalog.find("a_c") == []

    def test_short_ids_still_match_exactly(self, catalog: Catalog) -> None:
        catalog.upsert([(make_record("ab"), "s"), (make_record("abzzz"), "s")])
        assert [r.id for r in catalog.find("ab")] == ["ab"]

    def test_find_by_name(self, catalog: Catalog) -> None:
        catalog.upsert(
            [
                (make_record("r1", name="baseline", created_at=1.0), "s"),
                (make_record("r2", name="baseline", created_at=2.0), "s"),
                (make_record("r3", name="other", created_at=3.0), "s"),
            ]
        )
        assert [r.id for r in catalog.find("other")] == ["r3"]
        assert [r.id for r in catalog.find("baseline")] == ["r2", "r1"]
        assert catalog.find("base") == []  # names match whole, never by prefix

    def test_find_mixes_prefix_and_name_matches(self, catalog: Catalog) -> None:
        catalog.upsert(
            [
                (make_record("run123", created_at=1.0), "s"),
                (make_record("zzz999", name="run", created_at=2.0), "s"),
            ]
        )
        assert [r.id for r in catalog.find("run")] == ["zzz999", "run123"]

    def test_find_within_a_project(self, catalog: Catalog) -> None:
        catalog.upsert(
            [
                (make_record("abc111", project="p", name="x"), "s"),
                (make_record("abc222", project="q", name="x"), "s"),
            ]
        )
        assert [r.id for r in catalog.find("abc", project="p")] == ["abc111"]
        assert [r.id for r in catalog.find("x", project="q")] == ["abc222"]
        assert catalog.find("abc111", project="q") == []

    # -- projects ------------------------------------------------------------------------------

    def test_projects_count_runs_and_last_activity(self, catalog: Catalog) -> None:
        catalog.upsert(
            [
                (make_record("r1", project="b", created_at=10.0, heartbeat_at=15.0), "s"),
                (make_record("r2", project="b", created_at=12.0, heartbeat_at=None), "s"),
                (
                    make_record("r3", project="a", created_at=5.0, heartbeat_at=6.0, ended_at=7.0),
                    "s",
                ),
            ]
        )
        assert catalog.projects() == [ProjectInfo("a", 1, 7.0), ProjectInfo("b", 2, 15.0)]

    # -- concurrency and lifetime --------------------------------------------------------------

    def test_threads_share_one_instance(self, catalog: Catalog) -> None:
        errors: list[BaseException] = []

        def work(worker: int) -> None:
            try:
                for i in range(40):
                    run_id = f"w{worker}-{i % 10}"
                    catalog.upsert([(make_record(run_id, summary={"i": i}), f"s{i}")])
                    catalog.list_runs(limit=5)
                    catalog.find(run_id)
                    catalog.signatures()
            except BaseException as exc:  # collected, re-raised below in the main thread
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(catalog.signatures()) == 60

    def test_a_second_instance_sees_the_data(self, catalog_factory: CatalogFactory) -> None:
        if not self.reopenable:
            pytest.skip("each instance of this backend is private")
        first = catalog_factory()
        first.upsert([(make_record("r1"), "s")])
        second = catalog_factory()
        try:
            assert second.get("r1") == first.get("r1")
            second.upsert([(make_record("r1", status="finished"), "s2")])
            got = first.get("r1")
            assert got is not None
            assert got.status == "finished"
        finally:
            first.close()
            second.close()

    def test_close_twice_is_harmless(self, catalog_factory: CatalogFactory) -> None:
        catalog = catalog_factory()
        catalog.close()
        catalog.close()
