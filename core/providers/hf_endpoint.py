"""A remote MusicGen over HTTP (seed 000's HfMusicGenProvider), e.g. a Hugging Face Inference Endpoint.

Request, one per clip, POSTed to ``hf_endpoint_url``::

    POST <url>
    Authorization: Bearer <HF_TOKEN>          (only when hf_token is set)
    Content-Type: application/json
    Accept: audio/wav, audio/flac
    {"inputs": "<prompt>", "parameters": {"duration": <seconds>, "seed": <clip seed>}}

Answer: the audio bytes, WAV or FLAC (told by Content-Type, else by the
file's magic bytes). Any sample rate or channel count; the clip is written
as WAV into ``request.out_dir`` and its duration is measured from the audio,
not taken from the request.

The clips of a batch are asked for concurrently, at most ``hf_concurrency``
at a time (threads and urllib: no extra dependency), each with a
``hf_timeout_sec`` timeout. Failed clips are skipped; GenerationFailedError,
with the first failure's sentence, only when every clip failed. Cancel is
checked while waiting: the call raises CancelledError at once, requests still
in flight are abandoned and whatever this call wrote is deleted. The endpoint
gets no audio prompt, so more-like relies on the service's similarity filter.

Progress: ``(STAGE_GENERATING, clips finished (ok or failed), num_clips)``.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import tempfile
import threading
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from urllib import error as urlerror
from urllib import request as urlrequest
from urllib.parse import urlparse

import numpy as np

from core.audio import write_wav_atomic
from core.errors import (
    CancelledError,
    GenerationFailedError,
    ProviderUnavailableError,
)
from core.providers.base import (
    STAGE_GENERATING,
    GeneratedClip,
    GenerationRequest,
    check_batch_args,
    check_cancel,
    clip_seed,
)
from core.providers.capabilities import HF_ENDPOINT
from core.settings import Settings

log = logging.getLogger(__name__)

NAME = "hf-endpoint"
MAX_RESPONSE_BYTES = 200 * 1024 * 1024
# How often the waiting thread looks at the cancel event.
CANCEL_POLL_SEC = 0.1


class ClipError(Exception):
    """One clip failed; ``str()`` is a sentence for the user."""


def sniff_format(content_type: str, body: bytes) -> str | None:
    """ "WAV", "FLAC" or None, from the magic bytes first, then the Content-Type."""
    if body[:4] == b"RIFF" and body[8:12] == b"WAVE":
        return "WAV"
    if body[:4] == b"fLaC":
        return "FLAC"
    kind = content_type.split(";")[0].strip().lower()
    if kind in ("audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"):
        return "WAV"
    if kind in ("audio/flac", "audio/x-flac"):
        return "FLAC"
    return None


def decode_audio(content_type: str, body: bytes) -> tuple[np.ndarray, int]:
    import soundfile as sf

    if not body:
        raise ClipError("The endpoint answered with an empty body instead of audio.")
    kind = sniff_format(content_type, body)
    if kind is None:
        preview = body[:80].decode("utf-8", "replace")
        preview = "".join(ch if ch.isprintable() else " " for ch in preview).strip()
        raise ClipError(
            "The endpoint answered with something that is not WAV or FLAC audio"
            + (f" ({preview[:60]})." if preview else ".")
        )
    try:
        samples, rate = sf.read(io.BytesIO(body), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError, ValueError, TypeError) as exc:
        raise ClipError(f"The endpoint's {kind} audio could not be read ({exc}).") from None
    if samples.shape[0] == 0:
        raise ClipError("The endpoint answered with empty audio.")
    if not np.all(np.isfinite(samples)):
        raise ClipError("The endpoint's audio contains invalid samples.")
    return (samples[:, 0] if samples.shape[1] == 1 else samples), int(rate)


def _error_detail(body: bytes) -> str:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        text = body[:200].decode("utf-8", "replace")
    else:
        text = str(data.get("error", data)) if isinstance(data, dict) else str(data)
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(text.split())[:160]


class HfEndpointProvider:
    """MusicProvider that asks a remote MusicGen endpoint for each clip."""

    name = NAME
    capabilities = HF_ENDPOINT

    def __init__(self, settings: Settings, url: str) -> None:
        self.settings = settings
        self.url = url
        self.model: str | None = url

    def _post(self, prompt: str, duration_sec: float, seed: int) -> tuple[str, bytes]:
        payload = {"inputs": prompt, "parameters": {"duration": duration_sec, "seed": seed}}
        headers = {
            "Content-Type": "application/json",
            "Accept": "audio/wav, audio/flac, audio/*;q=0.9",
            "User-Agent": "sessionlab",
        }
        if self.settings.hf_token:
            headers["Authorization"] = f"Bearer {self.settings.hf_token}"
        req = urlrequest.Request(
            self.url, data=json.dumps(payload).encode("utf-8"), headers=headers, method="POST"
        )
        timeout = self.settings.hf_timeout_sec
        try:
            with urlrequest.urlopen(req, timeout=timeout) as response:
                body = response.read(MAX_RESPONSE_BYTES + 1)
                content_type = response.headers.get("Content-Type", "")
        except urlerror.HTTPError as exc:
            detail = _error_detail(exc.read(4096) if exc.fp is not None else b"")
            if exc.code in (401, 403):
                message = f"The endpoint refused the request (HTTP {exc.code}); check HF_TOKEN."
            elif exc.code == 404:
                message = f"There is no endpoint at {self.url} (HTTP 404)."
            elif exc.code == 503:
                message = "The endpoint is not ready (HTTP 503)" + (f": {detail}." if detail else ".")
            else:
                message = f"The endpoint answered HTTP {exc.code}" + (f": {detail}." if detail else ".")
            raise ClipError(message) from None
        except TimeoutError:
            raise ClipError(f"The endpoint did not answer within {timeout:g} s.") from None
        except urlerror.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise ClipError(f"The endpoint did not answer within {timeout:g} s.") from None
            raise ClipError(f"Cannot reach the endpoint at {self.url} ({exc.reason}).") from None
        except OSError as exc:
            raise ClipError(f"The connection to the endpoint failed ({exc}).") from None
        if len(body) > MAX_RESPONSE_BYTES:
            raise ClipError("The endpoint's answer is too large to be a clip.")
        return content_type, body

    def _one(
        self, prompt: str, duration_sec: float, seed: int, path: Path, cancel: threading.Event | None
    ) -> GeneratedClip:
        content_type, body = self._post(prompt, duration_sec, seed)
        samples, rate = decode_audio(content_type, body)
        if cancel is not None and cancel.is_set():
            raise CancelledError("Generation was cancelled.")
        write_wav_atomic(path, samples, rate)
        if cancel is not None and cancel.is_set():  # cancelled while writing: the waiter has cleaned up
            path.unlink(missing_ok=True)
            raise CancelledError("Generation was cancelled.")
        return GeneratedClip(
            audio_path=path,
            duration_sec=samples.shape[0] / float(rate),
            raw_prompt=prompt,
            seed=seed,
            recipe={
                "engine": NAME,
                "url": self.url,
                "seed": seed,
                "duration_sec": duration_sec,
                "sampling_rate": rate,
            },
        )

    def generate_batch(
        self,
        prompt: str,
        num_clips: int,
        duration_sec: float,
        request: GenerationRequest | None = None,
    ) -> list[GeneratedClip]:
        request = request or GenerationRequest()
        check_batch_args(num_clips, duration_sec)
        check_cancel(request.cancel)
        out_dir = (
            Path(request.out_dir) if request.out_dir else Path(tempfile.mkdtemp(prefix="sessionlab-hf-"))
        )
        out_dir.mkdir(parents=True, exist_ok=True)
        tag = uuid.uuid4().hex[:8]
        progress = request.progress
        if progress is not None:
            progress(STAGE_GENERATING, 0, num_clips)

        results: dict[int, GeneratedClip] = {}
        errors: dict[int, str] = {}
        executor = ThreadPoolExecutor(
            max_workers=min(self.settings.hf_concurrency, num_clips), thread_name_prefix="hf-endpoint"
        )
        futures: dict[Future[GeneratedClip], int] = {}
        try:
            for index in range(num_clips):
                seed = clip_seed(request.seed, index)
                path = out_dir / f"hf-{tag}-{index:02d}.wav"
                future = executor.submit(self._one, prompt, duration_sec, seed, path, request.cancel)
                futures[future] = index
            pending = set(futures)
            while pending:
                check_cancel(request.cancel)
                done, pending = wait(pending, timeout=CANCEL_POLL_SEC, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: futures[f]):
                    index = futures[future]
                    try:
                        clip = future.result()
                    except CancelledError:
                        continue  # only raised once cancel is set; the loop raises it
                    except ClipError as exc:
                        errors[index] = str(exc)
                        log.warning("clip %d failed: %s", index, exc)
                    except Exception as exc:  # a bug or an odd failure costs one clip, not the batch
                        errors[index] = f"The endpoint clip failed ({type(exc).__name__}: {exc})."
                        log.warning("clip %d failed", index, exc_info=True)
                    else:
                        results[index] = clip
                        if request.on_clip is not None:
                            request.on_clip(index, clip)
                    if progress is not None:
                        progress(STAGE_GENERATING, len(results) + len(errors), num_clips)
        except CancelledError:
            executor.shutdown(wait=False, cancel_futures=True)
            for index in range(num_clips):
                with contextlib.suppress(OSError):
                    (out_dir / f"hf-{tag}-{index:02d}.wav").unlink(missing_ok=True)
            raise
        executor.shutdown(wait=False)
        if not results:
            first = errors[min(errors)] if errors else "The endpoint produced no clip."
            raise GenerationFailedError(first)
        return [results[index] for index in sorted(results)]


def create(settings: Settings, model: str | None = None) -> HfEndpointProvider:
    """The endpoint at ``model`` (a URL) or ``hf_endpoint_url``; ProviderUnavailableError without one."""
    url = (model or settings.hf_endpoint_url or "").strip()
    if not url:
        raise ProviderUnavailableError(
            "The hf-endpoint engine needs the URL of a MusicGen endpoint: set hf_endpoint_url "
            "(SESSIONLAB_HF_ENDPOINT_URL) or pass it as --model."
        )
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ProviderUnavailableError(f"The endpoint URL must start with http:// or https://, not {url!r}.")
    return HfEndpointProvider(settings, url)
