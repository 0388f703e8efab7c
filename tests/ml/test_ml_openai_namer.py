"""The openai namer against an OpenAI-compatible server on loopback, run by the test."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from core.errors import ProviderUnavailableError
from core.labels import FALLBACK_LABEL
from core.providers import registry
from core.providers.base import NamingContext
from core.settings import Settings
from tests.ml.conftest import needs_openai
from tests.ml.loopback import Reply, Request

pytestmark = needs_openai

PROMPTS = [
    "lofi warm beat | energy=0.30 | density=0.40 | duration=10.0s",
    "lofi warm beat, tape hiss | energy=0.30 | density=0.40 | duration=10.0s",
    "lofi warm beat, vinyl | energy=0.30 | density=0.40 | duration=10.0s",
    "a fourth prompt that must not be sent | energy=0.30",
]


def completion(content: Any) -> Reply:
    return Reply.json(
        {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 0,
            "model": "test-model",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
            ],
        }
    )


def namer_for(settings: Settings, server: Any, **changes: Any) -> Any:
    from core.providers import openai_namer

    values = {"openai_base_url": f"{server.url}/v1", "openai_model": "test-model", **changes}
    return openai_namer.create(settings.replace(**values))


def expected_fallback(settings: Settings, prompts: list[str], context: NamingContext | None) -> str:
    """What the describe namer says for the same cluster (the fallback)."""
    try:
        from core.providers import describe
    except ImportError:
        return FALLBACK_LABEL
    return describe.create(settings).name_cluster(prompts, context)


def test_a_good_answer_is_the_label_and_the_request_is_well_formed(settings: Settings, loopback: Any) -> None:
    server = loopback(lambda request: completion("Dusty Tape Groove"))
    namer = namer_for(settings, server, openai_api_key="sk-test")
    label = namer.name_cluster(PROMPTS, NamingContext(taken=frozenset({"Bright Drive"})))
    assert label == "Dusty Tape Groove"
    assert namer.last_fallback_reason is None
    (request,) = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    body = request.body
    assert body["model"] == "test-model"
    user = body["messages"][-1]["content"]
    for prompt in PROMPTS[:3]:
        assert prompt in user
    assert PROMPTS[3] not in user
    assert "Bright Drive" in user


def test_a_local_server_needs_no_key(settings: Settings, loopback: Any) -> None:
    server = loopback(lambda request: completion("Night Drive"))
    namer = namer_for(settings, server, openai_api_key="")
    assert namer.name_cluster(PROMPTS[:1]) == "Night Drive"
    assert server.requests[0].headers["authorization"].startswith("Bearer ")


@pytest.mark.parametrize(
    ("answer", "label"),
    [
        ('"Lofi Dust."', "Lofi Dust"),
        ("[bold red]Dark[/bold red] [link=http://x]Groove[/link]", "Dark Groove"),
        ("\x1b[31mNeon\x1b[0m Rain\x07\x00", "Neon Rain"),
        ("**Warm** _Tape_ `Loop`", "Warm Tape Loop"),
        ("Label: Café Nocturne ☕", "Cafe Nocturne"),
        ("<think>The user wants a name.\nMaybe something calm.</think>\nCalm Keys", "Calm Keys"),
        ("Sunset Strings\nThis name fits because the strings are warm.", "Sunset Strings"),
        ("word " * 2500, "Word Word Word"),
        ("x" * 10_000, "X" + "x" * 19),
    ],
    ids=[
        "quotes",
        "rich-markup",
        "ansi-control",
        "markdown",
        "non-ascii",
        "think",
        "explained",
        "long",
        "huge-word",
    ],
)
def test_hostile_answers_are_cleaned_to_three_ascii_words(
    settings: Settings, loopback: Any, answer: str, label: str
) -> None:
    server = loopback(lambda request: completion(answer))
    namer = namer_for(settings, server)
    result = namer.name_cluster(PROMPTS[:1])
    assert result == label
    assert result.isascii() and len(result.split()) <= 3
    assert namer.last_fallback_reason is None


@pytest.mark.parametrize(
    "reply",
    [
        completion(""),
        completion(None),
        completion("!!! ... ???"),
        completion("日本語のみ"),
        Reply.json({"choices": []}),
        Reply(200, b"<html>not json</html>", "text/html"),
        Reply.json({"error": {"message": "no such model", "type": "invalid_request_error"}}, status=404),
        Reply.json({"error": {"message": "bad key"}}, status=401),
    ],
    ids=["empty", "null", "punctuation", "non-ascii", "no-choices", "html", "404", "401"],
)
def test_junk_and_errors_fall_back_to_describe(settings: Settings, loopback: Any, reply: Reply) -> None:
    server = loopback(lambda request: reply)
    namer = namer_for(settings, server)
    label = namer.name_cluster(PROMPTS, None)
    assert label == expected_fallback(settings, PROMPTS, None)
    assert namer.last_fallback_reason is not None
    assert "describe" in namer.last_fallback_reason


def test_a_500_is_retried_once_then_falls_back_and_says_so_once(
    settings: Settings, loopback: Any, caplog: pytest.LogCaptureFixture
) -> None:
    server = loopback(lambda request: Reply.json({"error": {"message": "boom"}}, status=500))
    namer = namer_for(settings, server)
    with caplog.at_level(logging.WARNING, logger="core.providers.openai_namer"):
        first = namer.name_cluster(PROMPTS, None)
        second = namer.name_cluster(PROMPTS[:1], NamingContext(taken=frozenset({first})))
    assert len(server.requests) == 4  # two clusters, each tried twice (max_retries=1)
    assert "HTTP 500" in namer.last_fallback_reason
    warnings = [r for r in caplog.records if "LLM namer" in r.getMessage()]
    assert len(warnings) == 1
    assert first == expected_fallback(settings, PROMPTS, None)
    assert second != first or first == FALLBACK_LABEL


def test_a_timeout_falls_back_and_leaves_the_server_alone_for_a_while(
    settings: Settings, loopback: Any
) -> None:
    def hang(request: Request) -> Reply:
        server.release.wait(10)
        return completion("Too Late")

    server = loopback(hang)
    namer = namer_for(settings, server, openai_timeout_sec=0.3)
    label = namer.name_cluster(PROMPTS, None)
    assert label == expected_fallback(settings, PROMPTS, None)
    assert "did not answer in time" in namer.last_fallback_reason
    asked = len(server.requests)
    assert asked == 2
    namer.name_cluster(PROMPTS, None)  # within the pause: no new request
    assert len(server.requests) == asked


def test_an_unreachable_server_falls_back(settings: Settings, loopback: Any) -> None:
    server = loopback(lambda request: completion("Never"))
    server.stop()
    namer = namer_for(settings, server)
    assert namer.name_cluster(PROMPTS, None) == expected_fallback(settings, PROMPTS, None)
    assert "could not be reached" in namer.last_fallback_reason


def test_success_after_a_failure_clears_the_reason(settings: Settings, loopback: Any) -> None:
    answers = iter([Reply.json({}, status=500), Reply.json({}, status=500), completion("Second Wind")])
    server = loopback(lambda request: next(answers))
    namer = namer_for(settings, server)
    namer.name_cluster(PROMPTS, None)
    assert namer.last_fallback_reason is not None
    assert namer.name_cluster(PROMPTS, None) == "Second Wind"
    assert namer.last_fallback_reason is None


def test_taken_labels_are_not_reused(settings: Settings, loopback: Any) -> None:
    server = loopback(lambda request: completion("Warm Keys"))
    namer = namer_for(settings, server)
    assert namer.name_cluster(PROMPTS, NamingContext(taken=frozenset({"warm keys"}))) == "Warm Keys 2"


def test_without_key_or_server_it_is_unavailable(settings: Settings) -> None:
    with pytest.raises(ProviderUnavailableError, match="OPENAI_API_KEY") as err:
        registry.create_namer(settings.replace(openai_api_key="", openai_base_url=""), "openai")
    assert "\n" not in str(err.value)
    namer = registry.create_namer(settings.replace(openai_api_key="sk-x"), "openai", "gpt-test")
    assert namer.name == "openai" and namer.model == "gpt-test"


def test_the_describe_words_are_given_as_a_hint(settings: Settings, loopback: Any, tmp_path: Path) -> None:
    describe = pytest.importorskip("core.providers.describe")
    clip = tmp_path / "clip.wav"
    t = np.arange(32_000) / 32_000
    sf.write(str(clip), 0.3 * np.sin(2 * np.pi * 3000 * t) * (t * 8 % 1 < 0.5), 32_000)
    server = loopback(lambda request: completion("Bright Pulse"))
    namer = namer_for(settings, server)
    context = NamingContext(audio_paths=[clip])
    assert namer.name_cluster(PROMPTS[:1], context) == "Bright Pulse"
    words = describe.create(settings).name_cluster(PROMPTS[:1], NamingContext(audio_paths=[clip]))
    assert f"Sound analysis: {words.lower()}." in server.requests[0].body["messages"][-1]["content"]
