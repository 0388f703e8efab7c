"""``python -m core.cli ARGS``: the ``sessionlab`` command."""

import sys

from core.cli import main

if __name__ == "__main__":
    sys.exit(main())
