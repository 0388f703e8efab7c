"""``python -m tui``: open the app with the user's settings."""

from __future__ import annotations

import sys


def main() -> int:
    from core.errors import SessionLabError
    from core.settings import load_settings
    from tui.app import run_app

    try:
        settings = load_settings()
    except SessionLabError as exc:
        print(f"sessionlab: {exc}", file=sys.stderr)
        return 2
    run_app(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
