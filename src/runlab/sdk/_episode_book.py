"""A run's episodes: their numbering and ids, the ones still open, and how they reach the log.

An episode is written once, when it ends, as one event holding its start and its end (and a
frame of its metrics) -- unless it is still open at the writer thread's next tick, which then
announces its start (so a crash mid-episode still shows which episodes were running).
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

from runlab._status import RunStatus
from runlab.sdk._episode import Episode, EpisodeFinishedError, EpisodeStatus, flatten_params
from runlab.storage._format import KIND_EPISODE, Record, encode_episode, pack_params

if TYPE_CHECKING:
    from runlab.scenario import Scenario
    from runlab.sdk._run import Run

_OUTCOME = {
    RunStatus.FINISHED: EpisodeStatus.SUCCESS,
    RunStatus.FAILED: EpisodeStatus.ERRORED,
}
"""How a run's end ends the episodes still open (anything else cancels them)."""


class EpisodeBook:
    """The episodes of one run. ``create`` is thread-safe; ``announce_open`` runs on the
    writer thread."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self._lock = threading.Lock()
        self.count = 0
        """Episodes created so far (the next one's index)."""
        self._ids: set[str] = set()
        self.open: dict[int, Episode] = {}
        """Episodes started and not ended, by index."""
        self._no_scenario: Scenario | None = None
        self._param_keys_sent = False

    def create(self, episode_id: str | None) -> Episode:
        """The next episode, its parameters sampled from (the run's seed, its index) alone."""
        run = self._run
        scenario = run.scenario
        if scenario is None:  # episodes of a run without a scenario still get their seeds
            from runlab.scenario import Scenario

            if self._no_scenario is None:
                self._no_scenario = Scenario()
            scenario = self._no_scenario
        seed = run.seed if run.seed is not None else 0
        with self._lock:
            index = self.count
            if episode_id is None:
                episode_id = f"{index:06d}"
            elif not isinstance(episode_id, str) or not episode_id:
                raise ValueError(f"episode_id must be a non-empty str, not {episode_id!r}")
            if episode_id in self._ids:
                raise ValueError(f"episode_id {episode_id!r} is already used in run {run.id}")
            self._ids.add(episode_id)
            self.count = index + 1
        params, episode_seed = scenario.sample_episode_and_seed(seed, index)
        episode = Episode(run, index, episode_id, episode_seed, params)
        # Announced (an episode_start event) by the writer's next tick if still open then;
        # an episode that ends first is written once, as one event holding both halves.
        self.open[index] = episode  # one dict store: atomic under the GIL
        return episode

    def ended(
        self, episode: Episode, records: list[Record], traceback: str | None, announced: bool
    ) -> None:
        """Write an episode that ended: its metrics frame and its end (and start) event."""
        self.open.pop(episode.index, None)
        run = self._run
        if run._disabled:
            return
        if records:
            run._writer.submit_frame(KIND_EPISODE, encode_episode(episode.index, records))
        event = {
            "type": "episode_end",
            "index": episode.index,
            "episode_id": episode.episode_id,
            "status": episode.status.value,
            "err_msg": episode.err_msg,
            "traceback": traceback,
            "end": episode.end_time,
            "metrics": episode._last,
        }
        if not announced:
            event.update(self._start_fields(episode))
        run._writer.submit_event(event)

    def announce_open(self) -> None:
        """Writer thread: write the start of every episode still open (crash visibility)."""
        for episode in list(self.open.values()):
            if episode._announce():
                event = {
                    "type": "episode_start",
                    "index": episode.index,
                    "episode_id": episode.episode_id,
                }
                event.update(self._start_fields(episode))
                self._run._writer.submit_event(event)

    def end_open(self, status: RunStatus) -> None:
        """End the episodes still open as the run ends ``status``."""
        with self._lock:
            open_now = list(self.open.copy().values())
        outcome = _OUTCOME.get(status, EpisodeStatus.CANCELED)
        for episode in open_now:
            with contextlib.suppress(EpisodeFinishedError):
                episode._end(outcome, f"run ended {status.value}", None)

    def _start_fields(self, episode: Episode) -> dict[str, Any]:
        with_keys = not self._param_keys_sent  # the key order is the same for every episode
        self._param_keys_sent = True
        return {
            "seed": episode.seed,
            "start": episode.start_time,
            **pack_params(flatten_params(episode._params), with_keys),
        }
