"""What ``sessionlab recover`` brought back, could not bring back, and noted (core.recovery)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.text import shown_line


@dataclass
class RecoveryReport:
    sessions: list[dict[str, Any]] = field(default_factory=list)  # sessions whose row was rebuilt
    batches: list[dict[str, Any]] = field(default_factory=list)  # batches rebuilt
    clips: int = 0
    files_restored: int = 0  # kept-aside files moved back because a row names them
    curation: int = 0  # curation entries (marks, cluster names, preferences) brought back
    problems: list[str] = field(default_factory=list)  # what could not be brought back
    notes: list[str] = field(default_factory=list)  # worth knowing, not a problem
    seconds: float = 0.0

    def lines(self) -> list[str]:
        out = []
        for s in self.sessions:
            out.append(f"recovered session {s['id']}  {shown_line(s['title'])[:60]}")
        for b in self.batches:
            out.append(
                f"recovered batch {b['id']} of session {b['session_id'][:8]}: {_count(b['clips'], 'clip')}, "
                f"{_count(b['clusters'], 'cluster')} (from {b['source']})"
            )
        if self.files_restored:
            out.append(f"moved {self.files_restored} kept-aside files back where their rows expect them")
        if self.curation:
            out.append(
                f"brought back {_count(self.curation, 'curation record')} (marks, cluster names, preferences)"
            )
        out.extend(f"could not recover: {p}" for p in self.problems)
        out.extend(f"note: {n}" for n in self.notes)
        nothing = not (self.sessions or self.batches or self.files_restored or self.curation or self.problems)
        if nothing and self.notes:
            out.append("Nothing to recover.")
        elif nothing:
            out.append(
                "Nothing to recover: the database knows every batch found beside the audio and in the backups."
            )
        else:
            out.append(
                f"Recovered {_count(len(self.sessions), 'session')}, {_count(len(self.batches), 'batch')}, "
                f"{_count(self.clips, 'clip')}; {_count(len(self.problems), 'problem')}."
            )
        return out

    def document(self) -> dict[str, Any]:
        return {
            "sessions": self.sessions,
            "batches": self.batches,
            "clips": self.clips,
            "files_restored": self.files_restored,
            "curation": self.curation,
            "problems": self.problems,
            "notes": self.notes,
            "seconds": round(self.seconds, 3),
        }


def _count(n: int, noun: str) -> str:
    plural = noun + ("es" if noun.endswith("ch") else "s")
    return f"{n} {noun if n == 1 else plural}"
