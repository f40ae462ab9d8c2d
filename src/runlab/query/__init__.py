"""runlab.query: read runs back from a store."""

from runlab.query._api import Api, RunView
from runlab.query._collection import GroupBy, RunCollection
from runlab.query._filter import Filter, parse
from runlab.query._load import TypedViews, load, runs
from runlab.query._view import MISSING, BaseRunView, RunInfo
from runlab.storage._catalog import ProjectInfo
from runlab.storage._episodes import EpisodeNotFound, EpisodeRecord
from runlab.storage._ranks import RankInfo

__all__ = [
    "MISSING",
    "Api",
    "BaseRunView",
    "EpisodeNotFound",
    "EpisodeRecord",
    "Filter",
    "GroupBy",
    "ProjectInfo",
    "RankInfo",
    "RunCollection",
    "RunInfo",
    "RunView",
    "TypedViews",
    "load",
    "parse",
    "runs",
]
