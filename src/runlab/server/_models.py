"""The request and response bodies of the REST API (``ui/API.md``), as pydantic models.

Request bodies are validated with them. Responses are serialized by the routes themselves (big
tables as pre-built JSON); the response models are what the OpenAPI document, and so the web
app's types, say those bodies hold.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Scalar = str | int | float | bool | None
RunId = Annotated[str, Field(min_length=1, max_length=200)]
Tag = Annotated[str, Field(min_length=1, max_length=200)]
Status = Literal["running", "finished", "failed", "killed", "canceled", "crashed", "stalled"]
Root = Literal["files", "artifacts"]
XAxis = Literal["step", "time", "relative"]
Order = Literal["asc", "desc"]
FileKind = Literal["text", "image", "binary"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorOut(BaseModel):
    """Every error: a message, and for a filter syntax error the 1-based column."""

    message: str
    column: int | None = None


class InfoOut(BaseModel):
    version: str
    dir: str
    auth_required: bool


class ProjectOut(BaseModel):
    name: str
    run_count: int
    last_activity: float


class RunRow(BaseModel):
    """One run as the runs table shows it; config and summary are flat (``a.b``) scalars."""

    id: str
    name: str
    project: str
    status: Status
    tags: list[str]
    group: str | None
    job_type: str | None
    created_at: float
    ended_at: float | None
    heartbeat_at: float | None
    runtime: float | None
    notes: str | None
    config: dict[str, Scalar]
    summary: dict[str, Scalar]


class Columns(BaseModel):
    config: list[str]
    summary: list[str]


class RunsPage(BaseModel):
    total: int
    runs: list[RunRow]
    columns: Columns


class Aggregate(BaseModel):
    mean: float | None
    min: float | None
    max: float | None


class Group(BaseModel):
    value: Scalar
    count: int
    run_ids: list[str]
    summary: dict[str, Aggregate]


class GroupsOut(BaseModel):
    by: str
    groups: list[Group]


class ForkOut(BaseModel):
    """The run this one was forked from, and the step it was forked at. ``project`` and
    ``name`` are the parent's, null when the parent is no longer in the store."""

    run: str
    step: int
    project: str | None
    name: str | None


class LineageEventOut(BaseModel):
    """One resume (``step``: the first step logged after it) or rewind (``step``: the step the
    history was rewound to) of a run, at epoch seconds ``at``."""

    at: float | None
    step: int | None


class LineageOut(BaseModel):
    """Where a run's history comes from: its fork parent, its resumes and its rewinds (oldest
    first). ``resumed`` holds plain resumes only: a rewind is listed in ``rewinds``."""

    fork: ForkOut | None
    resumed: list[LineageEventOut]
    rewinds: list[LineageEventOut]


class AlertOut(BaseModel):
    """An alert the run sent (``run.alert`` or an automatic one)."""

    title: str
    text: str
    level: str
    kind: str | None
    time: float | None


class RankOut(BaseModel):
    """One process of a multi-process run: the owner first, then the ranks in label order."""

    label: str
    owner: bool
    status: Status
    heartbeat_at: float | None
    pid: int | None
    host: str | None


class RunDetail(BaseModel):
    run: RunRow
    config: dict[str, Any]
    summary: dict[str, Any]
    metadata: dict[str, Any]
    exit_code: int | None
    err_msg: str | None
    seed: int | None
    description: str | None
    has_scenario: bool
    episode_count: int
    lineage: LineageOut
    alerts: list[AlertOut] = Field(description="the run's alerts, newest first, at most 100")
    ranks: list[RankOut] = Field(description="a multi-process run's processes, else empty")


class RunsOut(BaseModel):
    runs: list[RunRow]


class DeletedOut(BaseModel):
    deleted: list[str]


class EditIn(_Body):
    """``PATCH /api/runs/{id}``: the fields to replace (absent ones are kept)."""

    tags: Annotated[list[Tag], Field(max_length=1000)] | None = None
    notes: Annotated[str, Field(max_length=100_000)] | None = None


class IdsIn(_Body):
    ids: Annotated[list[RunId], Field(min_length=1, max_length=100_000)]


class TagsIn(IdsIn):
    add: Annotated[list[Tag], Field(max_length=1000)] = []
    remove: Annotated[list[Tag], Field(max_length=1000)] = []


class MoveIn(IdsIn):
    project: Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]


class MetricOut(BaseModel):
    key: str
    count: int
    first_step: int
    last_step: int
    min: float | None
    max: float | None
    last: float | None


class MetricsOut(BaseModel):
    metrics: list[MetricOut]


class SeriesOut(BaseModel):
    key: str
    x: list[float]
    y: list[float | None]
    steps: list[int]
    sampled: bool
    total: int
    last_step: int | None


class LogsOut(BaseModel):
    text: str
    offset: int
    size: int


class FileOut(BaseModel):
    path: str
    size: int
    mtime: float
    kind: FileKind


class FilesOut(BaseModel):
    files: list[FileOut]


class EpisodesOut(BaseModel):
    total: int
    columns: list[str]
    rows: list[dict[str, Any]]


class EpisodeStatsOut(BaseModel):
    param: str | None
    rows: list[dict[str, Any]]


class ScenarioOut(BaseModel):
    yaml: str | None


# -- run operations (``_ops.py``) ------------------------------------------------------------


class DeleteIn(IdsIn):
    """``POST /api/runs/delete``: ``force`` deletes runs that are still running too."""

    force: bool = False


class StoppedOut(BaseModel):
    """Whether the run was running (and so was asked to stop)."""

    stopped: bool


class TrashRunOut(BaseModel):
    """A deleted run; name, project and status are null when its ``run.json`` is unreadable."""

    id: str
    deleted_at: float
    name: str | None
    project: str | None
    status: str | None


class TrashOut(BaseModel):
    runs: list[TrashRunOut]


class RestoredOut(BaseModel):
    restored: list[str]


class PurgedOut(BaseModel):
    purged: list[str]
