"""The real ``sessionlab`` command, killed by SIGKILL at a store checkpoint.

Run as ``python -m tests.core.cli_child POINT:N ARGS...`` from the repository
root: it runs ``sessionlab ARGS...`` (core.cli.main, the embedded engines) in this
process and SIGKILLs itself the N-th time add_batch reaches checkpoint POINT
("after-move", "before-commit", "after-commit"; see core.store._test_hook). If
the checkpoint is never reached the command ends as usual.
"""

from __future__ import annotations

import os
import signal
import sys

import core.store
from core.cli import main


def kill_at(point: str, nth: int) -> None:
    seen = {"count": 0}

    def hook(name: str) -> None:
        if name == point:
            seen["count"] += 1
            if seen["count"] == nth:
                os.kill(os.getpid(), signal.SIGKILL)

    core.store._test_hook = hook


if __name__ == "__main__":
    where, _, nth = sys.argv[1].partition(":")
    kill_at(where, int(nth or 1))
    sys.exit(main(sys.argv[2:]))
