"""The brief form's tempo, key and lyrics: checked by the core's rules, offered as the engine allows."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.widgets import Input, Static, TextArea

from core.settings import Settings
from tests.tui.scenes import wait_for
from tui.app import SessionLabApp
from tui.screens.brief import BriefScreen

pytestmark = pytest.mark.asyncio


async def test_tempo_and_key_reach_the_job_and_lyrics_only_for_engines_that_sing(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, BriefScreen), "the brief form")
        form = app.screen
        assert not form.query_one("#lyrics-row").display  # the sketch engine does not sing
        form.query_one("#brief", TextArea).text = "dark techno"
        form.query_one("#bpm", Input).value = "20"
        form.query_one("#key", Input).value = "H minor"
        form.query_one("#duration", Input).value = "700"
        form.action_generate()
        await pilot.pause()
        error = lambda key: str(form.query_one(f"#{key}-error", Static).render())  # noqa: E731
        assert "Tempo must be between 30 and 300 BPM, not 20." in error("bpm")
        assert "The key must be a tonic A to G" in error("key")
        assert "at most 600" in error("duration")
        assert app.screen is form
        form.query_one("#bpm", Input).value = "126"
        form.query_one("#key", Input).value = "f# m"
        form.query_one("#duration", Input).value = "4"
        form.query_one("#lyrics", Input).value = "never sent: not offered"
        jobs = []
        form.dismiss = jobs.append  # type: ignore[method-assign]
        form.action_generate()
        await pilot.pause()
        (job,) = jobs
        assert job.params.bpm == 126 and job.params.key == "F# minor" and job.params.lyrics == ""


async def test_a_brief_left_with_escape_is_back_in_the_next_form(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    """esc (or Back) does not throw a written brief away: the next form of that session has it."""
    app = make_app(check_audio=False)
    written = "slow dusty boom bap, a sleepy rhodes, vinyl crackle\nand a walking bass in the second half"
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, BriefScreen), "the brief form")
        app.screen.query_one("#brief", TextArea).text = written
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, BriefScreen), "back to the sessions")
        assert any("The brief is kept" in n.message for n in app._notifications)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, BriefScreen), "the form again")
        form = app.screen
        assert form.query_one("#brief", TextArea).text == written
        jobs = []
        form.dismiss = jobs.append  # type: ignore[method-assign]
        form.action_generate()
        await pilot.pause()
        (job,) = jobs
        assert job.brief == written
        assert None not in app.brief_drafts  # sent: the next new session starts empty again
