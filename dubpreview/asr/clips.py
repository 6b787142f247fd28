"""Clip geometry for Whisper: the speech clips as Whisper's ``clip_timestamps``, the audio
that language identification hears, and the windows a scene is decoded in (bounded
feature memory for long scenes, context windows for speech translation). Pure functions of
seconds and sample counts."""

from __future__ import annotations

import numpy as np

from dubpreview.asr.base import SAMPLE_RATE

CONTEXT_GAP_S = 1.5
"""Speech translation decodes the VAD clips joined across pauses up to this long
(:func:`context_windows`): Whisper was trained on 30 s windows holding several
utterances, and a line translated with its neighbours in the window is translated in
context. On four fillets-ng scenes, clip by clip scored chrF 32.5/30.6/26.5/28.0 (map,
cabin1, elevator1, cannons; beam 5), context windows 37.8/34.2/27.8/27.4 (``bench/content_results.md``)."""
CONTEXT_WINDOW_S = 28.0
"""Longest context window (seconds): inside one Whisper window of 30 s with room for the clip padding."""
LANGUAGE_ID_SECONDS = 30.0
"""Seconds of speech (regions joined) that language identification looks at: one Whisper window."""


MEL_HOP = 160
"""Samples per mel frame of Whisper's feature extractor (10 ms at 16 kHz)."""


def flat_clips(clips: list[tuple[float, float]], n_samples: int) -> list[float]:
    """``[start0, end0, start1, end1, ...]`` in seconds: Whisper's ``clip_timestamps`` for
    ``n_samples`` of 16 kHz audio. Each end is held to the audio's last whole mel frame
    (``n_samples // MEL_HOP``) and a clip left empty is dropped: openai-whisper rounds a clip
    end to frames and loops forever when that is past the audio's content frames (a window of
    0 frames never advances its seek; found on a LibriVox clip whose VAD region ended at the
    audio's end, 6.928 s -> frame 693 of 692)."""
    last = (n_samples // MEL_HOP) * MEL_HOP / SAMPLE_RATE
    held = [(start, min(end, last)) for start, end in clips]
    return [t for start, end in held if round(start * SAMPLE_RATE / MEL_HOP) < round(end * SAMPLE_RATE / MEL_HOP)
            for t in (start, end)]


def language_id_audio(audio: np.ndarray, clips: list[tuple[float, float]],
                      seconds: float = LANGUAGE_ID_SECONDS) -> np.ndarray:
    """The first ``seconds`` of speech: the clips' samples joined, float32 ``(m,)`` at 16 kHz."""
    parts, total = [], 0
    limit = int(seconds * SAMPLE_RATE)
    for start, end in clips:
        part = audio[int(start * SAMPLE_RATE):int(end * SAMPLE_RATE)]
        parts.append(part[:limit - total])
        total += len(parts[-1])
        if total >= limit:
            break
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


DECODE_WINDOW_S = 600.0
"""Longest stretch of audio handed to the backend at once (seconds). Both Whisper backends
compute the log-mel features of all they are given in one piece (faster-whisper's numpy
STFT held about 3 GB for an hour of audio: ``bench/long_scene.py``), so a longer scene is
decoded window by window, each cut between two speech clips (in silence)."""


def decode_windows(clips: list[tuple[float, float]], window_s: float = DECODE_WINDOW_S
                   ) -> list[tuple[float, float, list[tuple[float, float]]]]:
    """Group the speech ``clips`` (seconds, sorted) into windows ``(start, end, clips)``
    of at most ``window_s`` each (a single clip longer than that is a window of its own);
    every clip is in exactly one window and windows never cut a clip."""
    out: list[tuple[float, float, list[tuple[float, float]]]] = []
    for s, e in clips:
        if out and e - out[-1][0] <= window_s:
            out[-1][2].append((s, e))
            out[-1] = (out[-1][0], e, out[-1][2])
        else:
            out.append((s, e, [(s, e)]))
    return out


def context_windows(clips: list[tuple[float, float]], gap_s: float = CONTEXT_GAP_S,
                    window_s: float = CONTEXT_WINDOW_S) -> list[tuple[float, float]]:
    """The speech ``clips`` (seconds, sorted) joined into longer clips wherever the pause
    between two is at most ``gap_s`` and the joined clip stays within ``window_s`` (a clip
    longer than that on its own stays as it is). Every clip lies inside exactly one window
    and the windows keep the clips' order. What speech translation decodes (see
    :data:`CONTEXT_GAP_S`). Pure."""
    out: list[tuple[float, float]] = []
    for s, e in clips:
        if out and s - out[-1][1] <= gap_s and e - out[-1][0] <= window_s:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out
