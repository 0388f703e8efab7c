"""scipy and scikit-learn, imported one thread at a time.

scikit-learn is imported in a background thread (``clustering.warm_up``) while a
batch's clips are rendered, and rendering may need scipy at that moment
(resampling, loudness). Two threads importing scipy's package tree at once can
meet a module the other has half imported: "cannot import name ... from partially
initialized module", a batch lost to an accident of timing. So the first import of
either goes through one lock; once a module is imported whole, it is returned at
once.
"""

from __future__ import annotations

import importlib
import sys
import threading
from types import ModuleType

LOCK = threading.RLock()


def module(name: str) -> ModuleType:
    """The module ``name``, imported under ``LOCK`` unless it is already imported whole."""
    found = sys.modules.get(name)
    if found is not None and not getattr(getattr(found, "__spec__", None), "_initializing", False):
        return found
    with LOCK:
        return importlib.import_module(name)
