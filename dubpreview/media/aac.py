"""AAC encoding of a dub track on every core: parts encoded at once, stitched by frame.

FFmpeg's native AAC encoder runs on one core, and on the 2-core build machine encoding a
60 s stereo dub at 192 kb/s took about 2 s: most of a warm re-render. Here the track is
cut at AAC frame boundaries (1024 samples) into one part per core; each part is encoded
by its own ffmpeg process (ffmpeg-python) with 6 s of the audio before it and a few frames
after it, so that at each junction its encoder has the same MDCT history, rate-control
state and look-ahead as an encoder running through; then the packets are stitched with PyAV,
each part contributing the frames of its own span, into one M4A that the preview's
remux copies. AAC-LC frames decode independently of the bit reservoir and the
overlap-add at a junction joins two encodings of the same signal, so the junction
differs from a single pass only by quantisation noise (measured in
``tests/test_media.py``: the stitched track against the single-pass one).

The first packet carries the encoder's priming (1024 samples, negative timestamp); the
MP4 muxer writes it as an edit list, as FFmpeg does for a single pass.
"""

from __future__ import annotations

import os
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

from dubpreview.errors import DubError

FRAME = 1024
"""Samples per AAC-LC frame."""
PREROLL_S = 6.0
"""Seconds each part (but the first) encodes before its own span. FFmpeg's encoder adapts
its rate control over several seconds: with 8 frames of pre-roll the first seconds of a part
came out 3-9 dB lower in SNR than the same seconds of a single pass; with 6 s they match
(``tests/test_media.py``)."""
POSTROLL_FRAMES = 4
"""Frames each part encodes after its span (the encoder's look-ahead)."""
MIN_PART_S = 8.0
"""No part's own span shorter than this (seconds): below it the pre-roll and the process
start cost more than they save."""


def default_parts() -> int:
    """How many parts to encode at once: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def preroll(rate: int) -> int:
    """:data:`PREROLL_S` in samples, a whole number of frames."""
    return int(round(PREROLL_S * rate / FRAME)) * FRAME


def spans(n: int, rate: int, parts: int) -> list[tuple[int, int]]:
    """The parts' own spans ``[(start, end), ...]`` in samples: starts on frame boundaries,
    together covering ``0..n``, sized so that every part encodes the same length (its own
    span plus the pre-roll of all but the first); fewer parts when an own span would be
    under :data:`MIN_PART_S` or the pre-roll."""
    pre = preroll(rate)
    while parts > 1:
        length = (n + (parts - 1) * pre) / parts  # what each process encodes
        if length - pre >= max(MIN_PART_S * rate, pre):
            break
        parts -= 1
    if parts <= 1:
        return [(0, n)]
    length = (n + (parts - 1) * pre) / parts
    cuts = [0] + [int(round((length + (k - 1) * (length - pre)) / FRAME)) * FRAME for k in range(1, parts)] + [n]
    return [(cuts[k], cuts[k + 1]) for k in range(parts) if cuts[k] < cuts[k + 1]]


def _launch(src: Path, lo: int, hi: int, rate: int, bitrate: str, tmp: Path, name: str, what: str):
    """Start one ffmpeg encoding samples ``[lo, hi)`` of the WAV ``src`` (cut sample-exactly
    by ``atrim``, timestamps restarted) to ``tmp/name.m4a``; returns (process, m4a path)."""
    import ffmpeg as ffmpeg_python

    from dubpreview.media.ffmpeg import ffmpeg_exe

    m4a = tmp / f"{name}.m4a"
    audio = ffmpeg_python.input(str(src)).audio.filter("atrim", start_sample=lo, end_sample=hi) \
        .filter("asetpts", "PTS-STARTPTS")
    graph = (audio.output(str(m4a), acodec="aac", audio_bitrate=bitrate, ar=rate, format="ipod")
             .global_args("-hide_banner", "-nostdin", "-loglevel", "error")
             .overwrite_output())
    try:
        return ffmpeg_python.run_async(graph, cmd=ffmpeg_exe(), pipe_stderr=True), m4a
    except OSError as exc:
        raise DubError(f"could not {what}: cannot run ffmpeg ({exc.strerror or exc})") from None


def _wait(procs: list, what: str) -> None:
    from dubpreview.media.ffmpeg import summarize_stderr

    failed = None
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode and failed is None:
            failed = summarize_stderr(err)
    if failed is not None:
        raise DubError(f"could not {what}: {failed}")


def _frames(samples: np.ndarray) -> np.ndarray:
    a = np.asarray(samples, dtype=np.float32)
    return a[:, None] if a.ndim == 1 else a


def _as_wav(samples, rate: int, tmp: Path) -> tuple[Path, int, int]:
    """``samples`` as a WAV file: a path is used as it is; an array (``(n,)`` or
    ``(n, channels)``) is written to a float WAV in ``tmp``. Returns (path, frames, channels)."""
    import soundfile as sf

    if isinstance(samples, (str, os.PathLike)):
        info = sf.info(str(samples))
        return Path(samples), info.frames, info.channels
    a = _frames(samples)
    path = tmp / "input.wav"
    sf.write(str(path), a, rate, subtype="FLOAT")
    return path, a.shape[0], a.shape[1]


def encode_aac(samples, rate: int, out: str | os.PathLike, bitrate: str = "192k",
               parts: int | None = None, what: str = "encode the dub track") -> Path:
    """Encode ``samples`` (a WAV file's path, or float32 ``(n, channels)``, at ``rate`` Hz)
    to AAC-LC in an M4A; the parts are cut from the file by ffmpeg, so a file is never
    loaded into this process.

    ``parts``: processes at once (None = :func:`default_parts`); ``what``: the task for
    the error message. Returns ``out``.

    Raises:
        DubError: ``could not <what>: <reason>`` when ffmpeg fails or the parts cannot be stitched.
    """
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="aac-", dir=out.parent) as tmp:
        src, n, _ = _as_wav(samples, rate, Path(tmp))
        own = spans(n, rate, parts or default_parts())
        procs, pieces = [], []
        for k, (s, e) in enumerate(own):
            lo = max(0, s - preroll(rate)) if k else 0
            proc, m4a = _launch(src, lo, min(n, e + POSTROLL_FRAMES * FRAME), rate, bitrate, Path(tmp), f"part{k}", what)
            procs.append(proc)
            pieces.append((m4a, lo, s, e, k == 0, k == len(own) - 1))
        _wait(procs, what)
        if len(pieces) == 1:
            os.replace(pieces[0][0], out)
            return out
        _stitch(pieces, rate, out, what)
    return out


def changed_range(a: Path, b: Path, block: int = 1 << 20) -> tuple[int, int] | None:
    """The first and one past the last sample where two WAV files of the same shape differ
    (read a block at a time), or None when they are equal."""
    import soundfile as sf

    first = last = None
    with sf.SoundFile(str(a)) as fa, sf.SoundFile(str(b)) as fb:
        pos = 0
        while True:
            x = fa.read(block, dtype="float32", always_2d=True)
            y = fb.read(block, dtype="float32", always_2d=True)
            if not len(x):
                break
            diff = np.flatnonzero(np.any(x != y, axis=1))
            if len(diff):
                first = pos + int(diff[0]) if first is None else first
                last = pos + int(diff[-1]) + 1
            pos += len(x)
    return None if first is None else (first, last)


MARGIN_FRAMES = 3
"""Unchanged frames kept on each side of a changed region before re-encoding it."""
PARTIAL_SHARE = 0.6
"""Re-encode only the changed region while it (with its pre-roll) is under this share of the track."""


def encode_aac_cached(samples, rate: int, out: str | os.PathLike, cache: str | os.PathLike,
                      bitrate: str = "192k", what: str = "encode the dub track") -> tuple[Path, str]:
    """:func:`encode_aac` that remembers its last result under the path prefix ``cache``
    (``<cache>.m4a`` with the samples it encodes in ``<cache>.wav``) and, when called again
    for samples that differ only in one region, re-encodes only that region (with
    :data:`PREROLL_S` before it and :data:`MARGIN_FRAMES` of unchanged audio on each side)
    and splices its packets between the previous encoding's.

    ``samples``: a WAV file's path (hard-linked into the cache, compared with the cached one
    a block at a time: nothing whole-scene is held) or a float32 ``(n, channels)`` array.
    Returns ``(out, how)``: ``how`` is ``"reused"`` (nothing changed), ``"partial"`` or
    ``"full"``. Raises DubError as :func:`encode_aac`.
    """
    import json
    import shutil

    import soundfile as sf

    from dubpreview.project.store import file_sha256
    from dubpreview.util.files import atomic_path, atomic_write_json

    out, cache = Path(out), Path(cache)
    m4a_c, wav_c, meta_c = (cache.with_name(cache.name + ext) for ext in (".m4a", ".wav", ".json"))
    with tempfile.TemporaryDirectory(prefix="aac-", dir=out.parent) as tmp:
        src, n, channels = _as_wav(samples, rate, Path(tmp))
        meta = {"rate": rate, "bitrate": bitrate, "channels": channels, "n": n, "v": 2}
        valid = False
        try:  # the cache is valid only as a whole: meta written last, with the hashes of the other two
            stored = json.loads(meta_c.read_text(encoding="utf-8"))
            info = sf.info(str(wav_c))
            valid = ({k: stored.get(k) for k in meta} == meta and info.frames == n and info.channels == channels
                     and stored.get("m4a") == file_sha256(m4a_c) and stored.get("wav") == file_sha256(wav_c))
        except (OSError, ValueError, RuntimeError, AttributeError):
            valid = False
        how = "full"
        if valid:
            changed = changed_range(wav_c, src)
            if changed is None:
                shutil.copyfile(m4a_c, out)
                return out, "reused"
            lo_f = max(0, (changed[0] // FRAME - MARGIN_FRAMES) * FRAME)
            hi_f = min(n, ((changed[1] - 1) // FRAME + 1 + MARGIN_FRAMES) * FRAME)
            if (hi_f - lo_f) + preroll(rate) < PARTIAL_SHARE * n:
                lo = max(0, lo_f - preroll(rate))
                proc, part = _launch(src, lo, min(n, hi_f + POSTROLL_FRAMES * FRAME), rate, bitrate, Path(tmp),
                                     "region", what)
                _wait([proc], what)
                pieces = []
                if lo_f > 0:
                    pieces.append((m4a_c, 0, 0, lo_f, True, False))
                pieces.append((part, lo, lo_f, hi_f, lo_f == 0, hi_f >= n))
                if hi_f < n:
                    pieces.append((m4a_c, 0, hi_f, n, False, True))
                _stitch(pieces, rate, out, what)
                how = "partial"
        if how == "full":
            encode_aac(src, rate, out, bitrate, what=what)
        cache.parent.mkdir(parents=True, exist_ok=True)
        meta_c.unlink(missing_ok=True)  # a run killed while the cache is rewritten leaves no valid cache
        with atomic_path(m4a_c) as t:
            shutil.copyfile(out, t)
        with atomic_path(wav_c) as t:
            try:  # the samples' file itself, hard-linked: no second copy on disk
                t.unlink()
                os.link(src, t)
            except OSError:
                shutil.copyfile(src, t)
        atomic_write_json(meta_c, dict(meta, m4a=file_sha256(m4a_c), wav=file_sha256(wav_c)))
    return out, how


def _stitch(pieces: list, rate: int, out: Path, what: str) -> None:
    """Write into ``out`` the packets of each piece's own span, timestamps in samples.

    A piece is ``(m4a, lo, start, end, keep_priming, keep_tail)``: an encoding of the
    track from sample ``lo`` on, of which the packets starting in ``[start, end)`` are
    kept, plus its priming packet (``keep_priming``) or everything from ``end`` on
    (``keep_tail``).
    """
    import av

    try:
        with av.open(str(pieces[0][0])) as first, av.open(str(out), "w", format="ipod") as dst:
            ostream = dst.add_stream_from_template(first.streams.audio[0])
            ostream.time_base = Fraction(1, rate)
            for path, lo, s, e, keep_priming, keep_tail in pieces:
                with av.open(str(path)) as src:
                    istream = src.streams.audio[0]
                    for pkt in src.demux(istream):
                        if pkt.pts is None or not pkt.size:
                            continue
                        t = int(round(pkt.pts * istream.time_base * rate)) + lo  # samples, global
                        if t < s and not (keep_priming and t < 0):
                            continue
                        if t >= e and not keep_tail:
                            continue
                        pkt.pts = pkt.dts = t
                        pkt.time_base = Fraction(1, rate)
                        pkt.stream = ostream
                        dst.mux(pkt)
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise DubError(f"could not {what}: stitching the encoded parts failed ({exc})") from None
