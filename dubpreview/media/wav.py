"""WAV files read and written a block at a time (``soundfile``), so that whole-scene audio
never has to be held in memory.

:class:`WavReader` gives random access to ``[lo, hi)`` sample ranges of a WAV (zero-padded
outside the file, optionally mapped to another layout per block); :func:`write_wav` writes
an iterator of blocks atomically (:func:`dubpreview.util.files.atomic_path`) through
:class:`KeepError`, so a full disk surfaces as the ``OSError`` the command line turns into
one line. The stems, the programme and the cached scene audio all go through here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import soundfile as sf

from dubpreview.util.files import atomic_path

BLOCK = 1 << 20
"""Samples per block (21.8 s at 48 kHz): 8 MB of float32 stereo."""


class WavReader:
    """Random access to a WAV's samples as float32 ``(m, channels)``.

    ``transform``: maps each block ``(m, c)`` to another layout (e.g. the stereo downmix);
    ``channels`` is then what it returns. Reads outside ``[0, frames)`` are zero-padded, so
    a block with margins can be asked for at the scene's edges. The file stays open until
    :meth:`close` (or the ``with`` block ends).
    """

    def __init__(self, path: str | os.PathLike, transform: Callable[[np.ndarray], np.ndarray] | None = None,
                 channels: int | None = None):
        self.path = Path(path)
        self._f = sf.SoundFile(str(path))
        self.frames = self._f.frames
        self.rate = self._f.samplerate
        self.channels = channels or self._f.channels
        self._transform = transform

    def read(self, lo: int, hi: int) -> np.ndarray:
        """Samples ``[lo, hi)`` as float32 ``(hi - lo, channels)``, zeros outside the file."""
        out = np.zeros((max(0, hi - lo), self.channels), np.float32)
        a, b = max(0, lo), min(self.frames, hi)
        if b > a:
            self._f.seek(a)
            got = self._f.read(b - a, dtype="float32", always_2d=True)
            out[a - lo: a - lo + len(got)] = got if self._transform is None else self._transform(got)
        return out

    def close(self) -> None:
        """Close the file."""
        self._f.close()

    def __enter__(self) -> "WavReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ArrayReader:
    """:class:`WavReader`'s interface over an in-memory float32 ``(n, c)`` array."""

    def __init__(self, samples: np.ndarray, rate: int):
        self.samples = samples if samples.ndim == 2 else samples[:, None]
        self.frames, self.channels = self.samples.shape
        self.rate = rate

    def read(self, lo: int, hi: int) -> np.ndarray:
        """Samples ``[lo, hi)`` as float32 ``(hi - lo, channels)``, zeros outside the array."""
        out = np.zeros((max(0, hi - lo), self.channels), np.float32)
        a, b = max(0, lo), min(self.frames, hi)
        if b > a:
            out[a - lo: b - lo] = self.samples[a:b]
        return out

    def close(self) -> None:
        """Nothing to close."""


class KeepError:
    """A binary file for soundfile's virtual I/O that keeps the OSError of a failed write
    (a full disk, a file size limit) instead of letting it escape through libsndfile's C
    callback (which would print a traceback and report only "System error"); the caller
    raises it once soundfile gives up."""

    def __init__(self, f):
        self.f = f
        self.error: OSError | None = None

    def write(self, data) -> int:
        try:
            return self.f.write(data)
        except OSError as exc:
            self.error = exc
            return 0

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.f.seek(offset, whence)

    def tell(self) -> int:
        return self.f.tell()

    def read(self, n: int = -1) -> bytes:
        return self.f.read(n)


def write_wav(path: str | os.PathLike, blocks: Iterable[np.ndarray], rate: int, channels: int,
              subtype: str = "PCM_16") -> Path:
    """Write ``blocks`` (float arrays ``(m,)`` or ``(m, channels)`` in [-1, 1] for PCM) as one
    WAV at ``rate`` Hz, atomically (nothing at ``path`` until the whole file is written).
    ``subtype``: a soundfile subtype (``PCM_16`` for the stems and the programme, ``FLOAT``
    for cached audio; libsndfile clips PCM). Returns ``path``.

    Raises:
        OSError: the disk is full or the file too large (the original error, not libsndfile's).
    """
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        sink = KeepError(f)
        try:
            with sf.SoundFile(sink, "w", samplerate=rate, channels=channels, subtype=subtype,
                              format="WAV") as out:
                for block in blocks:
                    out.write(np.clip(block, -1, 1) if subtype.startswith("PCM") else block)
                    if sink.error is not None:
                        raise sink.error
        except Exception:  # soundfile reports a short write as an AssertionError or LibsndfileError
            if sink.error is not None:
                raise sink.error from None
            raise
    return path


def reader_blocks(reader, frames: int | None = None, gain: float = 1.0, step: int = BLOCK) -> Iterable[np.ndarray]:
    """``reader``'s samples ``[0, frames)`` (default: all it holds; past its end zeros) a block
    of ``step`` at a time, each times ``gain``."""
    n = reader.frames if frames is None else frames
    for lo in range(0, n, step):
        y = reader.read(lo, min(n, lo + step))
        if gain != 1.0:
            y *= np.float32(gain)
        yield y


def pieces(samples: np.ndarray, step: int = BLOCK) -> Iterable[np.ndarray]:
    """``samples`` a block of ``step`` samples at a time (views, no copies)."""
    for s in range(0, len(samples), step):
        yield samples[s:s + step]
