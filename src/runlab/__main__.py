"""``python -m runlab``: the command line."""

from runlab.cli import main

if __name__ == "__main__":
    main()
