"""Entry point of the ``sessionlab`` console script (and ``python -m sessionlab``).

With no arguments the app opens straight away: the CLI's parser is not even
imported, so the first screen is not delayed by it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any


def _open_app(settings: Any) -> None:
    from tui.app import run_app  # imported only when the app is asked for

    run_app(settings)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        from core.errors import SessionLabError
        from core.settings import load_settings
        from core.text import shown_line

        try:
            settings = load_settings()
        except SessionLabError as exc:
            sys.stderr.write(f"sessionlab: {' '.join(shown_line(exc).split())}\n")
            return 2
        from core import logs

        logs.configure(settings.log_level)  # the log file only: nothing may draw over the app
        _open_app(settings)
        return 0
    from core.cli import main as cli_main

    return cli_main(args, open_app=_open_app)


if __name__ == "__main__":
    sys.exit(main())
