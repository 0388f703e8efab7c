"""The decoder-step plumbing around transformers' MusicGen ``generate`` (core.providers.musicgen):
a StoppingCriteria that reports progress and checks cancel at every step, a static key/value
cache sized to one call, and the decoder's prefill run once per call (see "Step cost" there).
torch and transformers are imported inside the functions that need them."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import TYPE_CHECKING, Any

from core.errors import CancelledError

if TYPE_CHECKING:
    from core.providers.musicgen_loading import LoadedMusicgen


class _StepWatch:
    """A transformers StoppingCriteria: progress and cancel, once per decoder step."""

    def __init__(
        self,
        cancel: threading.Event | None,
        on_step: Any,
    ) -> None:
        self.cancel = cancel
        self.on_step = on_step
        self.steps = 0
        self.last_step_at: float | None = None
        self.step_ends: list[float] = []  # perf_counter() at the end of each step

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        self.steps += 1
        self.last_step_at = time.perf_counter()
        self.step_ends.append(self.last_step_at)
        if self.cancel is not None and self.cancel.is_set():
            raise CancelledError("Generation was cancelled.")
        self.on_step()
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


def _as_criteria(watch: _StepWatch) -> Any:
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _Criteria(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            return watch(input_ids, scores, **kwargs)

    return StoppingCriteriaList([_Criteria()])


@contextlib.contextmanager
def _prefill_once(model: Any) -> Any:
    """Run the decoder's prefill once per generate call.

    transformers 5.x's ``MusicgenForConditionalGeneration.generate`` runs
    ``_prefill`` itself, drops the result, and then ``_sample`` runs it again on
    the same inputs. With the decoder's own throw-away cache that only wastes a
    pass over the prompt; with a cache passed in, the second pass would append
    the prompt to it a second time. Here the second call on the same inputs and
    cache gets the first call's outputs. Where a transformers release prefills
    once, nothing is ever reused.
    """
    real = getattr(type(model), "_prefill", None)
    if real is None:
        yield
        return
    last: list[Any] = []  # [(inputs' id, cache's id), outputs] of the prefill just run, once

    def prefill(input_ids: Any, generation_config: Any, model_kwargs: Any, *args: Any, **kwargs: Any) -> Any:
        key = (id(input_ids), id(model_kwargs.get("cache")))
        if last and last[0] == key:
            outputs = last[1]
            last.clear()  # reused once only
            return outputs
        outputs = real(model, input_ids, generation_config, model_kwargs, *args, **kwargs)
        last[:] = [key, outputs]
        return outputs

    model._prefill = prefill
    try:
        yield
    finally:
        del model._prefill


def _static_cache(loaded: LoadedMusicgen, prompt_frames: int, max_new_tokens: int) -> Any:
    """A key/value cache for one generate call, preallocated to the positions the call fills.

    The decoder sees the start token and ``prompt_frames`` codes of audio prompt,
    then feeds back every new token but the last: ``1 + prompt_frames +
    max_new_tokens - 1`` positions, the prefill run once (``_prefill_once``).
    The cross-attention cache (the text, computed once) stays dynamic.
    """
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache, StaticCache

    config = loaded.model.config.decoder
    return EncoderDecoderCache(
        StaticCache(config=config, max_cache_len=prompt_frames + max_new_tokens),
        DynamicCache(config=config),
    )
