"""Measuring a seam: is there a step in level or spectrum where two windows meet?

A step at a seam is the difference between the mean short-window level (RMS in
dB) or spectral centroid over ``span`` seconds before the seam region and over
``span`` seconds after it. The clip's own variation is the same measure taken at
every other place of the clip (each place of the seam's width that is not a
seam); a seam passes when its step is no larger than the
largest the clip shows by itself away from its seams.
"""

from __future__ import annotations

import numpy as np

FRAME_SEC = 0.05


def _frames(samples: np.ndarray, rate: int) -> np.ndarray:
    mono = samples if samples.ndim == 1 else samples.mean(axis=0 if samples.shape[0] <= 8 else 1)
    size = int(FRAME_SEC * rate)
    count = mono.shape[0] // size
    return mono[: count * size].reshape(count, size).astype(np.float64)


def level_db(samples: np.ndarray, rate: int) -> np.ndarray:
    frames = _frames(samples, rate)
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-10)


def centroid_hz(samples: np.ndarray, rate: int) -> np.ndarray:
    frames = _frames(samples, rate) * np.hanning(_frames(samples, rate).shape[1])
    spectrum = np.abs(np.fft.rfft(frames, axis=1))
    freqs = np.fft.rfftfreq(frames.shape[1], 1.0 / rate)
    return (spectrum @ freqs) / (spectrum.sum(axis=1) + 1e-12)


def _step(series: np.ndarray, start: float, end: float, span: float) -> float:
    a0, a1 = int((start - span) / FRAME_SEC), int(start / FRAME_SEC)
    b0, b1 = int(np.ceil(end / FRAME_SEC)), int(np.ceil((end + span) / FRAME_SEC))
    return abs(float(series[b0:b1].mean() - series[a0:a1].mean()))


def seam_report(
    samples: np.ndarray, rate: int, seams: list[tuple[float, float]], span: float = 1.0
) -> dict[str, tuple[list[float], float]]:
    """For level and centroid: (the step at each seam (start, end) in seconds, the largest step elsewhere)."""
    duration = (samples.shape[-1] if samples.ndim == 1 else max(samples.shape)) / rate
    report: dict[str, tuple[list[float], float]] = {}
    for name, series in (("level", level_db(samples, rate)), ("centroid", centroid_hz(samples, rate))):
        at_seams = [_step(series, start, end, span) for start, end in seams]
        width = max((end - start for start, end in seams), default=0.0)
        elsewhere = []
        position = span
        while position + width + span < duration - FRAME_SEC:
            if all(position + width <= start or position >= end for start, end in seams):
                elsewhere.append(_step(series, position, position + width, span))
            position += 0.25
        report[name] = (at_seams, max(elsewhere))
    return report


def assert_seamless(samples: np.ndarray, rate: int, seams: list[tuple[float, float]]) -> None:
    for name, (at_seams, own) in seam_report(samples, rate, seams).items():
        assert max(at_seams) <= own, f"{name} steps at the seams {at_seams} exceed the clip's own {own}"


def _places(duration: float, width: float, span: float) -> list[tuple[float, float]]:
    places, position = [], span
    while position + width + span < duration - FRAME_SEC:
        places.append((position, position + width))
        position += 0.25
    return places


def excess_over_music(
    samples: np.ndarray,
    music: np.ndarray,
    other_take: np.ndarray,
    rate: int,
    seams: list[tuple[float, float]],
    span: float = 1.0,
) -> dict[str, tuple[list[float], float]]:
    """Where the music itself changes at a seam, the seam may too: for level and centroid,
    (how far each seam's step departs from the music's own step there, the most an
    unrelated take of the same music departs from it anywhere)."""
    width = max(end - start for start, end in seams)
    duration = samples.shape[-1] / rate
    report: dict[str, tuple[list[float], float]] = {}
    for name, measure in (("level", level_db), ("centroid", centroid_hz)):
        clip, reference, take = measure(samples, rate), measure(music, rate), measure(other_take, rate)
        at_seams = [abs(_step(clip, s, e, span) - _step(reference, s, e, span)) for s, e in seams]
        floor = max(
            abs(_step(take, s, e, span) - _step(reference, s, e, span))
            for s, e in _places(duration, width, span)
        )
        report[name] = (at_seams, floor)
    return report
