"""The app's memory habits: what is alive once the app is warm moved out of the garbage
collector's sight (``settle_memory``), and no full collection while a batch is made or a
session is opened (``QuietCollector``, the app's ``collector``)."""

from __future__ import annotations

import gc


def settle_memory() -> None:
    """Move what is alive now out of the garbage collector's sight.

    The libraries loaded by then (numpy, scikit-learn, Textual's widgets) make a
    full collection cost 100-250 ms, paid by whichever thread triggers it: a
    stall of the UI. Frozen objects are never scanned again. Called once, when
    the app is warm; young garbage is collected first (cheap) so little of it is
    frozen.
    """
    gc.collect(1)
    gc.freeze()


NO_FULL_COLLECTION = 1 << 30  # a third threshold the count of young collections never reaches


class QuietCollector:
    """No automatic full collection while a batch is made or a session is opened (until
    it is read whole); the young generations are collected as usual, a millisecond at a
    time, in whichever thread is allocating. ``hold`` and ``release`` nest.

    A full collection scans every object the batch and the screens created: tens of
    milliseconds during which the UI cannot draw. Turning the collector off for the
    whole batch avoided it, but left the batch's young garbage (10-20 thousand
    objects) to one collection when it ended: 25-50 ms of the UI thread in one go.
    Raising the full collection's threshold instead keeps each young collection
    small, and the one when the batch ends finds little left.
    """

    def __init__(self) -> None:
        self._holds = 0
        self._thresholds = gc.get_threshold()

    def hold(self) -> None:
        if self._holds == 0:
            self._thresholds = gc.get_threshold()
            young, middle, _full = self._thresholds
            gc.set_threshold(young, middle, NO_FULL_COLLECTION)
        self._holds += 1

    def settle(self) -> None:
        """Something big and lasting was just built (a chunk of a session read after it
        was drawn): out of the collector's sight (``settle_memory``), so no full
        collection scans it again. Not while held: then the young generations hold what
        the batch or the opening made, and are collected when it is released."""
        if self._holds == 0:
            settle_memory()

    def release(self) -> None:
        if self._holds == 0:
            return
        self._holds -= 1
        if self._holds == 0:
            gc.set_threshold(*self._thresholds)
            gc.collect(1)
