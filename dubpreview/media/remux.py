"""Writing the preview: the source's video copied, the dub and original audio, soft subtitles.

One ffmpeg run (ffmpeg-python graph) builds the preview:

* the first video stream of the source is **copied** (its packets are bit-identical;
  no re-encode, no quality loss, seconds for a feature-length file);
* the audio tracks follow in the order given — the dub first and marked default,
  the original after it. A track read from a file (the dub WAV) is padded with
  silence or cut to the scene's duration and encoded to AAC 48 kHz stereo 192 kb/s
  (Opus in WebM, which cannot hold AAC); a 48 kHz stereo WAV is encoded to AAC before
  the remux on every core (:mod:`dubpreview.media.aac`) and copied in. The source's own audio is copied when its
  codec suits the container (AAC in MP4/MOV/M4A; Opus/Vorbis in WebM; almost
  anything in MKV), else encoded the same way at its own channel count;
* each SRT becomes a soft subtitle track: ``mov_text`` in MP4/MOV/M4A, ``srt`` in
  MKV, ``webvtt`` in WebM; none is flagged default; cues are taken as they are (an
  SRT running past the scene makes the container report the longer duration);
* every audio and subtitle track carries an ISO 639-2/B language tag (``por``, ``cze``;
  in MOV QuickTime's spelling where it differs, e.g. ``ces``, ``fra``) and a title.

The source's own subtitle streams, data streams and any further video streams are
not carried over. Containers are picked from the output suffix:

======== ========== =================== ===========================================
suffix   muxer      subtitles           video it can hold (FFmpeg's muxer table)
======== ========== =================== ===========================================
.mp4     mp4        mov_text            H.264, HEVC, AV1, VP9, MPEG-4… (not VP8/Theora)
.m4v     mp4        mov_text            as .mp4
.mov     mov        mov_text            as .mp4 plus ProRes (not VP8)
.mkv     matroska   srt                 almost anything
.webm    webm       webvtt              VP8, VP9, AV1 only
.m4a     ipod       mov_text            none: audio-only sources only
.mka     matroska   srt                 none: audio-only sources only
======== ========== =================== ===========================================

Known limit of MP4/MOV/M4A: ffmpeg's MP4 muxer marks the first track of each kind
"enabled" when none is default, and readers (FFmpeg, mpv) report that as the
default flag, so the first subtitle track of an MP4 reads back as default even
though none was asked for. MKV and WebM keep "no default subtitle" exactly.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import ffmpeg as ffmpeg_python

from dubpreview.errors import DubError
from dubpreview.media.containers import Container, container_for, language_tag, muxer_codecs
from dubpreview.media.outputs import check_track_files, prepare_output_folder, refuse_overwriting_inputs, remove_dirs
from dubpreview.media.ffmpeg import run
from dubpreview.media.probe import MediaInfo, probe
from dubpreview.util.files import atomic_path

DUB_SAMPLE_RATE = 48000  # Hz, every encoded audio track
DUB_CHANNELS = 2
DUB_BITRATE = "192k"




@dataclass(frozen=True)
class AudioTrack:
    """One audio track of the preview, in output order.

    Attributes:
        path: an audio file to encode (the dub WAV), or None for the source's own audio.
        language: ISO 639-1 code (``"pt"``); written as ISO 639-2 (``"por"``).
        title: the track name players show (``"Portuguese (dub)"``).
        default: the track players pick first; the first track marked wins, and the
            first track is the default when none is marked.
        stream_index: with ``path=None``, the source's audio stream (container index,
            ``AudioStream.index``); None = the first audio stream.
        encode_cache: a path prefix where the AAC encoding of ``path`` is kept, so that
            the next preview re-encodes only the region that changed
            (:func:`dubpreview.media.aac.encode_aac_cached`); None = encode it whole.
    """

    path: str | os.PathLike | None
    language: str
    title: str
    default: bool = False
    stream_index: int | None = None
    encode_cache: str | os.PathLike | None = None


@dataclass(frozen=True)
class SubtitleTrack:
    """One soft subtitle track: an ``.srt`` file, its ISO 639-1 ``language`` and ``title``."""

    path: str | os.PathLike
    language: str
    title: str


def write_preview(
    source: str | os.PathLike,
    info: MediaInfo | None,
    out_path: str | os.PathLike,
    audio_tracks: Sequence[AudioTrack],
    subtitle_tracks: Sequence[SubtitleTrack] = (),
    report: dict | None = None,
) -> Path:
    """Remux ``source`` with ``audio_tracks`` and ``subtitle_tracks`` into ``out_path``.

    Args:
        source: the scene (MP4/MOV/MKV/WebM video, or WAV/MP3/M4A/OGG/OPUS/FLAC audio).
        info: :func:`probe` of ``source`` (None = probe it here).
        out_path: the preview; its suffix picks the container (see the module table).
        audio_tracks: in output order; at least one.
        subtitle_tracks: ``.srt`` files, in output order.
        report: filled with ``{"encoded": {track position: "full" | "partial" | "reused"}}``
            for the file tracks encoded before the remux.

    Returns:
        ``out_path`` as a :class:`~pathlib.Path`, complete (written under a temporary
        name and renamed only on success).

    Raises:
        DubError: the output path is the input, a track file or a folder; the output folder
            cannot be written; the suffix is not a supported container; the container
            cannot hold the source's video codec; a track file is missing; ffmpeg fails.
            On any failure nothing is left in the output folder.
        ValueError: ``audio_tracks`` is empty.
    """
    if not audio_tracks:
        raise ValueError("write_preview needs at least one audio track")
    src, out = Path(source), Path(out_path)
    info = info if info is not None else probe(src)
    refuse_overwriting_inputs(out, src, audio_tracks, subtitle_tracks)
    box = container_for(out, info)
    check_track_files(info, audio_tracks, subtitle_tracks)
    created = prepare_output_folder(out.parent)
    try:
        with atomic_path(out) as tmp, tempfile.TemporaryDirectory(prefix=".dub-aac-", dir=out.parent) as work:
            tmp.unlink()  # let ffmpeg create it: mkstemp's placeholder is mode 0600, ffmpeg's follows the umask
            encoded, how = _pre_encode(audio_tracks, info, box, Path(work), f"write the preview {out.name}")
            if report is not None:
                report["encoded"] = how
            graph = _build_graph(src, info, tmp, box, audio_tracks, subtitle_tracks, encoded)
            run(graph, f"write the preview {out.name}")
            _verify(tmp, info, audio_tracks, subtitle_tracks)
    except BaseException:
        remove_dirs(created)
        raise
    return out


# --- checks before anything is written ------------------------------------------------


def _default_index(audio_tracks: Sequence[AudioTrack]) -> int:
    """Position of the default audio track: the first marked one, else 0."""
    return next((i for i, t in enumerate(audio_tracks) if t.default), 0)


def _pre_encode(audio_tracks: Sequence[AudioTrack], info: MediaInfo, box: Container, work: Path,
                what: str) -> tuple[dict[int, Path], dict[int, str]]:
    """Track position -> an M4A holding that file track already encoded to AAC on every core
    (:func:`dubpreview.media.aac.encode_aac`; only its changed region when the track has an
    ``encode_cache``), padded or cut to the scene's duration; the remux then copies it. Only
    for AAC containers and 48 kHz stereo WAV tracks; others are encoded by the remux itself.
    Returns (the M4As, how each was made)."""
    import soundfile as sf

    from dubpreview.media.aac import encode_aac, encode_aac_cached

    done: dict[int, Path] = {}
    how: dict[int, str] = {}
    if box.audio_encoder != "aac":
        return done, how
    for k, track in enumerate(audio_tracks):
        if track.path is None:
            continue
        try:
            meta = sf.info(str(track.path))
        except (RuntimeError, sf.LibsndfileError):
            continue
        if meta.samplerate != DUB_SAMPLE_RATE or meta.channels != DUB_CHANNELS:
            continue
        source = Path(track.path)
        if info.duration > 0 and meta.frames != int(round(info.duration * DUB_SAMPLE_RATE)):
            source = _fitted_copy(source, int(round(info.duration * DUB_SAMPLE_RATE)), work / f"track{k}.wav")
        if track.encode_cache:
            done[k], how[k] = encode_aac_cached(source, DUB_SAMPLE_RATE, work / f"track{k}.m4a", track.encode_cache,
                                                DUB_BITRATE, what=what)
        else:
            done[k], how[k] = encode_aac(source, DUB_SAMPLE_RATE, work / f"track{k}.m4a", DUB_BITRATE, what=what), "full"
    return done, how


def _fitted_copy(path: Path, n: int, out: Path) -> Path:
    """A float WAV copy of ``path`` cut or zero-padded to ``n`` samples, a block at a time."""
    from dubpreview.media.wav import WavReader, reader_blocks, write_wav

    with WavReader(path) as reader:
        return write_wav(out, reader_blocks(reader, n), reader.rate, reader.channels, subtype="FLOAT")


def _build_graph(
    src: Path, info: MediaInfo, out: Path, box: Container,
    audio_tracks: Sequence[AudioTrack], subtitle_tracks: Sequence[SubtitleTrack],
    encoded: dict[int, Path] | None = None,
):
    """The ffmpeg-python output node writing ``out`` (options as in the module docstring);
    ``encoded``: file tracks already encoded (:func:`_pre_encode`), copied as they are."""
    encoded = encoded or {}
    source = ffmpeg_python.input(str(src))
    streams: list = []
    opts: dict[str, object] = {}
    if not info.is_audio_only:
        streams.append(source[str(info.video[0].index)])
        opts["c:v"] = "copy"
    default = _default_index(audio_tracks)
    from_files = _file_streams(audio_tracks, info.duration, skip=set(encoded))
    for k, track in enumerate(audio_tracks):
        out_index = len(streams)
        if track.path is None:
            streams.append(_source_audio(source, info, track, box, k, opts))
        elif k in encoded:
            streams.append(ffmpeg_python.input(str(encoded[k]))["a:0"])
            opts[f"c:a:{k}"] = "copy"
        else:
            streams.append(from_files[k])
            _encode(opts, k, box, channels=DUB_CHANNELS)
        _tag(opts, "a", k, out_index, language_tag(track.language, box), track.title)
        opts[f"disposition:a:{k}"] = "default" if k == default else "0"
    for k, sub in enumerate(subtitle_tracks):
        out_index = len(streams)
        streams.append(ffmpeg_python.input(str(sub.path))["s:0"])
        _tag(opts, "s", k, out_index, language_tag(sub.language, box), sub.title)
        opts[f"disposition:s:{k}"] = "0"
    if subtitle_tracks:
        opts["c:s"] = box.subtitle_codec
    if box.mp4_family:
        opts["movflags"] = "+faststart"
    return ffmpeg_python.output(*streams, str(out), format=box.muxer, **opts)


def _source_audio(source, info: MediaInfo, track: AudioTrack, box: Container, k: int, opts: dict):
    """Output audio stream k taken from the source: copied when the container suits its codec."""
    original = info.audio_stream(track.stream_index)
    if original.codec in box.copy_audio and original.codec in muxer_codecs(box.muxer):
        opts[f"c:a:{k}"] = "copy"
    else:
        _encode(opts, k, box, channels=None)
    return source[str(original.index)]


def _file_streams(audio_tracks: Sequence[AudioTrack], duration: float,
                  skip: set[int] = frozenset()) -> dict[int, object]:
    """Track position -> its file's audio, padded with silence or cut to ``duration`` seconds;
    positions in ``skip`` (tracks already encoded) are left out.

    ffmpeg-python merges identical nodes, so a file used by two tracks is read once
    and split (``asplit``) rather than given two inputs.
    """
    positions: dict[str, list[int]] = {}
    for k, track in enumerate(audio_tracks):
        if track.path is not None and k not in skip:
            positions.setdefault(os.path.realpath(track.path), []).append(k)
    streams: dict[int, object] = {}
    for path, ks in positions.items():
        stream = ffmpeg_python.input(path).audio
        if duration > 0:
            stream = stream.filter("apad", whole_dur=f"{duration:.6f}").filter("atrim", duration=f"{duration:.6f}")
        if len(ks) == 1:
            streams[ks[0]] = stream
        else:
            split = stream.filter_multi_output("asplit", len(ks))
            streams.update({k: split.stream(i) for i, k in enumerate(ks)})
    return streams


def _encode(opts: dict, k: int, box: Container, channels: int | None) -> None:
    """Options encoding output audio stream k at 48 kHz, 192 kb/s (channels None = keep)."""
    opts[f"c:a:{k}"] = box.audio_encoder
    opts[f"b:a:{k}"] = DUB_BITRATE
    opts[f"ar:a:{k}"] = DUB_SAMPLE_RATE
    if channels:
        opts[f"ac:a:{k}"] = channels


def _tag(opts: dict, kind: str, k: int, out_index: int, language_tag: str, title: str) -> None:
    """Language tag and title of an output stream.

    ffmpeg-python takes options as a dict, so one option name cannot repeat; the
    language goes through the per-type specifier (``metadata:s:a:0``) and the title
    through the absolute one (``metadata:s:1``), two names for the same stream.
    """
    opts[f"metadata:s:{kind}:{k}"] = f"language={language_tag}"
    opts[f"metadata:s:{out_index}"] = f"title={title}"


def _verify(tmp: Path, info: MediaInfo, audio_tracks: Sequence, subtitle_tracks: Sequence) -> None:
    """Check the written file holds the expected streams.

    Raises:
        DubError: ffmpeg exited cleanly but the stream layout is not what was asked for.
    """
    got = probe(tmp, scan=False)
    want = (0 if info.is_audio_only else 1, len(audio_tracks), len(subtitle_tracks))
    have = (len(got.video), len(got.audio), len(got.subtitles))
    if have != want:
        raise DubError(
            f"could not write the preview: it came out with {have[0]} video, {have[1]} audio and "
            f"{have[2]} subtitle streams instead of {want[0]}, {want[1]} and {want[2]}"
        )
