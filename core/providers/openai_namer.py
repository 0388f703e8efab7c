"""Cluster names from any OpenAI-compatible chat server (OpenAI, Ollama, llama.cpp, vLLM).

- The openai client with ``openai_api_key`` / ``openai_base_url``
  (``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``), model ``openai_model``, at most one
  retry and a ``openai_timeout_sec`` timeout. A local server needs no key: a
  placeholder is sent.
- The model sees up to three raw prompts of the cluster, the labels already
  taken in the batch and, when the ``describe`` namer can hear the clips, its
  descriptor words as a hint.
- The answer is text from a model, so it is treated as hostile: reasoning
  blocks (<think>...</think>) are dropped, then ``core.labels.clean_label``
  keeps 1-3 ASCII words (no quotes, punctuation, markup or control characters).
- Any failure (HTTP error, timeout, junk, nothing left after cleaning) falls
  back to the ``describe`` namer. ``last_fallback_reason`` says why the last
  name came from the fallback (None when the LLM named it); the first fallback
  of a namer is logged once as a warning. After a connection error or a
  timeout the server is left alone for ``RETRY_AFTER_SEC`` so a batch does not
  wait once per cluster for a server that is down.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

from core.errors import ProviderUnavailableError
from core.labels import FALLBACK_LABEL, clean_label, unique_label
from core.providers import _torch
from core.providers.base import NamingContext
from core.settings import Settings

log = logging.getLogger(__name__)

NAME = "openai"
REQUIRED_PACKAGES = ("openai",)
MAX_PROMPTS = 3
MAX_PROMPT_CHARS = 300
MAX_TOKENS = 16
RETRY_AFTER_SEC = 60.0
PLACEHOLDER_KEY = "sessionlab-no-key"

SYSTEM_PROMPT = (
    "You name groups of short music clips for a musician's session. "
    "Answer with one name of one to three plain English words that describe how the group sounds. "
    "No quotes, no punctuation, no explanation."
)

_THINK = re.compile(r"<(think|thinking|reasoning)>.*?(</\1>|$)", re.IGNORECASE | re.DOTALL)


def build_messages(prompts: list[str], taken: frozenset[str], hint: str | None) -> list[dict[str, str]]:
    lines = ["Prompts of the clips in this group:"]
    for prompt in prompts[:MAX_PROMPTS]:
        text = " ".join(str(prompt).split())[:MAX_PROMPT_CHARS]
        lines.append(f"- {text}")
    if hint:
        lines.append(f"Sound analysis: {hint}.")
    if taken:
        lines.append("Names already used (choose another): " + ", ".join(sorted(taken)) + ".")
    lines.append("Name:")
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "\n".join(lines)},
    ]


def clean_answer(text: Any) -> str | None:
    """1-3 ASCII words from a model's answer, or None."""
    if not isinstance(text, str):
        return None
    return clean_label(_THINK.sub(" ", text))


class OpenAINamer:
    """ClusterNamingProvider over an OpenAI-compatible chat completions endpoint."""

    name = NAME

    def __init__(self, settings: Settings, model: str) -> None:
        self.settings = settings
        self.model: str | None = model
        self.base_url = settings.openai_base_url or None
        self.last_fallback_reason: str | None = None
        self._client: Any = None
        self._fallback: Any = None
        self._warned = False
        self._down_until = 0.0
        self._lock = threading.Lock()

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                import openai

                self._client = openai.OpenAI(
                    api_key=self.settings.openai_api_key or PLACEHOLDER_KEY,
                    base_url=self.base_url,
                    max_retries=1,
                    timeout=self.settings.openai_timeout_sec,
                )
            return self._client

    def _describe(self) -> Any:
        with self._lock:
            if self._fallback is None:
                from core.providers import describe

                self._fallback = describe.create(self.settings)
            return self._fallback

    def _hint(self, prompts: list[str], context: NamingContext | None) -> str | None:
        """The describe namer's words for these clips, when it can hear them."""
        if context is None or not context.audio_paths:
            return None
        try:
            words = self._describe().name_cluster(
                prompts, NamingContext(context.audio_paths, context.embeddings)
            )
        except Exception as exc:  # a hint is optional
            log.debug("no descriptor hint: %s", exc)
            return None
        cleaned = clean_label(words)
        return cleaned.lower() if cleaned and cleaned != FALLBACK_LABEL else None

    def name_cluster(self, prompts: list[str], context: NamingContext | None = None) -> str:
        taken = context.taken if context is not None else frozenset()
        try:
            label = self._ask(prompts, context)
        except Exception as exc:
            return self._fall_back(prompts, context, _reason(exc))
        self.last_fallback_reason = None
        return unique_label(label, taken)

    def _ask(self, prompts: list[str], context: NamingContext | None) -> str:
        if time.monotonic() < self._down_until:
            raise _Skipped("the server did not answer a moment ago")
        taken = context.taken if context is not None else frozenset()
        messages = build_messages(list(prompts), taken, self._hint(prompts, context))
        client = self._get_client()
        try:
            response = client.chat.completions.create(
                model=self.model,
                messages=messages,
                max_tokens=MAX_TOKENS,
                temperature=0.3,
            )
        except Exception as exc:
            if _is_unreachable(exc):
                self._down_until = time.monotonic() + RETRY_AFTER_SEC
            raise
        try:
            content = response.choices[0].message.content
        except (AttributeError, IndexError, TypeError):
            raise _Junk("the answer had no text") from None
        label = clean_answer(content)
        if not label:
            raise _Junk("the answer had no usable words")
        return label

    def _fall_back(self, prompts: list[str], context: NamingContext | None, reason: str) -> str:
        where = self.base_url or "api.openai.com"
        self.last_fallback_reason = f"The LLM namer ({where}) failed: {reason}; names come from describe."
        if not self._warned:
            self._warned = True
            log.warning("%s", self.last_fallback_reason)
        try:
            return self._describe().name_cluster(prompts, context)
        except Exception as exc:  # the last resort never raises
            log.warning("describe namer failed too: %s", exc)
            taken = context.taken if context is not None else frozenset()
            return unique_label(FALLBACK_LABEL, taken)


class _Junk(Exception):
    pass


class _Skipped(Exception):
    pass


def _is_unreachable(exc: BaseException) -> bool:
    try:
        import openai
    except ImportError:  # pragma: no cover - the client was built, so openai is there
        return False
    return isinstance(exc, openai.APIConnectionError)  # APITimeoutError is one too


def _reason(exc: BaseException) -> str:
    """A short clause for the user: what went wrong, no traceback."""
    if isinstance(exc, _Junk | _Skipped):
        return str(exc)
    try:
        import openai
    except ImportError:  # pragma: no cover
        openai = None  # type: ignore[assignment]
    if openai is not None:
        if isinstance(exc, openai.APITimeoutError):
            return "it did not answer in time"
        if isinstance(exc, openai.APIConnectionError):
            return "it could not be reached"
        if isinstance(exc, openai.AuthenticationError):
            return "the API key was refused (HTTP 401)"
        if isinstance(exc, openai.NotFoundError):
            return "the model or address was not found (HTTP 404)"
        if isinstance(exc, openai.APIStatusError):
            return f"it answered HTTP {exc.status_code}"
    text = " ".join(str(exc).split())[:120] or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def create(settings: Settings, model: str | None = None) -> OpenAINamer:
    """Check that the openai client is installed and a key or a server address is set."""
    _torch.require_packages(NAME, *REQUIRED_PACKAGES)
    if not settings.openai_api_key and not settings.openai_base_url:
        raise ProviderUnavailableError(
            "The openai namer needs an API key (OPENAI_API_KEY) or the address of an OpenAI-compatible "
            "server such as Ollama (OPENAI_BASE_URL, e.g. http://localhost:11434/v1)."
        )
    return OpenAINamer(settings, model or settings.openai_model)
