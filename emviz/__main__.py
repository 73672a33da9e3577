"""``python -m emviz``: the command line (see :mod:`emviz.cli`)."""

from emviz.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
