"""The detail of one clip: where it came from, what it sounds like, where it is.

Filled in two steps: at once from the session the screen holds (brief, prompt,
seed, engine, marks, path), then from a worker that reads the file's header and
the stored analysis, computing and storing what is missing (tempo, key, loudness).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Any

from textual.content import Content
from textual.widgets import Static

from core.curation_models import ClipAnalysis, Curation
from core.models import Batch, Track
from core.prompt import brief_of
from core.text import shown_line
from tui.formatting import duration, shorten

LABEL_WIDTH = 10
VALUE_WIDTH = 60  # one line each in the 120-column layout


@dataclass(frozen=True)
class ClipFacts:
    """What the worker found out about a clip's file (``analysis`` None: not known)."""

    track_id: uuid.UUID
    rate: int | None
    channels: int | None
    analysis: ClipAnalysis | None
    problem: str | None = None  # the file cannot be read: why


def clip_facts(store: Any, track: Track) -> ClipFacts:
    """The file's rate and channels and the clip's tempo, key and loudness.

    The stored analysis when there is one; else the engine's own tempo and key (or an
    estimate from the audio) and the measured loudness, stored for next time. Slow:
    call it in a worker.
    """
    import soundfile

    from core.audio import clip_file_problem, read_audio
    from core.audio.analysis import engine_tempo_key, estimate_tempo_key
    from core.audio.loudness import integrated_lufs, true_peak_dbtp

    problem = clip_file_problem(track.path)
    if problem is not None:
        return ClipFacts(track.id, None, None, None, problem)
    info = soundfile.info(str(track.path))
    stored = store.get_analysis([track.id]).get(track.id)
    if stored is not None and stored.lufs is not None:
        return ClipFacts(track.id, int(info.samplerate), int(info.channels), stored)
    samples, rate = read_audio(track.path, mono=False)
    found = engine_tempo_key(track) or estimate_tempo_key(samples.mean(axis=1), rate)
    analysis = ClipAnalysis(
        bpm=found.bpm,
        key=found.key,
        source=found.source,
        lufs=_finite(integrated_lufs(samples, rate)),
        true_peak_dbtp=_finite(true_peak_dbtp(samples, rate)),
    )
    store.put_analysis(track.id, analysis)
    return ClipFacts(track.id, int(rate), int(samples.shape[1]), analysis)


def elide_left(text: str, width: int) -> str:
    """The end of a long path (its file and folder names matter most), "…" in front."""
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


class ClipDetail(Static):
    """Shown under the track list (``i``); one clip at a time."""

    DEFAULT_CSS = """
    ClipDetail {
        height: auto;
        border: round $panel-lighten-2;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.track_id: uuid.UUID | None = None
        self.facts: ClipFacts | None = None
        self._parts: tuple[Batch, Track, str, Curation, str] | None = None

    def show_clip(self, batch: Batch, track: Track, label: str, curation: Curation, generated: str) -> None:
        """What the session knows at once; the file's facts follow (``set_facts``)."""
        if track.id != self.track_id:
            self.facts = None
        self.track_id = track.id
        self._parts = (batch, track, label, curation, generated)
        self._draw()

    def show_nothing(self, why: str) -> None:
        self.track_id = None
        self._parts = None
        self.facts = None
        self.update(Content.styled(why, "dim"))

    def set_facts(self, facts: ClipFacts) -> None:
        if facts.track_id == self.track_id:
            self.facts = facts
            self._draw()

    def _draw(self) -> None:
        if self._parts is None:
            return
        batch, track, label, curation, generated = self._parts
        facts = self.facts
        lines: list[Content] = []

        def line(name: str, *value: str | tuple[str, str]) -> None:
            lines.append(Content.assemble((f"{name:<{LABEL_WIDTH}}", "bold"), *value))

        title: list[str | tuple[str, str]] = [
            (f"Clip #{track.position + 1}", "bold"),
            "  ",
            (shown_line(label), "bold $text-accent"),
        ]
        if generated and generated != label:
            title.append((f"   named by you; generated: {shown_line(generated)}", "dim"))
        lines.append(Content.assemble(*title))
        line("Brief", shorten(brief_of(batch.prompt_text), VALUE_WIDTH))
        line("Prompt", (shorten(track.raw_prompt, VALUE_WIDTH), "italic"))
        seed = batch.seed if batch.seed is not None else track.seed
        if seed is not None:
            line(
                "Seed",
                (str(seed), "bold"),
                (f" · clip {track.seed}" if track.seed is not None and track.seed != seed else "", "dim"),
            )
            line("", ("the same brief with this number makes the batch again exactly", "dim"))
        else:
            line("Seed", ("not recorded (an imported clip)", "dim"))
        line("Engine", shown_line(batch.engine or "—"), (" · model ", "dim"), shown_line(batch.model or "—"))
        audio: list[str | tuple[str, str]] = [duration(track.duration_sec)]
        if facts is not None and facts.rate is not None:
            channels = {1: "mono", 2: "stereo"}.get(facts.channels or 0, f"{facts.channels} channels")
            audio.append(f" · {facts.rate} Hz · {channels}")
        elif facts is not None and facts.problem:
            audio.append((f" · file {facts.problem}", "dim italic"))
        else:
            audio.append((" · reading…", "dim"))
        line("Audio", *audio)
        line("Tempo/key", *self._tempo_key(facts))
        line("Loudness", *self._loudness(facts))
        line("Marks", *self._marks(curation))
        line("File", elide_left(shown_line(str(track.path)), VALUE_WIDTH - 13), ("  y copies it", "dim"))
        self.update(Content("\n").join(lines))

    @staticmethod
    def _tempo_key(facts: ClipFacts | None) -> list[str | tuple[str, str]]:
        if facts is None:
            return [("estimating…", "dim")]
        analysis = facts.analysis
        if analysis is None:
            return [("unknown", "dim")]
        parts: list[str | tuple[str, str]] = []
        parts.append(f"{analysis.bpm:.0f} BPM" if analysis.bpm is not None else "tempo unknown")
        parts.append(f" · {shown_line(analysis.key)}" if analysis.key else " · key unknown")
        source = "the engine's own values" if analysis.source == "engine" else "estimated from the audio"
        parts.append((f"  {source}", "dim"))
        return parts

    @staticmethod
    def _loudness(facts: ClipFacts | None) -> list[str | tuple[str, str]]:
        analysis = facts.analysis if facts is not None else None
        if analysis is None or analysis.lufs is None:
            return [("measuring…" if facts is None else "unknown", "dim")]
        parts: list[str | tuple[str, str]] = [f"{analysis.lufs:.1f} LUFS"]
        if analysis.true_peak_dbtp is not None:
            parts.append(f" · true peak {analysis.true_peak_dbtp:.1f} dBTP")
        return parts

    @staticmethod
    def _marks(curation: Curation) -> list[str | tuple[str, str]]:
        parts: list[str | tuple[str, str]] = []
        if curation.kept:
            parts.append(("★ kept  ", "bold $text-warning"))
        if curation.rating is not None:
            parts.append(f"rated {curation.rating}/5  ")
        if curation.discarded:
            parts.append(("discarded (hidden)  ", "dim"))
        if curation.tags:
            parts.append(("#" + " #".join(shown_line(t) for t in curation.tags) + "  ", "italic"))
        if curation.note:
            parts.append(shorten(curation.note, 80))
        return parts or [("none yet: s keeps, 1-5 rate, x discards", "dim")]
