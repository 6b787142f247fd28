"""Which audio stream of a scene carries the dialogue.

Lab deliveries often hold several audio streams (the full mix, a music-and-effects stem,
a commentary, other languages). The dub uses one: the one the user names
(``--audio-stream N``, the N-th audio stream counting from 0, as ffmpeg's ``0:a:N``), or
else the first whose opening :data:`PROBE_S` seconds hold speech in at least
:data:`MIN_SPEECH_SHARE` of Silero VAD's 32 ms windows (so an M&E stem placed first is
passed over), or else the one with the most speech.
"""

from __future__ import annotations

import os

import numpy as np

from dubpreview.errors import DubError
from dubpreview.media.probe import AudioStream, MediaInfo, file_identity

PROBE_S = 120.0
"""Seconds decoded from the start of each stream to look for speech."""
MIN_SPEECH_SHARE = 0.1
"""Share of VAD windows with speech probability > 0.5 that makes a stream dialogue-bearing."""


def describe(stream: AudioStream, n: int) -> str:
    """``"1: eng, aac, 2 ch"`` for messages."""
    return f"{n}: {stream.language or 'no language'}, {stream.codec}, {stream.channels} ch"


def speech_share(path: str | os.PathLike, stream: AudioStream, seconds: float = PROBE_S) -> float:
    """Share of the first ``seconds`` of ``stream`` that Silero VAD hears as speech (0-1)."""
    import ffmpeg as ffmpeg_python

    from dubpreview.asr.vad import speech_probabilities
    from dubpreview.media.ffmpeg import run

    graph = ffmpeg_python.input(str(path), t=seconds).output(
        "pipe:", map=f"0:{stream.index}", format="f32le", acodec="pcm_f32le", ac=1, ar=16000)
    raw = run(graph, f"decode audio stream {stream.index} of {path}", capture_stdout=True)
    audio = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if audio.size < 16000:
        return 0.0
    return float(np.mean(speech_probabilities(audio) > 0.5))


def dialogue_stream(path: str | os.PathLike, info: MediaInfo, requested: int | None = None
                    ) -> tuple[AudioStream, str | None]:
    """The audio stream to dub and, when there was a choice, a one-line note saying which
    and how to choose another.

    Raises:
        DubError: ``requested`` is not one of the scene's audio streams.
    """
    streams = info.audio
    if requested is not None:
        if not 0 <= requested < len(streams):
            listing = "; ".join(describe(s, i) for i, s in enumerate(streams))
            raise DubError(f"the scene has {len(streams)} audio stream(s) ({listing}); "
                           f"--audio-stream takes 0-{len(streams) - 1}, not {requested}")
        return streams[requested], None
    if len(streams) <= 1:
        return streams[0], None
    key = file_identity(path)
    if key is not None and key in _chosen:  # a re-render in the same process does not listen again
        return _chosen[key]
    shares = []
    for i, stream in enumerate(streams):
        share = speech_share(path, stream)
        shares.append(share)
        if share >= MIN_SPEECH_SHARE:
            break
    best = int(np.argmax(shares)) if max(shares) < MIN_SPEECH_SHARE else len(shares) - 1
    note = (f"the scene has {len(streams)} audio streams; dubbing stream {describe(streams[best], best)} "
            f"(speech in {shares[best] * 100:.0f} % of its first {PROBE_S:.0f} s"
            + (", the most of all" if max(shares) < MIN_SPEECH_SHARE else "")
            + "); choose another with --audio-stream N")
    if key is not None:
        _chosen[key] = (streams[best], note)
    return streams[best], note


_chosen: dict[tuple, tuple[AudioStream, str]] = {}
"""The automatic choice per file identity (:func:`~dubpreview.media.probe.file_identity`)."""
