"""Entry point of the ``sessionlab`` console script (and ``python -m sessionlab``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any


def _open_app(settings: Any) -> None:
    from tui.app import run_app  # imported only when the app is asked for

    run_app(settings)


def main(argv: Sequence[str] | None = None) -> int:
    from core.cli import main as cli_main

    return cli_main(argv, open_app=_open_app)


if __name__ == "__main__":
    sys.exit(main())
