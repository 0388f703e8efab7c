"""core.heavy_imports: a module half imported by another thread is waited for, never
handed out half made; one imported whole is returned at once."""

from __future__ import annotations

import sys
import threading
import types
from importlib.machinery import ModuleSpec

from core import heavy_imports


def test_a_module_imported_whole_is_returned_without_the_lock() -> None:
    import json

    got: list[types.ModuleType] = []
    with heavy_imports.LOCK:  # held here: a caller that needed it would wait for ever
        reader = threading.Thread(target=lambda: got.append(heavy_imports.module("json")))
        reader.start()
        reader.join(timeout=10)
    assert got == [json]


def test_a_module_another_thread_is_importing_is_waited_for(monkeypatch) -> None:
    half = types.ModuleType("half_imported_for_test")
    half.__spec__ = ModuleSpec("half_imported_for_test", None)
    half.__spec__._initializing = True  # what importlib marks while the module's code runs
    monkeypatch.setitem(sys.modules, "half_imported_for_test", half)

    got: list[types.ModuleType] = []
    asked = threading.Event()

    def ask() -> None:
        asked.set()
        got.append(heavy_imports.module("half_imported_for_test"))

    with heavy_imports.LOCK:  # the importing thread holds the lock until it is done
        reader = threading.Thread(target=ask)
        reader.start()
        asked.wait(timeout=10)
        reader.join(timeout=0.2)
        assert reader.is_alive() and not got  # waiting, not handed the half-made module
        half.value = "finished"
        half.__spec__._initializing = False
    reader.join(timeout=10)
    assert got == [half] and got[0].value == "finished"


def test_resampling_loudness_and_clustering_import_through_it(monkeypatch) -> None:
    import numpy as np

    from core import clustering
    from core.audio import loudness
    from core.audio.dsp import resample

    asked: list[str] = []
    real = heavy_imports.module

    def recorded(name: str) -> types.ModuleType:
        asked.append(name)
        return real(name)

    monkeypatch.setattr(heavy_imports, "module", recorded)
    assert resample(np.zeros(441, np.float32), 44_100, 22_050).shape == (221,)
    loudness.integrated_lufs(np.zeros(44_100, np.float32), 44_100)
    clustering._import_kmeans()
    assert asked == ["scipy.signal", "scipy.signal", "sklearn.cluster"]
