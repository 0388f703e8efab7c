"""The hf-endpoint engine against a MusicGen-like endpoint on loopback, run by the test."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from core.errors import CancelledError, GenerationFailedError, ProviderUnavailableError
from core.providers import registry
from core.providers.base import STAGE_GENERATING, GeneratedClip, GenerationRequest, clip_seed
from core.settings import Settings
from tests.ml.loopback import Reply, Request


def audio_bytes(
    seconds: float, rate: int = 32_000, fmt: str = "WAV", channels: int = 1, pitch: float = 220
) -> bytes:
    t = np.arange(int(round(seconds * rate))) / rate
    mono = 0.3 * np.sin(2 * np.pi * pitch * t)
    data = mono if channels == 1 else np.stack([mono] * channels, axis=1)
    buffer = io.BytesIO()
    sf.write(buffer, data, rate, format=fmt, subtype="PCM_16")
    return buffer.getvalue()


def musicgen_like(request: Request) -> Reply:
    """Answers with a WAV a quarter second longer than asked: the duration must be measured."""
    params = request.body["parameters"]
    return Reply(200, audio_bytes(params["duration"] + 0.25, pitch=110 + params["seed"] % 400), "audio/wav")


def engine(settings: Settings, server: Any, **changes: Any) -> Any:
    return registry.create_music(
        settings.replace(hf_endpoint_url=server.url + "/generate", **changes), "hf-endpoint"
    )


def test_clips_come_back_with_measured_durations(settings: Settings, loopback: Any, tmp_path: Path) -> None:
    server = loopback(musicgen_like)
    provider = engine(settings, server, hf_token="hf_secret")
    calls: list[tuple[str, int, int]] = []
    ready: list[int] = []
    request = GenerationRequest(
        seed=4,
        out_dir=tmp_path / "out",
        progress=lambda *a: calls.append(a),
        on_clip=lambda index, clip: ready.append(index),
    )
    clips = provider.generate_batch("lofi warm beat", 3, 1.0, request)

    assert len(clips) == 3
    for index, clip in enumerate(clips):
        assert clip.duration_sec == pytest.approx(1.25)
        data, rate = sf.read(str(clip.audio_path))
        assert rate == 32_000 and data.shape == (40_000,)
        assert clip.audio_path.parent == tmp_path / "out"
        assert clip.seed == clip_seed(4, index)
        assert clip.raw_prompt == "lofi warm beat"
    assert sorted(ready) == [0, 1, 2]
    assert calls[0] == (STAGE_GENERATING, 0, 3) and calls[-1] == (STAGE_GENERATING, 3, 3)
    assert len(server.requests) == 3
    for request_seen in server.requests:
        assert request_seen.path == "/generate"
        assert request_seen.headers["authorization"] == "Bearer hf_secret"
        assert request_seen.body["inputs"] == "lofi warm beat"
        assert request_seen.body["parameters"]["duration"] == 1.0
    assert sorted(r.body["parameters"]["seed"] for r in server.requests) == sorted(
        clip_seed(4, i) for i in range(3)
    )


def test_flac_and_unlabelled_audio_are_sniffed(settings: Settings, loopback: Any, tmp_path: Path) -> None:
    answers = {
        0: Reply(200, audio_bytes(0.5, rate=44_100, fmt="FLAC", channels=2), "audio/flac"),
        1: Reply(200, audio_bytes(0.75, rate=44_100, fmt="FLAC"), "application/octet-stream"),
        2: Reply(200, audio_bytes(0.6, rate=16_000), "binary/whatever"),
    }
    seeds = {clip_seed(0, i): i for i in range(3)}
    server = loopback(lambda r: answers[seeds[r.body["parameters"]["seed"]]])
    provider = engine(settings, server)
    clips = provider.generate_batch("x", 3, 1.0, GenerationRequest(seed=0, out_dir=tmp_path))
    assert [round(c.duration_sec, 3) for c in clips] == [0.5, 0.75, 0.6]
    assert all(c.audio_path.suffix == ".wav" for c in clips)
    assert sf.info(str(clips[0].audio_path)).channels == 2
    assert sf.info(str(clips[0].audio_path)).format == "WAV"
    assert "authorization" not in server.requests[0].headers  # no token set


def test_requests_run_concurrently_within_the_bound(
    settings: Settings, loopback: Any, tmp_path: Path
) -> None:
    state = {"now": 0, "most": 0, "broken": 0}
    lock = threading.Lock()
    pair = threading.Barrier(2, timeout=20)

    def handle(request: Request) -> Reply:
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        try:
            pair.wait()  # returns only when two requests are in flight together
        except threading.BrokenBarrierError:
            state["broken"] += 1
        with lock:
            state["now"] -= 1
        return Reply(200, audio_bytes(0.2), "audio/wav")

    server = loopback(handle)
    provider = engine(settings, server, hf_concurrency=2)
    clips = provider.generate_batch("x", 6, 0.2, GenerationRequest(out_dir=tmp_path))
    assert len(clips) == 6
    assert state["most"] == 2
    assert state["broken"] == 0


def test_failed_clips_are_skipped(settings: Settings, loopback: Any, tmp_path: Path) -> None:
    bad = {clip_seed(1, 1), clip_seed(1, 3)}

    def handle(request: Request) -> Reply:
        if request.body["parameters"]["seed"] in bad:
            return Reply.json({"error": "CUDA error"}, status=500)
        return musicgen_like(request)

    server = loopback(handle)
    ready: list[int] = []
    clips = engine(settings, server).generate_batch(
        "x", 4, 0.3, GenerationRequest(seed=1, out_dir=tmp_path, on_clip=lambda i, c: ready.append(i))
    )
    assert [c.seed for c in clips] == [clip_seed(1, 0), clip_seed(1, 2)]
    assert sorted(ready) == [0, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(c.audio_path.name for c in clips)


@pytest.mark.parametrize(
    ("reply", "sentence"),
    [
        (
            Reply.json({"error": "model exploded"}, status=500),
            "The endpoint answered HTTP 500: model exploded.",
        ),
        (Reply.json({"error": "Invalid token"}, status=401), "check HF_TOKEN"),
        (Reply.json({"error": "not found"}, status=404), "There is no endpoint at"),
        (
            Reply.json({"error": "Model is currently loading", "estimated_time": 20}, status=503),
            "The endpoint is not ready (HTTP 503): Model is currently loading.",
        ),
        (Reply(200, b"<html><body>\x1b[31mhello</body></html>", "text/html"), "not WAV or FLAC audio"),
        (Reply(200, b"RIFF\x00\x00\x00\x00WAVEjunk", "audio/wav"), "could not be read"),
        (Reply(200, b"", "audio/wav"), "an empty body"),
    ],
    ids=["500", "401", "404", "503", "html", "corrupt-wav", "empty"],
)
def test_all_failing_is_one_sentence(
    settings: Settings, loopback: Any, tmp_path: Path, reply: Reply, sentence: str
) -> None:
    server = loopback(lambda request: reply)
    with pytest.raises(GenerationFailedError) as err:
        engine(settings, server).generate_batch("x", 2, 0.5, GenerationRequest(out_dir=tmp_path))
    message = str(err.value)
    assert sentence in message
    assert "\n" not in message and "\x1b" not in message
    assert list(tmp_path.iterdir()) == []


def test_a_slow_endpoint_times_out(settings: Settings, loopback: Any, tmp_path: Path) -> None:
    def hang(request: Request) -> Reply:
        server.release.wait(10)
        return musicgen_like(request)

    server = loopback(hang)
    with pytest.raises(GenerationFailedError, match="did not answer within 0.3 s"):
        engine(settings, server, hf_timeout_sec=0.3).generate_batch(
            "x", 2, 0.5, GenerationRequest(out_dir=tmp_path)
        )


def test_an_unreachable_endpoint_fails_with_its_address(
    settings: Settings, loopback: Any, tmp_path: Path
) -> None:
    server = loopback(musicgen_like)
    server.stop()
    with pytest.raises(GenerationFailedError, match="Cannot reach the endpoint at http://127.0.0.1"):
        engine(settings, server).generate_batch("x", 1, 0.5, GenerationRequest(out_dir=tmp_path))


def test_cancel_while_waiting_raises_and_writes_nothing(
    settings: Settings, loopback: Any, tmp_path: Path
) -> None:
    arrived = threading.Event()

    def handle(request: Request) -> Reply:
        arrived.set()
        server.release.wait(10)
        return musicgen_like(request)

    server = loopback(handle)
    cancel = threading.Event()
    ready: list[GeneratedClip] = []
    watcher = threading.Thread(target=lambda: (arrived.wait(10), cancel.set()))
    watcher.start()
    with pytest.raises(CancelledError):
        engine(settings, server, hf_concurrency=2).generate_batch(
            "x",
            4,
            0.5,
            GenerationRequest(out_dir=tmp_path, cancel=cancel, on_clip=lambda i, c: ready.append(c)),
        )
    watcher.join()
    server.release.set()  # the abandoned requests now get their answers...
    for thread in [t for t in threading.enumerate() if t.name.startswith("hf-endpoint")]:
        thread.join(10)
    assert ready == []  # ...and nothing is written for them
    assert list(tmp_path.iterdir()) == []


def test_create_needs_an_http_url(settings: Settings) -> None:
    with pytest.raises(ProviderUnavailableError, match="needs the URL of a MusicGen endpoint"):
        registry.create_music(settings, "hf-endpoint")
    with pytest.raises(ProviderUnavailableError, match="must start with http"):
        registry.create_music(settings.replace(hf_endpoint_url="ftp://example.org/x"), "hf-endpoint")
    provider = registry.create_music(settings, "hf-endpoint", "https://example.org/musicgen")
    assert provider.name == "hf-endpoint" and provider.model == "https://example.org/musicgen"
