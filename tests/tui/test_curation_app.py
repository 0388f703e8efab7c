"""Pilot tests of curation and audition in the app: keep, rate, discard and the filter,
A/B flip and prefer, the detail view, rename, delete, export, volume, auto-advance and
the output device. Real core, real SQLite, real WAVs, a real PortAudio stream on
ALSA's null device; assertions on what the user sees and on what is stored."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from core.models import BriefParams
from core.service import SessionService
from core.settings import Settings, load_settings
from core.store import SessionStore
from tests.tui import scenes
from tests.tui.helpers import open_only_session, text_of
from tests.tui.scenes import SEED, wait_for
from tui.app import SessionLabApp
from tui.screens.curation_dialogs import PreferenceScreen
from tui.screens.devices import DeviceScreen
from tui.screens.export import ExportScreen
from tui.screens.modals import ConfirmScreen, TextPromptScreen
from tui.screens.session import SessionScreen
from tui.widgets.cluster_tree import ClusterTree
from tui.widgets.detail import ClipDetail
from tui.widgets.player_bar import PlayerBar
from tui.widgets.track_table import TrackTable

pytestmark = pytest.mark.asyncio

BRIEF = "warm lofi loop with dusty drums"


def make_session(settings: Settings, clips: int = 4, seconds: float = 4.0):  # type: ignore[no-untyped-def]
    """One batch, two planned clusters (first half, second half; one cluster under 4 clips)."""
    middle = clips // 2
    service = SessionService.from_settings(settings)
    groups = (range(middle), range(middle, clips)) if clips >= 4 else (range(clips),)
    service.clusterer = scenes.planned(groups)
    session = service.create_initial_batch(BRIEF, BriefParams(duration_sec=seconds), clips, seed=SEED)
    service.store.close()
    return session


async def open_session(pilot, app: SessionLabApp) -> SessionScreen:  # type: ignore[no-untyped-def]
    """The only session opened, and its work in the background done."""
    screen = await open_only_session(pilot, app)
    await app.workers.wait_for_complete()
    await pilot.pause()
    return screen


def stored(settings: Settings):  # type: ignore[no-untyped-def]
    return SessionStore(settings.data_dir)


def cell(table: TrackTable, key: str, column: str) -> str:
    return str(table.get_cell(key, column))


async def settle(pilot, app: SessionLabApp) -> None:  # type: ignore[no-untyped-def]
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_keep_rate_discard_and_the_filter(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    session = make_session(settings)
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_session(pilot, app)
        table = screen.query_one(TrackTable)
        await pilot.press("tab")  # the list: its first clip
        first, second = list(table.rows_by_key)
        await pilot.press("s", "4")
        await settle(pilot, app)
        with stored(settings) as store:
            marks = store.get_curation(uuid.UUID(first))
        assert marks.kept and marks.rating == 4
        assert cell(table, first, "marks") == "★ ●●●●○"

        await pilot.press("0", "s")  # 0 clears the rating, s takes the star back
        await settle(pilot, app)
        with stored(settings) as store:
            assert store.get_curation(uuid.UUID(first)) == type(marks)()
        assert cell(table, first, "marks").strip() == ""

        # x discards: hidden from the list at once, the cursor on the next clip, nothing deleted.
        await pilot.press("x")
        await settle(pilot, app)
        assert list(table.rows_by_key) == [second] and table.current.key == second
        assert "1 discarded hidden" in text_of(screen.query_one("#scope-title", Static))
        with stored(settings) as store:
            assert store.get_curation(uuid.UUID(first)).discarded
            assert store.get_track(session.id, uuid.UUID(first)) is not None  # still there
        assert Path(session.batches[0].tracks[0].path).exists()

        # f: kept only (none yet), then every clip (the discarded one dimmed), then back.
        await pilot.press("s")  # keep the second
        await settle(pilot, app)
        await pilot.press("f")
        assert screen.filter_mode == "kept" and list(table.rows_by_key) == [second]
        await pilot.press("f")
        assert list(table.rows_by_key) == [first, second]
        assert cell(table, first, "marks").startswith("✕")
        await pilot.press("f")
        assert list(table.rows_by_key) == [second]


async def test_ab_flips_at_the_same_position_and_prefer_is_stored(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    session = make_session(settings)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_session(pilot, app)
        table = screen.query_one(TrackTable)
        bar = screen.query_one(PlayerBar)
        await pilot.press("tab", "l")  # the list; loop on, so nothing ends on the fast null device
        a_key, b_key = list(table.rows_by_key)
        await pilot.press("a")  # A
        assert app.ab_pair.a is not None and app.ab_pair.a.key == a_key and app.ab_pair.b is None
        await pilot.press("j", "a")  # B: the pair is complete and A plays
        await wait_for(pilot, lambda: app.player_state is not None and app.player_state.playing, "A plays")
        assert app.ab_pair.b is not None and app.ab_pair.b.key == b_key
        assert app.now_playing.key == a_key
        await pilot.press("space")
        await wait_for(pilot, lambda: app.player_state.paused, "paused")
        app._player.seek(2.5, relative=False)
        await pilot.press("a")  # flip to B at 2.5 s, still paused
        await wait_for(pilot, lambda: app.now_playing.key == b_key, "B is in")
        await settle(pilot, app)
        state = app._player.state
        b_path = session.batches[0].tracks[1].path
        assert state.path == Path(b_path) and state.paused
        assert state.position_sec == pytest.approx(2.5, abs=0.001)
        assert "A #1 ⇄ B #2" in text_of(bar)
        await pilot.press("a")  # and back to A, at the same place
        await wait_for(pilot, lambda: app.now_playing.key == a_key, "A is back")
        await settle(pilot, app)
        assert app._player.state.position_sec == pytest.approx(2.5, abs=0.001)

        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, PreferenceScreen), "the question")
        await pilot.press("b")
        await settle(pilot, app)
        assert any("B (#2) is better" in n.message for n in app._notifications)
        with stored(settings) as store:
            (preference,) = store.get_preferences(session.id)
        assert (str(preference.track_a), str(preference.track_b), preference.choice) == (a_key, b_key, "b")
        assert preference.brief_a.startswith(BRIEF)

        await pilot.press("A")  # forget the pair
        assert app.ab_pair.a is None and "⇄" not in text_of(bar)


async def test_v_before_a_pair_and_a_twice_on_a_say_what_to_do(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    """v with no pair, and a again on the clip that is A, each answer with one line (not silence)."""
    make_session(settings)
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_session(pilot, app)
        table = screen.query_one(TrackTable)
        await pilot.press("tab")  # the list
        await pilot.press("v")
        await pilot.pause()
        assert any("Mark two clips first" in n.message for n in app._notifications)
        assert not isinstance(app.screen, PreferenceScreen)
        await pilot.press("a")
        a_key = table.current.key
        await pilot.press("a")  # the same clip again
        await pilot.pause()
        assert any("is A already" in n.message for n in app._notifications)
        assert app.ab_pair.a is not None and app.ab_pair.a.key == a_key and app.ab_pair.b is None
        await pilot.press("v")
        await pilot.pause()
        assert not isinstance(app.screen, PreferenceScreen)


async def test_detail_view_shows_where_a_clip_came_from_and_copies_its_path(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    session = make_session(settings)
    track = session.batches[0].tracks[0]
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_session(pilot, app)
        await pilot.press("tab", "i")
        detail = screen.query_one(ClipDetail)
        await wait_for(pilot, lambda: detail.facts is not None, "the clip's facts")
        await pilot.pause()
        text = text_of(detail)
        assert BRIEF in text and track.raw_prompt[:30] in text
        assert f"Seed      {SEED}" in text and "makes the batch again exactly" in text
        assert "sketch" in text and "32000 Hz" in text
        assert "BPM" in text and "LUFS" in text and "dBTP" in text
        # Computed once, stored for next time.
        with stored(settings) as store:
            analysis = store.get_analysis([track.id])[track.id]
        assert analysis.lufs is not None and f"{analysis.lufs:.1f} LUFS" in text
        await pilot.press("y")
        assert app.clipboard == str(track.path)
        await pilot.press("j")  # the detail follows the cursor
        await wait_for(pilot, lambda: detail.track_id == session.batches[0].tracks[1].id, "the next clip")
        await pilot.press("i")
        assert not detail.display


async def test_rename_a_cluster_and_delete_a_clip_asked_first(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    session = make_session(settings)
    cluster = sorted(session.batches[0].clusters, key=lambda c: c.position)[0]
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_session(pilot, app)
        tree = screen.query_one(ClusterTree)
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, TextPromptScreen), "the name prompt")
        app.screen.query_one(Input).value = "Keeper Groove"
        await pilot.press("enter")
        await settle(pilot, app)
        assert tree.nodes_by_key[f"cluster:{cluster.id}"].label.plain.startswith("Keeper Groove")
        with stored(settings) as store:
            assert store.get_cluster_names(session.id) == {cluster.id: "Keeper Groove"}
            assert store.require_session(session.id).find_cluster(cluster.id)[1].label == cluster.label

        track = session.batches[0].tracks[0]
        await pilot.press("tab", "D")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        # Which #1: the one of the cluster as the musician named it.
        assert app.screen.question == f"Delete clip #{track.position + 1} of “Keeper Groove”?"
        await pilot.press("n")  # no: nothing happens
        await settle(pilot, app)
        assert Path(track.path).exists()
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question again")
        await pilot.press("y")
        await wait_for(pilot, lambda: str(track.id) not in screen.query_one(TrackTable).rows_by_key, "gone")
        await settle(pilot, app)
        assert not Path(track.path).exists()
        assert any(n.message == "Deleted 1 clip and its file." for n in app._notifications)
        with stored(settings) as store:
            assert store.get_track(session.id, track.id) is None


async def test_export_dialog_writes_the_kept_clips_and_shows_the_folder(
    make_app: Callable[..., SessionLabApp], settings: Settings, tmp_path: Path
) -> None:
    make_session(settings)
    folder = tmp_path / "exported"
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_session(pilot, app)
        await pilot.press("tab", "s", "j", "s")  # keep both clips of the first cluster
        await settle(pilot, app)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExportScreen), "the export dialog")
        dialog = app.screen
        assert dialog.choices[0][1] == "Kept clips (2)"
        dialog.query_one("#export-folder", Input).value = str(folder)
        await pilot.press("ctrl+s")
        status = dialog.query_one("#export-status", Static)
        await wait_for(pilot, lambda: "Exported 2 files" in text_of(status), "the export", rounds=6000)
        assert str(folder) in text_of(status)
        assert dialog.query_one("#export-progress").progress == 2
        wavs = sorted(folder.glob("*.wav"))
        assert len(wavs) == 2 and (folder / "session.json").exists()
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen, "back to the session")


async def test_volume_keys_change_the_player_and_are_saved(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    make_session(settings, clips=2)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_session(pilot, app)
        await pilot.press("l", "enter")
        await wait_for(pilot, lambda: app.player_state is not None and app.player_state.playing, "playing")
        await pilot.press("minus", "minus")
        await settle(pilot, app)
        assert app.volume_db == -6.0 and app._player.volume_db == -6.0
        assert "vol −6 dB" in text_of(screen.query_one(PlayerBar))
        assert load_settings().volume_db == -6.0  # the config file in the test's config dir
        await pilot.press("plus", "plus", "plus")  # never above the loudness match
        await settle(pilot, app)
        assert app.volume_db == 0.0 and load_settings().volume_db == 0.0


async def test_auto_advance_plays_the_cluster_through_and_c_turns_it_off(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    make_session(settings, clips=4, seconds=1.0)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_session(pilot, app)
        table = screen.query_one(TrackTable)
        first, second = list(table.rows_by_key)
        await pilot.press("tab", "enter")  # the null device ends a clip at once: on to the next
        await wait_for(
            pilot, lambda: app.now_playing is not None and app.now_playing.key == second, "the next"
        )
        await settle(pilot, app)
        assert table.current.key == second  # the cursor followed
        # The cluster's last clip: it stops there, the next cluster is not started.
        assert app.now_playing.key == second and not app.player_state.playing
        await pilot.press("c")
        assert not app.auto_advance
        await pilot.press("k", "enter")
        await wait_for(pilot, lambda: app.now_playing.key == first, "the first again")
        await settle(pilot, app)
        assert app.now_playing.key == first


async def test_choosing_the_output_device_from_the_palette_is_saved(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    make_session(settings, clips=2)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: bool(getattr(app.screen, "sessions", None)), "the list")
        await pilot.press("ctrl+p")
        await pilot.press(*["space" if c == " " else c for c in "output device"])
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DeviceScreen), "the device list")
        dialog = app.screen
        await wait_for(pilot, lambda: bool(dialog.names), "devices listed")
        assert "sessionlab_broken" in dialog.names and "default" in dialog.names
        await pilot.press("down")  # the first device after the system default
        chosen = dialog.names[0]
        await pilot.press("enter")
        await settle(pilot, app)
        assert app.audio_device == chosen
        assert load_settings().output_device == chosen


async def test_a_missing_chosen_device_plays_on_the_default_with_one_line(
    make_app: Callable[..., SessionLabApp], data_dir: Path
) -> None:
    settings = Settings(data_dir=data_dir, output_device="headphones-unplugged")
    make_session(settings, clips=2)
    app = scenes.make_app(settings)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_session(pilot, app)
        await wait_for(
            pilot, lambda: any("headphones-unplugged" in n.message for n in app._notifications), "the line"
        )
        await pilot.press("l", "enter")
        await wait_for(pilot, lambda: app.player_state is not None and app.player_state.playing, "playing")
        await settle(pilot, app)
        assert app.audio_problem == ""
        assert sum("headphones-unplugged" in n.message for n in app._notifications) == 1
        assert "default" in next(n.message for n in app._notifications if "headphones" in n.message)
        assert screen.query_one(PlayerBar) is not None


async def test_the_palette_and_help_offer_the_curation_keys(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    from tui.commands import command_actions
    from tui.screens.help import HelpScreen

    make_session(settings, clips=2)
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_session(pilot, app)
        titles = [title for title, _, _ in command_actions(screen)]
        for wanted in (
            "Keep clip (star)",
            "Mark A/B or flip",
            "Filter clips",
            "Export for a DAW",
            "Play selected clip",
        ):
            assert wanted in titles
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        text = "\n".join(str(s.render()) for s in app.screen.query(".help-section"))
        for line in (
            "Keep the clip (★)",
            "Mark the clip A, then B",
            "Rate the clip 1 to 5",
            "Volume up 3 dB",
        ):
            assert line in text


async def test_deleting_the_highlighted_batch_removes_its_clips_and_files(
    make_app: Callable[..., SessionLabApp], settings: Settings
) -> None:
    session = make_session(settings, clips=2)
    service = SessionService.from_settings(settings)
    service.clusterer = scenes.planned(((0, 1),))
    second = service.add_brief_batch(session.id, "another idea", BriefParams(duration_sec=1.0), 2, seed=SEED)
    service.store.close()
    app = make_app(check_audio=False)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_session(pilot, app)
        tree = screen.query_one(ClusterTree)
        assert tree.select_key(f"batch:{second.id}")
        await pilot.pause()
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        assert "Delete batch 2 and its 2 clips?" in str(
            app.screen.query_one(".dialog-title", Static).render()
        )
        await pilot.press("y")
        await wait_for(pilot, lambda: f"batch:{second.id}" not in tree.nodes_by_key, "the batch is gone")
        await settle(pilot, app)
        assert all(not Path(t.path).exists() for t in second.tracks)
        with stored(settings) as store:
            assert [b.id for b in store.require_session(session.id).batches] == [session.batches[0].id]
