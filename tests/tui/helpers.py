"""Helpers of the app's pilot tests: typing, the palette, writing a brief, waiting for a
batch, sessions made through the real service, and what the app draws."""

from __future__ import annotations

from textual.widgets import Input, Static

from core.models import BriefParams
from core.service import SessionService
from core.settings import Settings
from tests.tui import scenes
from tests.tui.scenes import SEED, wait_for
from tui.app import SessionLabApp
from tui.screens.brief import BriefScreen
from tui.screens.session import SessionScreen
from tui.widgets.cluster_tree import ClusterTree

BRIEF = "warm lofi loop with dusty drums"


def text_of(widget: Static) -> str:
    return str(widget.render())


def tree_labels(app: SessionLabApp) -> list[str]:
    tree = app.screen.query_one(ClusterTree)
    labels: list[str] = []

    def walk(node, depth: int) -> None:  # type: ignore[no-untyped-def]
        for child in node.children:
            labels.append("  " * depth + child.label.plain)
            walk(child, depth + 1)

    walk(tree.root, 0)
    return labels


async def type_text(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press(*["space" if ch == " " else ch for ch in text])


async def run_palette_command(pilot, app: SessionLabApp, words: str) -> None:  # type: ignore[no-untyped-def]
    """From the sessions screen: ctrl+p, type ``words``, Enter on the command they find."""
    await wait_for(pilot, lambda: app.screen.sessions is not None, "the list")
    await pilot.press("ctrl+p")
    await type_text(pilot, words)
    await pilot.pause(0.3)  # the palette searches in a worker
    await pilot.press("enter")


async def write_brief(pilot, app: SessionLabApp, *, clips: str = "4", seed: str = str(SEED)) -> None:  # type: ignore[no-untyped-def]
    """From the sessions screen: n, type the brief, fill clips and seed, ctrl+s."""
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, BriefScreen), "the brief form opens")
    await type_text(pilot, BRIEF)
    form = app.screen
    form.query_one("#clips", Input).value = clips
    form.query_one("#seed", Input).value = seed
    await pilot.press("ctrl+s")


async def wait_generated(pilot, app: SessionLabApp) -> SessionScreen:  # type: ignore[no-untyped-def]
    await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen), "the session screen opens")
    screen = app.screen
    assert isinstance(screen, SessionScreen)
    # The screen is current before it has mounted and started its job: wait for the job itself.
    # (A screen given its first job has last_job from the start: wait until it has started it.)
    started = lambda: screen.first_job is None or screen.token > 0  # noqa: E731
    await wait_for(
        pilot,
        lambda: started() and screen.last_job is not None and not screen.generating,
        "the batch is made",
    )
    await pilot.pause()
    return screen


def make_session(settings: Settings, brief: str = BRIEF, clips: int = 4, seed: int = SEED):  # type: ignore[no-untyped-def]
    """A session made through the real service, as the CLI would."""
    service = SessionService.from_settings(settings)
    session = service.create_initial_batch(brief, BriefParams(), clips, seed=seed)
    service.store.close()
    return session


# ------------------------------------------------------------- issue 7: trust

# What a hostile or careless name can hold: a screen wipe, an OSC title change ended
# by BEL, Rich markup and a line break.
EVIL = "\x1b[2J\x1b]0;pwned\x07[bold red]x[/]\nnext"


EVIL_FILE_NAME = "\x1b[2J\x1b]0;pwned\x07[bold red]x\nnext.wav"  # the same, without a path separator


def drawn_controls(app: SessionLabApp) -> list[str]:
    """Segments of what the app draws now that carry a control character to the terminal."""
    import unicodedata

    found = []
    for strip in app.screen._compositor.render_strips():
        for segment in strip:
            if segment.control:  # cursor moves of Textual's own
                continue
            if any(unicodedata.category(ch) == "Cc" for ch in segment.text):
                found.append(segment.text)
    return found


def drawn_text(app: SessionLabApp) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def make_split_session(
    settings: Settings, brief: str = BRIEF, clips: int = 4, embedder_model: str | None = None
):  # type: ignore[no-untyped-def]
    """A session whose one batch has two clusters (first half, second half), whatever
    the clustering library's floating point does: its grouping is planned here."""
    middle = clips // 2
    service = SessionService.from_settings(settings, embedder_model=embedder_model)
    service.clusterer = scenes.planned((range(middle), range(middle, clips)))
    session = service.create_initial_batch(brief, BriefParams(), clips, seed=SEED)
    service.store.close()
    return session


async def open_only_session(pilot, app: SessionLabApp) -> SessionScreen:  # type: ignore[no-untyped-def]
    await wait_for(pilot, lambda: bool(getattr(app.screen, "sessions", None)), "the list")
    await pilot.press("enter")
    await wait_for(
        pilot,
        lambda: isinstance(app.screen, SessionScreen) and app.screen.session is not None,
        "the session opens",
    )
    await pilot.pause()
    return app.screen


def make_named_session(settings: Settings, name: str = "Lazy Sunday"):  # type: ignore[no-untyped-def]
    """``make_split_session`` of 4 clips whose first cluster the musician named ``name``."""
    from core import curation
    from core.store import SessionStore

    session = make_split_session(settings, clips=4)
    with SessionStore(settings.data_dir) as store:
        curation.rename_cluster(store, session.id, session.batches[0].clusters[0].id, name)
    return session
