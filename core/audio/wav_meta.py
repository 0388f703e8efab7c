"""Files a DAW and a sample browser understand: 24-bit WAV with Broadcast WAV
(``bext``, EBU Tech 3285 v2), ``iXML``, ``acid`` and ``smpl`` chunks, or
24-bit FLAC with Vorbis comments.

The WAV is laid out here, chunk by chunk (libsndfile writes none of iXML, acid
or a free smpl): ``fmt `` (PCM, or WAVE_FORMAT_EXTENSIBLE above two channels),
``bext``, ``iXML``, ``acid``, ``smpl``, then ``data``. Layouts:

- ``bext`` v2: Description 256, Originator 32, OriginatorReference 32,
  OriginationDate 10 (yyyy-mm-dd), OriginationTime 8 (hh:mm:ss), TimeReference
  u64, Version u16 = 2, UMID 64, LoudnessValue, LoudnessRange,
  MaxTruePeakLevel, MaxMomentaryLoudness, MaxShortTermLoudness (i16, 1/100 of
  LUFS, LU or dBTP; 0x7FFF when not measured), 180 reserved, CodingHistory.
  Text is ASCII (the standard says so): other letters are folded or dropped.
- ``acid`` (Sonic Foundry ACID, 24 bytes, as libsndfile reads it): flags u32
  (0x01 one-shot, 0x02 root note set, 0x04 stretch), root note u16 (0x30 = C
  .. 0x3B = B), u16 0x8000, f32 0, beats u32, meter denominator u16, meter
  numerator u16, tempo f32.
- ``smpl`` (the MMA sampler chunk): manufacturer, product, sample period (ns),
  MIDI unity note, pitch fraction, SMPTE format, SMPTE offset, number of loops,
  sampler data (u32 each), then per loop: cue id, type (0 forward), start,
  end (inclusive sample frames), fraction, play count (0 = forever).

A clip with a known tempo is marked as a loop to stretch (acid) and loops
whole (smpl); without one it is a one-shot with no loop.
"""

from __future__ import annotations

import math
import struct
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from core.audio.loudness import LoudnessStats

ORIGINATOR = "Session Lab"
IXML_VERSION = "2.10"
PITCH_CLASSES = {
    name: pc
    for pc, names in enumerate(
        (
            ("C", "B#"),
            ("C#", "Db"),
            ("D",),
            ("D#", "Eb"),
            ("E", "Fb"),
            ("F", "E#"),
            ("F#", "Gb"),
            ("G",),
            ("G#", "Ab"),
            ("A",),
            ("A#", "Bb"),
            ("B", "Cb"),
        )
    )
    for name in names
}
_UNMEASURED = 0x7FFF
_ACID_ONE_SHOT, _ACID_ROOT_SET, _ACID_STRETCH = 0x01, 0x02, 0x04


@dataclass(frozen=True)
class ClipMetadata:
    """What goes inside an exported file besides the audio."""

    title: str  # the file's own name, without extension
    brief: str  # the musician's brief (bext description, FLAC DESCRIPTION)
    session: str  # the session's title (iXML PROJECT, FLAC ALBUM)
    cluster: str  # the cluster's label (iXML SCENE)
    take: int  # the clip's number within the export (iXML TAKE, FLAC TRACKNUMBER)
    created: datetime  # when the clip was made (bext origination date and time)
    reference: str = ""  # bext OriginatorReference: the clip id, 32 hex digits
    bpm: float | None = None
    key: str | None = None  # "A minor", "F# major"
    comment: str = ""  # the musician's note
    fields: dict[str, str] = field(default_factory=dict)  # prompt, seed, engine, model, ids, curation...

    @property
    def root(self) -> int | None:
        """The key's tonic as a pitch class 0..11 (C = 0), or None."""
        if not self.key:
            return None
        return PITCH_CLASSES.get(self.key.split()[0])

    @property
    def loops(self) -> bool:
        return self.bpm is not None and self.bpm > 0


def ascii_text(text: str) -> str:
    """``text`` in printable ASCII: accents folded (é -> e), other letters and control characters dropped."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in folded if 32 <= ord(ch) < 127)


def _xml_text(text: str) -> str:
    # XML 1.0 admits no control characters but tab and newline.
    return "".join(ch for ch in str(text) if ch in "\t\n" or (ord(ch) >= 32 and ch not in "\ufffe\uffff"))


def _fixed(text: str, size: int) -> bytes:
    return ascii_text(text).encode("ascii")[:size].ljust(size, b"\0")


def _centi(value: float | None) -> int:
    if value is None or not math.isfinite(value):
        return _UNMEASURED
    return int(max(-32768, min(32766, round(value * 100))))


def _chunk(name: bytes, payload: bytes) -> bytes:
    pad = b"\0" if len(payload) % 2 else b""
    return name + struct.pack("<I", len(payload)) + payload + pad


def bext_chunk(meta: ClipMetadata, rate: int, channels: int, loudness: LoudnessStats | None) -> bytes:
    stats = loudness
    fixed = struct.pack(
        "<256s32s32s10s8sQH64s5h180s",
        _fixed(meta.brief, 256),
        _fixed(ORIGINATOR, 32),
        _fixed(meta.reference, 32),
        meta.created.strftime("%Y-%m-%d").encode("ascii"),
        meta.created.strftime("%H:%M:%S").encode("ascii"),
        0,
        2,
        b"\0" * 64,
        _centi(stats.integrated_lufs if stats else None),
        _centi(stats.loudness_range_lu if stats else None),
        _centi(stats.true_peak_dbtp if stats else None),
        _centi(stats.max_momentary_lufs if stats else None),
        _centi(stats.max_short_term_lufs if stats else None),
        b"\0" * 180,
    )
    mode = {1: "mono", 2: "stereo"}.get(channels, "multichannel")
    history = f"A=PCM,F={rate},W=24,M={mode},T={ascii_text(ORIGINATOR)}\r\n".encode("ascii")
    return _chunk(b"bext", fixed + history)


def ixml_chunk(meta: ClipMetadata) -> bytes:
    root = ET.Element("BWFXML")
    for tag, text in (
        ("IXML_VERSION", IXML_VERSION),
        ("PROJECT", meta.session),
        ("SCENE", meta.cluster),
        ("TAKE", str(meta.take)),
        ("NOTE", meta.comment or meta.brief),
        ("FILE_UID", meta.reference),
    ):
        ET.SubElement(root, tag).text = _xml_text(text)
    user = ET.SubElement(root, "USER")
    user.text = _xml_text("\n".join(f"{k}: {v}" for k, v in _all_fields(meta).items()))
    own = ET.SubElement(root, "SESSIONLAB")
    for key, value in _all_fields(meta).items():
        ET.SubElement(own, key.upper()).text = _xml_text(value)
    text = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return _chunk(b"iXML", text)


def _all_fields(meta: ClipMetadata) -> dict[str, str]:
    out = {"brief": meta.brief, "session": meta.session, "cluster": meta.cluster}
    if meta.bpm is not None:
        out["tempo"] = f"{meta.bpm:.2f}"
    if meta.key:
        out["key"] = meta.key
    out.update(meta.fields)
    return out


def beats_of(meta: ClipMetadata, frames: int, rate: int) -> int:
    if not meta.loops:
        return 0
    return max(1, round(frames / rate * float(meta.bpm or 0) / 60.0))


def acid_chunk(meta: ClipMetadata, frames: int, rate: int) -> bytes:
    flags = _ACID_STRETCH if meta.loops else _ACID_ONE_SHOT
    root = meta.root
    if root is not None:
        flags |= _ACID_ROOT_SET
    payload = struct.pack(
        "<IHHfIHHf",
        flags,
        0x30 + (root or 0),
        0x8000,
        0.0,
        beats_of(meta, frames, rate),
        4,
        4,
        float(meta.bpm or 0.0),
    )
    return _chunk(b"acid", payload)


def smpl_chunk(meta: ClipMetadata, frames: int, rate: int) -> bytes:
    root = meta.root
    loops = [(0, 0, 0, max(0, frames - 1), 0, 0)] if meta.loops and frames > 1 else []
    header = struct.pack(
        "<9I",
        0,
        0,
        int(round(1e9 / rate)),
        60 + (root if root is not None else 0),
        0,
        0,
        0,
        len(loops),
        0,
    )
    return _chunk(b"smpl", header + b"".join(struct.pack("<6I", *loop) for loop in loops))


def pcm24(samples: np.ndarray) -> bytes:
    """Interleaved little-endian 24-bit PCM of float samples (mono or (frames, channels))."""
    x = np.asarray(samples, dtype=np.float32)
    scaled = np.rint(x.reshape(-1) * np.float32(8388608.0))
    np.clip(scaled, -8388608.0, 8388607.0, out=scaled)
    ints = scaled.astype("<i4")
    return ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()


def _fmt_chunk(rate: int, channels: int) -> bytes:
    block = 3 * channels
    if channels <= 2:
        return _chunk(b"fmt ", struct.pack("<HHIIHH", 1, channels, rate, rate * block, block, 24))
    # WAVE_FORMAT_EXTENSIBLE: 24 valid bits, no speaker mask, the PCM sub-format GUID.
    guid = struct.pack("<IHH", 1, 0x0000, 0x0010) + bytes([0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71])
    payload = struct.pack("<HHIIHHHHI", 0xFFFE, channels, rate, rate * block, block, 24, 22, 24, 0) + guid
    return _chunk(b"fmt ", payload)


def wav_bytes(samples: np.ndarray, rate: int, meta: ClipMetadata, loudness: LoudnessStats | None) -> bytes:
    """A whole 24-bit Broadcast WAV with bext, iXML, acid and smpl chunks."""
    x = np.asarray(samples, dtype=np.float32)
    frames = x.shape[0]
    channels = 1 if x.ndim == 1 else x.shape[1]
    body = b"".join(
        (
            b"WAVE",
            _fmt_chunk(rate, channels),
            bext_chunk(meta, rate, channels, loudness),
            ixml_chunk(meta),
            acid_chunk(meta, frames, rate),
            smpl_chunk(meta, frames, rate),
            _chunk(b"data", pcm24(x)),
        )
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def vorbis_comments(meta: ClipMetadata, loudness: LoudnessStats | None) -> dict[str, str]:
    tags = {
        "TITLE": meta.title,
        "ALBUM": meta.session,
        "GROUPING": meta.cluster,
        "TRACKNUMBER": str(meta.take),
        "DATE": meta.created.strftime("%Y-%m-%d"),
        "DESCRIPTION": meta.brief,
        "COMMENT": meta.comment or meta.brief,
        "ENCODER": ORIGINATOR,
    }
    if meta.bpm is not None:
        tags["BPM"] = f"{meta.bpm:.2f}"
    if meta.key:
        tags["KEY"] = meta.key
    if loudness is not None:
        tags["LOUDNESS_LUFS"] = f"{loudness.integrated_lufs:.2f}"
        tags["TRUE_PEAK_DBTP"] = f"{loudness.true_peak_dbtp:.2f}"
    for key, value in meta.fields.items():
        tags[f"SESSIONLAB_{key.upper()}"] = value
    # Vorbis field names: printable ASCII without '='; values are UTF-8 and may hold any text.
    return {k: _xml_text(v) for k, v in tags.items()}


def write_flac(
    path: Path, samples: np.ndarray, rate: int, meta: ClipMetadata, loudness: LoudnessStats | None
) -> None:
    """24-bit FLAC at ``path`` (soundfile), then its Vorbis comments (mutagen)."""
    import soundfile as sf
    from mutagen.flac import FLAC

    sf.write(str(path), np.asarray(samples, dtype=np.float32), rate, format="FLAC", subtype="PCM_24")
    tagged = FLAC(str(path))
    for key, value in vorbis_comments(meta, loudness).items():
        tagged[key] = value
    tagged.save()
