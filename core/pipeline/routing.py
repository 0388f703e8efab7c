"""Routing and fallback (seed 003): when the chosen engine cannot run, the next allowed one.

An engine cannot run when it raises ``ProviderUnavailableError``: no CUDA for a
CUDA-only model, weights missing or unreadable, a package missing, or
``OutOfMemoryError`` (its subclass). ``settings.fallback_engines`` lists, in
order, the engines (``engine`` or ``engine=model``) allowed to stand in; empty,
the call fails with the chosen engine's reason in one line. The stand-in stays
for the rest of the call and the batch records it (``Run.music``); each clip's
recipe names the engine that made it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

from core.errors import ProviderUnavailableError, SessionLabError, ValidationError, sentence
from core.pipeline.run import Run
from core.pipeline.tools import Tools
from core.providers.base import MusicProvider
from core.settings import Settings

T = TypeVar("T")


def engine_of(tools: Tools, run: Run) -> MusicProvider:
    """The engine of this call: the chosen one, or the fallback that stood in for it."""
    return run.music if run.music is not None else tools.music


def with_fallback(
    tools: Tools,
    run: Run,
    attempt: Callable[[MusicProvider], T],
    unfit: Callable[[MusicProvider], str | None],
) -> T:
    """``attempt(engine)`` with this call's engine; when it cannot run (a ``ProviderUnavailableError``:
    no CUDA, missing weights, out of memory), with each engine of ``settings.fallback_engines`` in
    turn that can be built and is not ``unfit`` (a reason it cannot do this job, else None).

    The first stand-in that succeeds stays for the rest of the call (``run.music``: the batch
    records it) and one notice says why the chosen engine could not run and which engine stood in;
    each engine passed over says why in a notice of its own. With no fallback allowed, or none
    left, the first reason is raised: one line.
    """
    music = engine_of(tools, run)
    try:
        return attempt(music)
    except ProviderUnavailableError as exc:
        why = exc
    tried = {_entry(tools.music), _entry(music), tools.music.name, music.name}
    for entry, stand_in in stand_ins(tools.settings, tried):
        label = fallback_label(entry)
        if isinstance(stand_in, SessionLabError):
            run.notice(f"The fallback engine {label} cannot run either: {sentence(stand_in)}")
            continue
        reason = unfit(stand_in)
        if reason:
            run.notice(f"The fallback engine {label} {reason}.")
            continue
        try:
            result = attempt(stand_in)
        except (ProviderUnavailableError, ValidationError) as exc:
            run.notice(f"The fallback engine {label} cannot run either: {sentence(exc)}")
            continue
        said = (str(why).strip().splitlines() or [type(why).__name__])[0]  # our own sentence: kept whole
        run.notice(f"{said.rstrip('.')}. The {label} engine made this batch instead.")
        run.music = stand_in
        return result
    raise why


def stand_ins(settings: Settings, skip: set[str]) -> Iterator[tuple[str, MusicProvider | SessionLabError]]:
    """Each entry of ``settings.fallback_order`` (``engine`` or ``engine=model``) not in ``skip``
    (an ``engine`` entry is skipped when its name is), in order, as (entry, provider), or
    (entry, the SessionLabError that says why it cannot be built)."""
    from core.providers import registry

    for entry in settings.fallback_order:
        name, _, model = (part.strip() for part in entry.partition("="))
        if entry in skip or (not model and name in skip):
            continue
        try:
            yield entry, registry.create_music(settings, name, model or None)
        except SessionLabError as exc:
            yield entry, exc


def _entry(music: MusicProvider) -> str:
    """``engine=model`` for a built engine (what a ``fallback_engines`` entry names it by)."""
    return f"{music.name}={music.model}" if getattr(music, "model", None) else str(music.name)


def fallback_label(entry: str) -> str:
    """A ``fallback_engines`` entry as the notices name it: ``stable-audio (model)``."""
    name, _, model = (part.strip() for part in entry.partition("="))
    return f"{name} ({model})" if model else name
