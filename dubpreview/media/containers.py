"""The containers a preview can be written in: which muxer, subtitle codec and audio
encoder each output suffix takes, which video codecs it can hold (FFmpeg's own muxer
tables, read through PyAV), its language tags, and the default output path of a scene
(see the table in :mod:`dubpreview.media.remux`)."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import av

from dubpreview.errors import DubError
from dubpreview.languages import iso639_2
from dubpreview.media.probe import MediaInfo

AUDIO_SUFFIXES = frozenset({".wav", ".mp3", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".flac", ".wma", ".mka"})
"""Suffixes taken as audio-only by :func:`default_output_path` when no probe is at hand."""


@dataclass(frozen=True)
class Container:
    """How to write one output suffix."""

    muxer: str
    subtitle_codec: str
    audio_encoder: str  # for tracks that are encoded
    copy_audio: frozenset[str]  # source audio codecs that are copied as they are
    holds_video: bool = True
    mp4_family: bool = False  # takes -movflags +faststart (index first, plays while loading)
    mac_languages: bool = False  # QuickTime: language tags from the Macintosh table only


# ffmpeg's MOV muxer writes a language only when it is in QuickTime's Macintosh table,
# whose spellings differ from ISO 639-2/B for these (else the track reads "und").
_MAC_LANGUAGE = {"fre": "fra", "cze": "ces", "swe": "sve", "rum": "ron", "slo": "slk", "hrv": "hr "}

# In FFmpeg's tag table but refused when writing ("VP8 muxing is currently not supported").
_REFUSED_VIDEO = {"mov": frozenset({"vp8"})}

_MP4_COPY = frozenset({"aac", "alac", "mp3", "ac3", "eac3"})
_MKV_COPY = frozenset({"aac", "alac", "mp3", "ac3", "eac3", "opus", "vorbis", "flac", "dts", "truehd",
                       "pcm_s16le", "pcm_s24le", "pcm_f32le"})
_WEBM_COPY = frozenset({"opus", "vorbis"})

CONTAINERS: dict[str, Container] = {
    ".mp4": Container("mp4", "mov_text", "aac", _MP4_COPY, mp4_family=True),
    ".m4v": Container("mp4", "mov_text", "aac", _MP4_COPY, mp4_family=True),
    ".mov": Container("mov", "mov_text", "aac", _MP4_COPY, mp4_family=True, mac_languages=True),
    ".mkv": Container("matroska", "srt", "aac", _MKV_COPY),
    ".webm": Container("webm", "webvtt", "libopus", _WEBM_COPY),
    ".m4a": Container("ipod", "mov_text", "aac", frozenset({"aac", "alac"}), holds_video=False, mp4_family=True),
    ".mka": Container("matroska", "srt", "aac", _MKV_COPY, holds_video=False),
}


def default_output_path(
    source: str | os.PathLike, target_langs: str | Sequence[str], info: MediaInfo | None = None
) -> Path:
    """Where the preview goes by default: beside the source, ``<stem>.dub-<langs><suffix>``.

    ``scene.mp4`` -> ``scene.dub-pt.mp4``; two languages -> ``scene.dub-pt-es.mp4``;
    an audio-only source -> ``.m4a``; a source whose container this module does not
    write (``.avi``, ``.ts``…) or whose video codec its own container type cannot
    hold here -> ``.mkv``. With ``info`` (from :func:`probe`) audio-only is decided by
    the streams, else by the suffix.
    """
    src = Path(source)
    langs = [target_langs] if isinstance(target_langs, str) else list(target_langs)
    tag = "dub-" + "-".join(lang.lower() for lang in langs) if langs else "dub"
    return src.with_name(f"{src.stem}.{tag}{_default_suffix(src, info)}")


def _default_suffix(src: Path, info: MediaInfo | None) -> str:
    suffix = src.suffix.lower()
    audio_only = info.is_audio_only if info is not None else suffix in AUDIO_SUFFIXES
    if audio_only:
        return ".m4a"
    box = CONTAINERS.get(suffix)
    if box is None or not box.holds_video:
        return ".mkv"
    if info is not None and info.video and not holds_video_codec(box, info.video[0].codec):
        return ".mkv"
    return suffix


def container_for(out: Path, info: MediaInfo) -> Container:
    """The container for ``out``'s suffix, checked against the source's video codec.

    Raises:
        DubError: unknown suffix, a video source into an audio-only container, or a
            video codec the container cannot hold (naming containers that can).
    """
    suffix = out.suffix.lower()
    box = CONTAINERS.get(suffix)
    if box is None:
        raise DubError(
            f"cannot write a '{out.suffix or out.name}' preview; end -o with .mp4, .mkv, .mov or .webm "
            "(.m4a for audio-only sources)"
        )
    if info.is_audio_only:
        return box
    if not box.holds_video:
        raise DubError(f"{info.path} has video but {suffix} holds audio only; end -o with .mp4 or .mkv")
    codec = info.video[0].codec
    if not holds_video_codec(box, codec):
        fits = [s for s in (".mkv", ".mp4", ".mov", ".webm") if holds_video_codec(CONTAINERS[s], codec)]
        instead = " or ".join(fits) if fits else "another container"
        raise DubError(
            f"{suffix} cannot hold the {codec} video of {info.path} without re-encoding it; end -o with {instead}"
        )
    return box


def holds_video_codec(box: Container, codec: str) -> bool:
    """True when ``box`` can take a stream copy of ``codec`` video."""
    return box.holds_video and codec in muxer_codecs(box.muxer) and codec not in _REFUSED_VIDEO.get(box.muxer, ())


@lru_cache(maxsize=None)
def muxer_codecs(muxer: str) -> frozenset[str]:
    """Codec names FFmpeg's ``muxer`` accepts (its codec-tag table, via PyAV's bundled FFmpeg)."""
    with av.open(io.BytesIO(), mode="w", format=muxer) as probe_out:
        return frozenset(probe_out.supported_codecs)


def language_tag(language: str, box: Container) -> str:
    """The container's language tag for an ISO 639-1 code (ISO 639-2/B; QuickTime spelling in MOV)."""
    tag = iso639_2(language)
    return _MAC_LANGUAGE.get(tag, tag) if box.mac_languages else tag
