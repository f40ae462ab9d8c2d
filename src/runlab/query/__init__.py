"""runlab.query: read runs back from a store."""

from runlab.query._api import Api, RunView
from runlab.storage._catalog import ProjectInfo
from runlab.storage._episodes import EpisodeNotFound, EpisodeRecord

__all__ = ["Api", "EpisodeNotFound", "EpisodeRecord", "ProjectInfo", "RunView"]
