"""Decoding a file's audio into memory at an exact sample rate and channel count.

Decoding goes through the ffmpeg binary (ffmpeg-python graph, raw ``f32le`` on a
pipe) rather than PyAV: one subprocess decodes, downmixes and resamples any input
ffmpeg reads with swresample's defaults (the same result as ``ffmpeg -ar -ac`` on the
command line), the flush of the resampler at the end of the stream is ffmpeg's job,
and the work runs outside the Python process (no GIL, memory returned on exit).
The cost is one process start (~50 ms).
"""

from __future__ import annotations

import os

import ffmpeg as ffmpeg_python
import numpy as np

from dubpreview.errors import DubError
from dubpreview.media.ffmpeg import run_to_array
from dubpreview.media.probe import file_identity, probe
from dubpreview.records import Audio

MAX_FIT_S = 0.02
"""Decoders and resamplers end a few samples off the container's stated duration (the
last AAC frame past the edit list, the resampler's filter tail); up to this many
seconds the result is cut or zero-padded to ``round(duration * sample_rate)`` samples."""


def load_audio(
    path: str | os.PathLike,
    sample_rate: int = 16000,
    channels: int = 1,
    stream_index: int | None = None,
) -> Audio:
    """Decode one audio stream of ``path`` to float32 PCM.

    Args:
        path: any file ffmpeg can read (video or audio).
        sample_rate: output rate in Hz.
        channels: output channel count (1 = downmix to mono).
        stream_index: the container's stream index (``AudioStream.index`` from
            :func:`~dubpreview.media.probe.probe`); None = the first audio stream.

    Returns:
        :class:`~dubpreview.records.Audio` at exactly ``sample_rate`` Hz; samples of
        shape ``(n,)`` when ``channels == 1``, else ``(n, channels)``, with
        ``n = round(stated stream duration * sample_rate)`` (see :data:`MAX_FIT_S`).

    Raises:
        DubError: the path is missing/a folder/empty/not media (from
            :func:`~dubpreview.media.probe.probe`, headers only: truncation is not
            checked here), the stream does not exist or is not audio, ffmpeg fails,
            or no sample comes out.
        ValueError: ``sample_rate`` or ``channels`` is not positive.
    """
    if sample_rate <= 0 or channels <= 0:
        raise ValueError(f"sample_rate and channels must be positive, got {sample_rate} Hz, {channels} channels")
    ident = file_identity(path)
    key = None if ident is None else (*ident, sample_rate, channels, stream_index)
    if key is not None and key in _recent:
        return Audio(_recent[key].copy(), sample_rate)
    stream = probe(path, scan=False).audio_stream(stream_index)
    graph = ffmpeg_python.input(str(path)).output(
        "pipe:", map=f"0:{stream.index}", format="f32le", acodec="pcm_f32le", ac=channels, ar=sample_rate
    )
    expected = round((stream.duration or 0) * sample_rate * 1.01) * channels
    samples = run_to_array(graph, f"decode the audio of {path}", "<f4", expected).astype(np.float32, copy=False)
    if samples.size == 0:
        raise DubError(f"could not decode the audio of {path}: no samples came out; check the file plays")
    if channels > 1:
        samples = samples[: samples.size - samples.size % channels].reshape(-1, channels)
    if stream.duration:
        samples = _fit_length(samples, round(stream.duration * sample_rate), round(MAX_FIT_S * sample_rate))
    if key is not None and samples.nbytes <= RECENT_MAX_BYTES:
        _recent[key] = samples.copy()
        while len(_recent) > RECENT:
            _recent.pop(next(iter(_recent)))
    return Audio(samples, sample_rate)


RECENT = 2
"""Decoded results kept in memory (the last scene at the ASR rate and at the mix rate), so a
re-render in the same process (the studio) does not decode the scene again."""
RECENT_MAX_BYTES = 256 << 20
"""Larger results (e.g. 10 min of 5.1 at 48 kHz, 0.7 GB) are not kept."""
_recent: dict[tuple, np.ndarray] = {}


def _fit_length(samples: np.ndarray, n: int, max_change: int) -> np.ndarray:
    """``samples`` cut or zero-padded to exactly ``n`` samples when that changes at most
    ``max_change`` samples; returned unchanged otherwise (the stated duration is off)."""
    diff = n - len(samples)
    if diff == 0 or abs(diff) > max_change:
        return samples
    if diff < 0:
        return samples[:n]
    pad = np.zeros((diff,) + samples.shape[1:], dtype=samples.dtype)
    return np.concatenate([samples, pad])


def decode_to_wav(path: str | os.PathLike, out: str | os.PathLike, sample_rate: int, channels: int,
                  stream_index: int | None = None) -> int:
    """Decode one audio stream of ``path`` into a 32-bit float WAV at ``out``, at
    ``sample_rate`` Hz with ``channels`` channels, cut or zero-padded to the stated duration
    as :func:`load_audio` does (:data:`MAX_FIT_S`). ffmpeg's raw output is read and written
    a block at a time (:func:`~dubpreview.media.ffmpeg.run_to_blocks`,
    :func:`~dubpreview.media.wav.write_wav`): the scene is never held whole, and a full
    disk is this process's own ``OSError``. ``out`` is overwritten (give a temporary path).
    Returns the number of samples per channel.

    Raises:
        DubError: as :func:`load_audio`.
        OSError: the disk is full or the file too large.
    """
    from dubpreview.media.ffmpeg import run_to_blocks
    from dubpreview.media.wav import write_wav

    stream = probe(path, scan=False).audio_stream(stream_index)
    graph = ffmpeg_python.input(str(path)).output(
        "pipe:", map=f"0:{stream.index}", format="f32le", acodec="pcm_f32le", ac=channels, ar=sample_rate
    )
    n = round(stream.duration * sample_rate) if stream.duration else None
    slack = round(MAX_FIT_S * sample_rate)
    count = [0]

    def fitted():
        held = np.zeros((0, channels), np.float32)  # the last samples, kept back until the end is known
        for block in run_to_blocks(graph, f"decode the audio of {path}", "<f4", channels):
            held = np.concatenate([held, block])
            if len(held) > slack:
                yield held[: len(held) - slack]
                count[0] += len(held) - slack
                held = held[len(held) - slack:]
        total = count[0] + len(held)
        if total == 0:
            raise DubError(f"could not decode the audio of {path}: no samples came out; check the file plays")
        if n is not None and 0 < total - n <= slack:
            held = held[: len(held) - (total - n)]
        elif n is not None and 0 < n - total <= slack:
            held = np.concatenate([held, np.zeros((n - total, channels), np.float32)])
        count[0] += len(held)
        yield held

    write_wav(out, fitted(), sample_rate, channels, subtype="FLOAT")
    return count[0]
