"""Voice activity detection with Silero VAD (ONNX, run by onnxruntime).

The model is ``data/silero_vad.onnx`` from the ``silero-vad`` wheel (MIT,
snakers4/silero-vad; see ``models/registry.py`` ``"silero-vad"``). It is a recurrent
network that scores each 512-sample window (32 ms at 16 kHz), seeing the previous 64
samples as context, with a state of shape ``(2, 1, 128)`` carried from window to window.

:func:`speech_regions` turns the per-window probabilities into speech regions with the
same hysteresis as the package's ``get_speech_timestamps`` (``silero_vad/utils_vad.py``):
speech starts at a window scoring ``>= threshold`` and ends once the score stays below
``threshold - 0.15`` for ``min_silence_s``; regions shorter than ``min_speech_s`` are
dropped; each region is padded by ``pad_s`` and, where two padded regions would overlap,
the gap between them is shared half and half.

The ``silero_vad`` Python package itself is not imported: importing it imports torch and
calls ``torch.set_num_threads(1)`` for the whole process.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import numpy as np

from dubpreview.asr.base import SAMPLE_RATE
from dubpreview.errors import BackendUnavailable
from dubpreview.records import mono_float32
from dubpreview.models.registry import SOURCES

WINDOW = 512
"""Samples per scored window (32 ms at 16 kHz)."""
CONTEXT = 64
"""Samples of the previous window prepended to each window."""

_session = None
_lock = threading.Lock()


def model_path() -> Path:
    """Path of the bundled Silero ONNX file, found without importing ``silero_vad``.

    Raises:
        BackendUnavailable: the ``silero-vad`` package is not installed.
    """
    src = SOURCES["silero-vad"]
    spec = importlib.util.find_spec(src.packages[0])
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailable("voice activity detection needs the 'silero-vad' package; pip install silero-vad")
    path = Path(list(spec.submodule_search_locations)[0]) / src.files[0]
    if not path.exists():
        raise BackendUnavailable(f"'{src.files[0]}' is missing from the installed silero-vad package; reinstall it")
    return path


def _get_session():
    """The onnxruntime session, created once per process (single-threaded: the model is tiny)."""
    global _session
    with _lock:
        if _session is None:
            try:
                import onnxruntime
            except ImportError:
                raise BackendUnavailable("voice activity detection needs onnxruntime; "
                                         "pip install onnxruntime") from None
            opts = onnxruntime.SessionOptions()
            opts.intra_op_num_threads = 1
            opts.inter_op_num_threads = 1
            _session = onnxruntime.InferenceSession(str(model_path()), sess_options=opts,
                                                    providers=["CPUExecutionProvider"])
        return _session


def speech_probabilities(audio: np.ndarray) -> np.ndarray:
    """Speech probability per 512-sample window.

    Args:
        audio: float32 samples in [-1, 1], shape ``(n,)``, 16 kHz mono.

    Returns:
        float32 array of shape ``(ceil(n / 512),)``; entry ``i`` scores samples
        ``[512 i, 512 (i + 1))`` (the last window zero-padded).

    Raises:
        DubError: the audio is not one-dimensional.
        BackendUnavailable: silero-vad or onnxruntime is missing.
    """
    audio = mono_float32(audio, "speech detection")
    n_windows = -(-len(audio) // WINDOW)
    if n_windows == 0:
        return np.zeros(0, dtype=np.float32)
    padded = np.zeros(CONTEXT + n_windows * WINDOW, dtype=np.float32)
    padded[CONTEXT:CONTEXT + len(audio)] = audio
    session = _get_session()
    with _lock:  # the recurrent state makes one scene one sequential pass
        state = np.zeros((2, 1, 128), dtype=np.float32)
        sr = np.array(SAMPLE_RATE, dtype=np.int64)
        probs = np.empty(n_windows, dtype=np.float32)
        for i in range(n_windows):
            a = i * WINDOW
            x = padded[a:a + CONTEXT + WINDOW][None, :]
            out, state = session.run(None, {"input": x, "state": state, "sr": sr})
            probs[i] = out[0, 0]
    return probs


def regions_from_probabilities(probs: np.ndarray, n_samples: int, threshold: float = 0.5,
                               min_silence_s: float = 0.5, min_speech_s: float = 0.25,
                               pad_s: float = 0.2) -> list[tuple[float, float]]:
    """Speech regions ``(start, end)`` in seconds from per-window probabilities.

    ``probs`` as returned by :func:`speech_probabilities` for ``n_samples`` samples at
    16 kHz; thresholds as described in the module docstring. Regions are sorted, do not
    overlap and lie within ``[0, n_samples / 16000]``.
    """
    neg_threshold = max(threshold - 0.15, 0.01)
    min_silence = min_silence_s * SAMPLE_RATE
    raw: list[list[int]] = []
    start: int | None = None
    silence_from: int | None = None
    for i, p in enumerate(probs):
        pos = i * WINDOW
        if p >= threshold:
            silence_from = None
            if start is None:
                start = pos
        elif start is not None and p < neg_threshold:
            if silence_from is None:
                silence_from = pos
            if pos - silence_from >= min_silence:
                raw.append([start, silence_from])
                start = silence_from = None
    if start is not None:
        raw.append([start, n_samples if silence_from is None else silence_from])
    raw = [r for r in raw if r[1] - r[0] >= min_speech_s * SAMPLE_RATE]
    return _pad(raw, n_samples, int(pad_s * SAMPLE_RATE))


def _pad(raw: list[list[int]], n_samples: int, pad: int) -> list[tuple[float, float]]:
    """Pad sample regions by ``pad`` each side, sharing gaps shorter than ``2 * pad``."""
    out: list[tuple[float, float]] = []
    for k, (a, b) in enumerate(raw):
        prev_end = raw[k - 1][1] if k > 0 else None
        next_start = raw[k + 1][0] if k + 1 < len(raw) else None
        lo = max(0, a - pad) if prev_end is None else max(a - pad, (prev_end + a) // 2)
        hi = min(n_samples, b + pad) if next_start is None else min(b + pad, (b + next_start) // 2)
        out.append((round(lo / SAMPLE_RATE, 3), round(min(hi, n_samples) / SAMPLE_RATE, 3)))
    return out


def speech_regions(audio: np.ndarray, min_silence_s: float = 0.5, pad_s: float = 0.2,
                   threshold: float = 0.5, min_speech_s: float = 0.25) -> list[tuple[float, float]]:
    """Where people speak in ``audio``.

    Args:
        audio: float32 samples in [-1, 1], shape ``(n,)``, 16 kHz mono.
        min_silence_s: a pause must last this long (seconds) to split two regions.
        pad_s: seconds added before and after each region (never past a neighbour's
            half of the gap, nor past the audio's ends).
        threshold: speech probability in (0, 1) that starts a region.
        min_speech_s: regions shorter than this (seconds, before padding) are dropped.

    Returns:
        Sorted, non-overlapping ``(start, end)`` pairs in seconds from the start of
        ``audio``; empty for silence or noise.

    Raises:
        DubError: the audio is not one-dimensional.
        BackendUnavailable: silero-vad or onnxruntime is missing.
    """
    audio = mono_float32(audio, "speech detection")
    probs = speech_probabilities(audio)
    return regions_from_probabilities(probs, len(audio), threshold=threshold, min_silence_s=min_silence_s,
                                      min_speech_s=min_speech_s, pad_s=pad_s)
