"""The session screen's opening of a session: its start read in a worker and drawn
over a few frames, then the older batches read in chunks and put in place, the clips'
files checked, and the title.

A base class of SessionScreen (see ``session.py``). It relies on the screen's helpers
(``_show_scope``, ``_reselect``, ``_show_pending``, ``in_frames``, ``settle``) and the
other bases' hooks (``older_shown``, ``curation_shown``, ``_premount_panel``).
"""

from __future__ import annotations

import threading
import uuid

from textual import on, work
from textual.content import Content
from textual.message import Message
from textual.widgets import Static
from textual.worker import get_current_worker

from core.errors import NotFoundError
from core.models import Batch, Session, Track
from core.store.reads import SessionStart
from tui.formatting import plural, shorten
from tui.screens.session_batch import _nothing, file_problems
from tui.screens.session_state import SessionState
from tui.widgets.cluster_tree import ClusterTree
from tui.widgets.cluster_tree_build import RECENT_BATCHES
from tui.widgets.track_table import TrackTable

OLDER_CHUNK = 50  # batches read per step, after a big session is drawn (each put in place between frames)
# How long the reading waits for a chunk to be put in place and drawn before it reads the
# next anyway (the screen is covered, or slow): a bound, not a pace.
PLACED_WAIT_SEC = 0.5


class OlderBatchesRead(Message):
    """Batches of the open session read after it was drawn (a chunk of them), with
    their clips' file problems; ``last`` on the final chunk. ``placed`` is set once the
    chunk is put in place and drawn."""

    def __init__(
        self, session_id: uuid.UUID, batches: list[Batch], problems: dict[str, str], *, last: bool
    ) -> None:
        super().__init__()
        self.session_id = session_id
        self.batches = batches
        self.problems = problems
        self.last = last
        self.placed = threading.Event()


class SessionLoad(SessionState):
    @work(thread=True, exclusive=True, exit_on_error=False, group="load")
    def _load(self, session_id: uuid.UUID) -> SessionStart:
        # Its start only (the first and latest batches, the order of all): drawn at once,
        # however big the session; the other batches are read after (_load_older).
        start = self.app.store.get_session_start(session_id, recent=RECENT_BATCHES)
        if start is None:
            raise NotFoundError(f"No session {session_id}.")
        return start

    @work(thread=True, exclusive=True, exit_on_error=False, group="older", description="read older batches")
    def _load_older(self, session_id: uuid.UUID, batch_ids: list[uuid.UUID]) -> None:
        """The batches not read yet, a chunk at a time, each with its clips' files
        checked: the screen puts each chunk in place between frames. The next chunk is
        read once the one before is drawn: reading (Python objects built here) and
        drawing do not take turns at the interpreter within one frame, which made its
        stall twice as long."""
        worker = get_current_worker()
        store = self.app.store
        for start in range(0, len(batch_ids), OLDER_CHUNK):
            if worker.is_cancelled:
                return
            batches = store.get_batches(session_id, batch_ids[start : start + OLDER_CHUNK])
            problems = file_problems(t for b in batches for t in b.tracks)
            last = start + OLDER_CHUNK >= len(batch_ids)
            read = OlderBatchesRead(session_id, batches, problems, last=last)
            self.post_message(read)
            if not last:
                read.placed.wait(PLACED_WAIT_SEC)

    @on(OlderBatchesRead)
    def _older_read(self, event: OlderBatchesRead) -> None:
        session = self.session
        if session is None or session.id != event.session_id:
            event.placed.set()
            return
        # The reading goes on once this chunk is drawn (in_frames: after the redraw it asks for).
        self.in_frames(_nothing, event.placed.set)
        held = {b.id for b in session.batches}
        older = [b for b in event.batches if b.id not in held]
        session.batches[:] = sorted([*session.batches, *older], key=lambda b: b.position)
        session.index_tracks(older)
        self.clip_problems.update(event.problems)
        tree = self.query_one("#tree", ClusterTree)
        tree.add_older(older, event.problems)
        self.older_shown(older)
        if self._select_later is not None:
            wanted, instead = self._select_later
            shown = tree.highlighted
            if shown is None or shown.key != instead:
                self._select_later = None  # the cursor moved: it stays where it was put
            elif tree.select_key(wanted):
                self._select_later = None
                self._show_scope(tree.highlighted)
        # Each chunk settled as it comes: a full collection then never scans the whole session.
        self.app.collector.settle()
        if event.last:
            self.counts = None
            self._title(session)
            self.opening_done()

    # A description given: Textual would otherwise repr every argument (thousands of tracks).
    @work(thread=True, exclusive=True, exit_on_error=False, group="files", description="check clip files")
    def _check_files(self, tracks: list[Track]) -> dict[str, str]:
        # After the tree is drawn: thousands of file headers are not worth a wait to open.
        return file_problems(tracks)

    def _files_checked(self, problems: dict[str, str]) -> None:
        """Mark the clips whose files cannot be played (their nodes, if made, and rows)."""
        if not problems:
            return
        self.clip_problems.update(problems)
        self.query_one("#tree", ClusterTree).mark_problems(problems)
        table = self.query_one("#tracks", TrackTable)
        if any(key in table.rows_by_key for key in problems):
            self._show_scope(self.query_one("#tree", ClusterTree).highlighted, force=True)

    def _loaded(self, start: SessionStart) -> None:
        """The session's start is read: the tree and list shown (empty) in this frame, the
        tree drawn in the next, the highlighted node's clips listed in the one after
        (``loaded`` then), the footer and the rest after."""
        session = start.session
        self.session = session
        session.index_tracks(session.batches)  # the start's few batches
        self.session_id = session.id
        older = start.missing
        self.counts = (len(start.order), start.clips) if older else None
        tree = self.query_one("#tree", ClusterTree)  # settling since on_mount

        def show_step() -> None:
            # Hidden in the screen's first frame (on_mount), in their places: shown empty in a
            # frame of their own, so the frames that fill them redraw only what they fill.
            tree.visible = True
            self.query_one("#tracks", TrackTable).visible = True
            self._title(session)

        def tree_step() -> None:
            tree.show_session(session, self.clip_problems, order=start.order)
            if self.generating and self.job is not None:
                self._show_pending(self.job)
            remembered = self.app.selection_memory.get(session.id)
            self._reselect(remembered, list_it=False)
            shown = tree.highlighted
            if older and remembered is not None and (shown is None or shown.key != remembered):
                self._select_later = (remembered, shown.key if shown is not None else None)
            tree.focus()

        def list_step() -> None:
            if self.generating and self.job is not None and "pending" not in tree.nodes_by_key:
                self._show_pending(self.job)  # a batch started since the tree was drawn
            self._show_scope(tree.highlighted, force=True)
            self.loaded = True

        def settled() -> None:
            # The tree, list and footer drawn before anything else runs.
            self.settle(then=lambda: self._after_drawn(session, older))

        self.in_frames(show_step, tree_step, list_step, settled)

    def _after_drawn(self, session: Session, older: list[uuid.UUID]) -> None:
        self._check_files(list(session.tracks))
        if older:
            self._load_older(session.id, older)
        else:
            self.opening_done()
        self.curation_shown(session)
        self.call_after_refresh(self._premount_panel)  # in a frame of its own, before a batch needs it

    def opening_done(self) -> None:
        """The session is read whole, could not be read, or the screen is leaving: full
        collections may run again, and what the opening built is settled out of their
        sight (``QuietCollector``). Once per opening."""
        if self.opening_held:
            self.opening_held = False
            self.app.collector.release()
            self.app.collector.settle()

    def _title(self, session: Session | None) -> None:
        title = self.query_one("#session-title", Static)
        if session is None:
            job = self.job or self.first_job
            text = shorten(job.brief, 100) if job is not None and job.brief else "Loading…"
            title.update(Content.assemble(("New session", "bold"), "   ", (text, "dim")), layout=False)
            return
        parts: list[str | tuple[str, str]] = [(shorten(session.title, 80), "bold")]
        if session.name:
            parts += ["   ", (shorten(session.brief_text, 60), "dim")]
        batches, clips = self.counts or (len(session.batches), len(session.tracks))
        parts.append((f"   {plural(batches, 'batch', 'batches')} · {plural(clips, 'clip')}", "dim"))
        title.update(Content.assemble(*parts), layout=False)
