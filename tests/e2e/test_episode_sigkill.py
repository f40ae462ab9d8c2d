"""SIGKILL in the middle of an episode keeps every episode finished before it, with metrics."""

from __future__ import annotations

import signal
import time
from typing import Any

from runlab.storage._episodes import read_episodes

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

    records = read_episodes(children.store / "runs" / "r1")
    assert [r.index for r in records] == list(range(31))
    assert all(r.status == "SUCCESS" for r in records[:30])
    assert all(r.metrics["reward"] == r.params["friction"] * 19 for r in records[:30])
    # The open episode was announced while open: known to have started, never ended.
    # (It reads RUNNING until the killed run's heartbeat lapses, INTERRUPTED after.)
    assert records[30].status in {"RUNNING", "INTERRUPTED"} and records[30].end is None
    assert records[30].params["friction"] > 0
