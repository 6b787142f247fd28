"""What is in a media file, read with PyAV (the static ffmpeg has no ffprobe beside it).

:func:`probe` never trusts the file name: it opens the file with FFmpeg's demuxers,
lists the streams and (by default) reads every packet once, without decoding, to
find a file that stops early (a truncated download or copy) — cheap for a scene,
about the cost of reading the file from disk. Truncation is found by comparing the
container's stated duration with the last packet read (MP4/MOV/M4A, MKV/WebM, Ogg…)
and, for WAV, the ``data`` chunk size with the file size. Formats whose duration is
only an estimate (MP3, ADTS AAC, MPEG-TS) are not checked: a cut MP3 reads as a
shorter one.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av

from dubpreview.errors import DubError

# Formats whose stated duration is an estimate (bit rate x size), not a header value:
# comparing it with the packets read would report healthy VBR files as truncated.
_ESTIMATED_DURATION = {"mp3", "aac", "ac3", "eac3", "mpeg", "mpegts", "h264", "hevc"}

# A file is called truncated when its packets stop this long before the stated end:
# max(_TRUNC_ABS seconds, _TRUNC_REL x duration).
_TRUNC_ABS = 0.5
_TRUNC_REL = 0.02


@dataclass(frozen=True)
class VideoStream:
    """A video stream: ``index`` in the container, ``codec`` FFmpeg's codec name (``h264``, ``av1``), ``width``/``height`` in pixels,
    ``fps`` in frames per second (0.0 when unknown), ``frames`` the packet count
    (None when not counted)."""

    index: int
    codec: str
    width: int
    height: int
    fps: float
    frames: int | None = None


@dataclass(frozen=True)
class AudioStream:
    """An audio stream: ``index`` in the container, ``sample_rate`` in Hz,
    ``language`` the container's tag as written (ISO 639-2, e.g. ``"ces"``; None when
    missing or ``und``), ``duration`` in seconds (None when unknown)."""

    index: int
    codec: str
    channels: int
    sample_rate: int
    language: str | None
    duration: float | None


@dataclass(frozen=True)
class SubtitleStream:
    """A subtitle stream: ``index`` in the container, ``language`` as tagged (or None)."""

    index: int
    codec: str
    language: str | None
    title: str | None = None


@dataclass(frozen=True)
class MediaInfo:
    """The streams of one media file.

    ``format`` is FFmpeg's demuxer name (``"mov,mp4,m4a,3gp,3g2,mj2"``, ``"matroska,webm"``,
    ``"wav"``…); ``duration`` in seconds. Cover art (an attached picture) is not a
    video stream.
    """

    path: Path
    format: str
    duration: float
    video: list[VideoStream] = field(default_factory=list)
    audio: list[AudioStream] = field(default_factory=list)
    subtitles: list[SubtitleStream] = field(default_factory=list)

    @property
    def is_audio_only(self) -> bool:
        """True when there is no video stream (a WAV, MP3, M4A… or a music file with cover art)."""
        return not self.video

    def audio_stream(self, index: int | None = None) -> AudioStream:
        """The audio stream with container index ``index`` (None = the first one).

        Raises:
            DubError: there is no audio stream, or none with that index.
        """
        if not self.audio:
            raise DubError(f"{self.path} has no audio stream; dubbing needs dialogue audio")
        if index is None:
            return self.audio[0]
        for a in self.audio:
            if a.index == index:
                return a
        have = ", ".join(f"#{a.index}" for a in self.audio)
        raise DubError(f"{self.path} has no audio stream #{index}; its audio streams are {have}")


def probe(path: str | os.PathLike, *, scan: bool = True, require_audio: bool = True) -> MediaInfo:
    """Open ``path`` with PyAV and describe its streams.

    Args:
        path: a media file of any extension (the extension is not trusted).
        scan: read all packets (without decoding) to count video frames, measure
            stream durations and detect truncation. False reads only the headers.
        require_audio: refuse a file without an audio stream.

    Raises:
        DubError: the path is missing, a folder, empty, not media, truncated or
            damaged, or (with ``require_audio``) has no audio stream.
    """
    p = Path(path)
    check_file(p)
    key = file_identity(p) if scan else None
    if key is not None and key in _scanned:
        info = _scanned[key]
    else:
        info = _open_and_describe(p, scan)
        if key is not None:
            _scanned[key] = info
            while len(_scanned) > 8:
                _scanned.pop(next(iter(_scanned)))
    if require_audio and not info.audio:
        raise DubError(f"{p} has no audio stream; dubbing needs dialogue audio — give the version of the video with sound")
    if not (info.audio or info.video or info.subtitles):
        raise DubError(f"{p} has no audio, video or subtitle stream; give a video or audio file")
    return info


_scanned: dict[tuple, "MediaInfo"] = {}
"""Scanned descriptions of the last files probed, by file identity: a re-render in the same
process (the studio) does not read every packet of the scene again."""


def file_identity(p: str | os.PathLike) -> tuple | None:
    """(real path, size, mtime ns, inode) of ``p``, the key of the in-process memos of its
    scans and decodes (a rewritten file gets a new one); None when it cannot be stat'ed."""
    try:
        st = os.stat(p)
    except OSError:
        return None
    return (os.path.realpath(p), st.st_size, st.st_mtime_ns, st.st_ino)


def _open_and_describe(p: Path, scan: bool) -> "MediaInfo":
    """:func:`probe` without its memo and its audio checks."""
    try:
        container = av.open(str(p), mode="r")
    except av.error.FFmpegError as exc:
        raise DubError(f"{p} is not a media file FFmpeg can read ({_reason(exc)}); give a video or audio file") from None
    with container:
        info = _describe(p, container)
        if scan:
            info = _scan(p, container, info)
    return info


def check_file(p: Path) -> None:
    """Refuse a missing path, a folder or an empty file.

    Raises:
        DubError: saying which of the three it is.
    """
    if not p.exists():
        raise DubError(f"{p} does not exist; check the path")
    if p.is_dir():
        raise DubError(f"{p} is a folder; give a video or audio file")
    if p.stat().st_size == 0:
        raise DubError(f"{p} is empty (0 bytes); give a complete video or audio file")


def _reason(exc: Exception) -> str:
    """FFmpeg's error text without the errno and file name PyAV adds."""
    return getattr(exc, "strerror", None) or str(exc)


def _seconds(value: int | None, time_base: Fraction | None) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def _language(metadata: dict) -> str | None:
    lang = (metadata.get("language") or "").strip()
    return None if lang in ("", "und") else lang


def _codec_name(stream) -> str:
    """FFmpeg's codec name (``mp3``, ``av1``, ``subrip``), not the decoder's (``mp3float``, ``libdav1d``)."""
    cc = stream.codec_context
    if cc is None:
        return "unknown"
    codec = getattr(cc, "codec", None)
    return getattr(codec, "canonical_name", None) or cc.name or "unknown"


def _describe(p: Path, container: av.container.InputContainer) -> MediaInfo:
    """The stream list from the headers alone (durations as stated by the container)."""
    video, audio, subs = [], [], []
    for s in container.streams:
        cc, codec = s.codec_context, _codec_name(s)
        if s.type == "video" and not (s.disposition & av.stream.Disposition.attached_pic):
            rate = s.average_rate or s.guessed_rate or 0
            video.append(VideoStream(s.index, codec, cc.width, cc.height, float(rate), s.frames or None))
        elif s.type == "audio":
            audio.append(AudioStream(
                s.index, codec, cc.layout.nb_channels if cc.layout else cc.channels, cc.sample_rate or 0,
                _language(s.metadata), _seconds(s.duration, s.time_base),
            ))
        elif s.type == "subtitle":
            subs.append(SubtitleStream(s.index, codec, _language(s.metadata), s.metadata.get("title")))
    duration = container.duration / av.time_base if container.duration else 0.0
    return MediaInfo(p, container.format.name, duration, video, audio, subs)


def _scan(p: Path, container: av.container.InputContainer, info: MediaInfo) -> MediaInfo:
    """Read every packet once: count video frames, measure durations, detect truncation.

    Raises:
        DubError: demuxing fails part-way, or the packets end well before the stated duration.
    """
    starts: dict[int, float] = {}
    ends: dict[int, float] = {}
    counts: dict[int, int] = {}
    try:
        for pkt in container.demux():
            if pkt.pts is None or pkt.size == 0:
                continue  # flush packets at the end of each stream
            i = pkt.stream.index
            t0 = float(pkt.pts * pkt.time_base)
            t1 = t0 + float((pkt.duration or 0) * pkt.time_base)
            starts[i] = min(starts.get(i, t0), t0)
            ends[i] = max(ends.get(i, t1), t1)
            counts[i] = counts.get(i, 0) + 1
    except av.error.FFmpegError as exc:
        raise DubError(f"{p} is damaged or truncated ({_reason(exc)}); re-export or re-download it") from None
    if ends:
        _check_truncation(p, info, min(starts.values()), max(ends.values()))
    if info.format == "wav":
        _check_wav_size(p)
    measured = {i: ends[i] - max(starts[i], 0.0) for i in ends}
    video = [VideoStream(v.index, v.codec, v.width, v.height, v.fps, counts.get(v.index, 0)) for v in info.video]
    audio = [
        AudioStream(a.index, a.codec, a.channels, a.sample_rate, a.language, measured.get(a.index, 0.0))
        for a in info.audio
    ]
    duration = info.duration or (max(ends.values()) - max(min(starts.values()), 0.0) if ends else 0.0)
    return MediaInfo(info.path, info.format, duration, video, audio, info.subtitles)


def _check_truncation(p: Path, info: MediaInfo, first: float, last: float) -> None:
    """Raise when the packets stop well before the duration the container states."""
    if not info.duration or set(info.format.split(",")) & _ESTIMATED_DURATION:
        return
    got = last - first
    missing = info.duration - got
    if missing > max(_TRUNC_ABS, _TRUNC_REL * info.duration):
        raise DubError(
            f"{p} is truncated: it says {info.duration:.1f} s but its data stops at {got:.1f} s; "
            "re-export or re-download the complete file"
        )


def _check_wav_size(p: Path) -> None:
    """Raise when a WAV's ``data`` chunk claims more bytes than the file holds.

    FFmpeg's WAV demuxer quietly takes the duration from the file size, so a cut-off
    WAV reads as a shorter, healthy one. Sizes 0 and 0xFFFFFFFF (streamed WAVs that
    never knew their length) and RF64 files are not checked.
    """
    with open(p, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        offset = 12
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return
            cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            offset += 8
            if cid == b"data":
                break
            offset += size + (size & 1)
            f.seek(offset)
    if size in (0, 0xFFFFFFFF):
        return
    have = p.stat().st_size - offset
    if have < size:
        raise DubError(
            f"{p} is truncated: its header announces {size} bytes of audio but only {have} are there; "
            "re-export or re-download the complete file"
        )
