"""The fixed analysis matrices of ``features-v1`` (window, mel, DCT, chroma, contrast bands),
built once per process, and the allocator tuning every features analysis starts with."""

from __future__ import annotations

import math
import sys
import threading

import numpy as np

from core.providers.features.v1_constants import CONTRAST_EDGES_HZ, FRAME, SR

_allocator_tuned = False


def tune_allocator() -> None:
    """Keep large numpy temporaries in the heap instead of fresh mmap'd pages (glibc only).

    glibc serves allocations above 128 KiB - every 10 s clip buffer - with mmap
    and unmaps them on free, so each new temporary page-faults on first touch:
    on this 2-core VM that was 3-5 ms per FFT step, more than the FFT itself.
    Raising the mmap and trim thresholds keeps such blocks for reuse. Called on
    the first analysis or render; a no-op elsewhere (musl, macOS, Windows).
    """
    global _allocator_tuned
    if _allocator_tuned:
        return
    _allocator_tuned = True
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 64 << 20)
        libc.mallopt(m_trim_threshold, 128 << 20)
    except (OSError, AttributeError):
        pass


# ---------------------------------------------------------------------------
# Fixed analysis matrices, built once
# ---------------------------------------------------------------------------


class _Bank:
    def __init__(self) -> None:
        freqs = np.fft.rfftfreq(FRAME, 1.0 / SR)
        self.freqs = freqs
        self.freqs_sq = freqs**2
        self.window = np.sin(np.pi * (np.arange(FRAME) + 0.5) / FRAME)
        self.flat_bins = slice(2, int(15_000 / (SR / FRAME)))
        edges = [max(1, int(hz / (SR / FRAME))) for hz in CONTRAST_EDGES_HZ]
        self.contrast_first, self.contrast_last = edges[0], edges[-1]
        self.contrast_starts = np.array(edges[:-1]) - edges[0]
        self.contrast_sizes = np.diff(edges).astype(np.float64)
        self.mel = self._mel_matrix(freqs, 32, 30.0, 15_000.0)
        n_mel = self.mel.shape[1]
        k = np.arange(n_mel)
        dct = np.cos(np.pi / n_mel * (k[:, None] + 0.5) * np.arange(13)[None, :]) * math.sqrt(2.0 / n_mel)
        self.dct = dct
        self.chroma = self._chroma_matrix(freqs)

    @staticmethod
    def _mel_matrix(freqs: np.ndarray, bands: int, low: float, high: float) -> np.ndarray:
        def mel(f: np.ndarray | float) -> np.ndarray:
            return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

        edges = 700.0 * (10 ** (np.linspace(mel(low), mel(high), bands + 2) / 2595.0) - 1.0)
        matrix = np.zeros((freqs.shape[0], bands))
        for b in range(bands):
            lo, mid, hi = edges[b], edges[b + 1], edges[b + 2]
            rise = (freqs - lo) / max(mid - lo, 1e-9)
            fall = (hi - freqs) / max(hi - mid, 1e-9)
            matrix[:, b] = np.clip(np.minimum(rise, fall), 0.0, None)
            if matrix[:, b].sum() == 0.0:  # narrow low bands: take the nearest bin
                matrix[int(np.argmin(np.abs(freqs - mid))), b] = 1.0
            matrix[:, b] /= matrix[:, b].sum()
        return matrix

    @staticmethod
    def _chroma_matrix(freqs: np.ndarray) -> np.ndarray:
        matrix = np.zeros((freqs.shape[0], 12))
        usable = (freqs >= 100.0) & (freqs <= 4000.0)
        midi = 69.0 + 12.0 * np.log2(np.maximum(freqs, 1.0) / 440.0)
        for pc in range(12):
            distance = np.abs(((midi - pc + 6.0) % 12.0) - 6.0)
            matrix[:, pc] = np.where(usable, np.exp(-0.5 * (distance / 0.5) ** 2), 0.0)
        return matrix


_bank: _Bank | None = None
_bank_lock = threading.Lock()


def _get_bank() -> _Bank:
    global _bank
    if _bank is None:
        tune_allocator()
        with _bank_lock:
            if _bank is None:
                _bank = _Bank()
    return _bank
