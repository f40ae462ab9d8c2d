"""runlab.query: read runs back from a store."""

from runlab.query._api import Api, RunView
from runlab.storage._catalog import ProjectInfo

__all__ = ["Api", "ProjectInfo", "RunView"]
