"""Many runs at once: processes sharing one store, threads and asyncio tasks sharing a process.

Findings about the current run (``runlab.log``) that these tests pin:

- A thread or task that calls ``runlab.init`` gets its own current run: ``runlab.log`` there
  goes to that run, whatever other threads or tasks do.
- A new thread does not inherit the starting thread's context. ``runlab.log`` in a thread
  without a run of its own falls back to the most recently started open run of the process.
- An asyncio task copies its creator's context, so a task that does not call ``init`` logs to
  its creator's run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import runlab
from runlab.storage._reader import read_history

PROCESSES = 8
CALLS = 20_000
KEYS = 5

# argv: store, process index, go file. Waits for the go file so that all processes log at once.
WRITER = """
import os
import time
import runlab

store, index, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
run = runlab.init(project="e2e", id=f"p{index}", dir=store, config={"index": index})
mark(go + f".ready{index}", 1)
deadline = time.monotonic() + 30
while not os.path.exists(go) and time.monotonic() < deadline:
    time.sleep(0.001)
for i in range(CALLS):
    run.log({f"k{k}": index * 1e6 + i + k / 10 for k in range(KEYS)})
run.finish()
""".replace("CALLS", str(CALLS)).replace("KEYS", str(KEYS))


# argv: store, stop file. Lists and reads the store over and over (fresh catalog sync each
# time) until the stop file appears, as `runlab ls` or the UI would while runs are logging.
READER = """
import os
import runlab

store, stop = sys.argv[1], sys.argv[2]
rounds = 0
while not os.path.exists(stop) or rounds == 0:
    api = runlab.Api(store)
    for view in api.runs():
        view.history(["k0"])
    api.close()
    rounds += 1
print(rounds)
"""


@pytest.mark.slow
def test_processes_log_into_one_store_at_once(children: Any) -> None:
    store = children.store
    go = children.tmp_path / "go"
    stop = children.tmp_path / "stop"
    procs = [children.start(WRITER, str(store), str(n), str(go)) for n in range(PROCESSES)]
    readers = [children.start(READER, str(store), str(stop)) for _ in range(2)]
    children.wait_until(
        lambda: (
            all(Path(f"{go}.ready{n}").exists() for n in range(PROCESSES))
            or any(p.poll() is not None for p in procs)
        ),
        timeout=60,
        what="every process to start its run",
    )
    go.touch()
    for n, proc in enumerate(procs):
        _out, err = children.communicate(proc, timeout=90)
        assert proc.returncode == 0, f"process {n}: {err}"
        assert err == "", f"process {n} wrote to stderr: {err}"
    stop.touch()
    for proc in readers:
        out, err = children.communicate(proc, timeout=60)
        assert proc.returncode == 0, f"reader: {err}"
        assert err == "", f"reader wrote to stderr: {err}"
        assert int(out) >= 1

    api = runlab.Api(store)
    runs = api.runs()
    assert sorted(r.id for r in runs) == [f"p{n}" for n in range(PROCESSES)]
    assert {r.status for r in runs} == {runlab.RunStatus.FINISHED}
    for n in range(PROCESSES):
        view = api.run(f"p{n}")
        assert view.config == {"index": n}
        frame = view.history()
        assert frame["step"].to_list() == list(range(CALLS)), f"run p{n}"
        for k in range(KEYS):
            expected = [n * 1e6 + i + k / 10 for i in range(CALLS)]
            assert frame[f"k{k}"].to_list() == expected, f"run p{n} key k{k}"
        assert view.summary["k0"] == n * 1e6 + CALLS - 1


THREADS = """
import json
import threading
import runlab

store = sys.argv[1]
N, THREADS = 2000, 6
start = threading.Barrier(THREADS)
ids = {}


def own_run(t):
    run = runlab.init(project="e2e", id=f"t{t}", dir=store)
    ids[t] = run.id
    start.wait()  # every thread has its run open before anyone logs
    for i in range(N):
        runlab.log({"thread": t, "i": i})
    runlab.finish()


threads = [threading.Thread(target=own_run, args=(t,)) for t in range(THREADS)]
for th in threads:
    th.start()
for th in threads:
    th.join()

# A thread without a run of its own: its context is empty, so runlab.log goes to the most
# recently started open run of the process.
main = runlab.init(project="e2e", id="main", dir=store)
worker = threading.Thread(target=lambda: [runlab.log({"from_worker": i}) for i in range(100)])
worker.start()
worker.join()
main.finish()
print(json.dumps(ids))
"""


def test_each_thread_logs_to_its_own_run(children: Any) -> None:
    done = children.run(THREADS, str(children.store))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""

    api = runlab.Api(children.store)
    for t in range(6):
        frame = api.run(f"t{t}").history()
        assert frame["step"].to_list() == list(range(2000)), f"thread {t}"
        assert set(frame["thread"].to_list()) == {t}, f"thread {t}'s run got others' points"
        assert frame["i"].to_list() == list(range(2000))
        assert api.run(f"t{t}").status is runlab.RunStatus.FINISHED
    main = api.run("main").history()
    assert main["from_worker"].to_list() == list(range(100))


TASKS = """
import asyncio
import runlab

store = sys.argv[1]
N, TASKS = 500, 6


async def own_run(t):
    run = runlab.init(project="e2e", id=f"a{t}", dir=store)
    for i in range(N):
        runlab.log({"task": t, "i": i})
        await asyncio.sleep(0)  # interleave the tasks' log calls
    assert runlab.run is run
    runlab.finish()


async def child_task(i):
    runlab.log({"from_child_task": i})


async def main():
    await asyncio.gather(*(own_run(t) for t in range(TASKS)))
    # A task that does not call init inherits its creator's context, hence its run.
    parent = runlab.init(project="e2e", id="parent", dir=store)
    for i in range(50):
        await asyncio.create_task(child_task(i))
    parent.finish()


asyncio.run(main())
"""


def test_each_asyncio_task_logs_to_its_own_run(children: Any) -> None:
    done = children.run(TASKS, str(children.store))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""

    api = runlab.Api(children.store)
    for t in range(6):
        frame = api.run(f"a{t}").history()
        assert frame["step"].to_list() == list(range(500)), f"task {t}"
        assert set(frame["task"].to_list()) == {t}, f"task {t}'s run got others' points"
        assert frame["i"].to_list() == list(range(500))
    assert read_history(api.run("parent").dir)["from_child_task"].to_list() == list(range(50))
