"""Record the demo runs into ./runlab-demo and look at them from the terminal.

    python examples/demo.py [--dir DIR]

The same runs as ``runlab demo`` (which then opens them in the web UI): a learning-rate x
optimizer grid of training runs, a scenario evaluation with 200 episodes, a run that fails with
an exception and one killed with SIGKILL (it reads as crashed). Then ``runlab ls``, and
``runlab show`` and ``runlab episodes`` on two of them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from runlab._demo_data import record_demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", default="runlab-demo")
    args = parser.parse_args()
    made = record_demo(args.dir)
    cli = [sys.executable, "-m", "runlab"]
    subprocess.run([*cli, "ls", "--dir", args.dir], check=False)
    subprocess.run([*cli, "show", made["runs"]["adam-lr0.003"], "--dir", args.dir], check=False)
    subprocess.run([*cli, "episodes", made["scenario"], "--dir", args.dir], check=False)
    print(f"\nOpen them in the web UI: runlab ui --dir {args.dir}")


if __name__ == "__main__":
    main()
