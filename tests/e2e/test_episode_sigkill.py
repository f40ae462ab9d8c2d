"""SIGKILL in the middle of an episode keeps every episode finished before it, with metrics."""

from __future__ import annotations

import signal
import time
from typing import Any

from runlab.storage._format import unpack_params
from runlab.storage._reader import iter_events

# argv: store, side file. Runs episodes until killed; publishes the index of each finished one.
SCRIPT = """
import time
import runlab

run = runlab.init(project="e2e", id="r1", dir=sys.argv[1], seed=5,
                  scenario={"friction": "${uniform(0.2, 1.2)}"},
                  settings={"flush_interval": 0.05})
k = 0
while True:
    with run.create_episode() as ep:
        for step in range(20):
            ep.log({"reward": ep.friction * step})
    mark(sys.argv[2], k)
    k += 1
    if k >= 30:
        ep = run.create_episode()  # killed while this one is open
        ep.log({"reward": -1.0})
        time.sleep(60)
"""


def test_sigkill_mid_episode_keeps_finished_episodes(children: Any) -> None:
    side = children.tmp_path / "last_episode"
    proc = children.start(SCRIPT, str(children.store), str(side))
    children.wait_until(
        lambda: (children.read_mark(side) or 0) >= 29 or proc.poll() is not None,
        timeout=30,
        what="30 finished episodes",
    )
    assert proc.poll() is None, proc.communicate()[1]
    time.sleep(0.3)  # > the flush window: the 30th episode's records are on disk
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)

    events = list(iter_events(children.store / "runs" / "r1"))
    ends = [e for e in events if e["type"] == "episode_end"]
    starts = [e for e in events if e["type"] == "episode_start"]
    assert [e["index"] for e in ends] == list(range(30))
    assert all(e["status"] == "SUCCESS" for e in ends)
    assert all(
        e["metrics"]["reward"] == unpack_params(starts[e["index"]])["friction"] * 19 for e in ends
    )
    assert len(starts) == 31  # the open episode is known to have started, never ended
