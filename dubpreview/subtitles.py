"""Subtitle files in and out (SubRip ``.srt`` and WebVTT ``.vtt``), parsed and written by pysubs2.

Times are seconds (float) from the start of the scene; files store milliseconds, so a
write/read round trip keeps times to within 1 ms.

Reading cleans each cue's text for dubbing (:func:`clean_text`):

1. markup is removed: ASS override blocks such as ``{\\an8}``, HTML-like tags (``<i>``,
   ``<font color=...>``, WebVTT ``<v Name>``, ``<c.yellow>``, ``<00:00:01.000>``); WebVTT
   character references (``&amp;``) are decoded;
2. a *leading speaker tag* is removed: one bracketed label at the very start of the cue
   followed by whitespace, at most :data:`SPEAKER_TAG_MAX` characters, no brackets or
   line breaks inside, e.g. ``"[big_fish] Why?"`` -> ``"Why?"``. Only the first label
   goes, and only at the start; a cue that is *only* a label (``"[music]"``) is kept, so
   the text never silently becomes empty;
3. line breaks and runs of whitespace become single spaces (a cue is one spoken line).

Known limits: literal ``{...}`` in a cue's text is taken for ASS markup (pysubs2's
convention) and dropped, on reading and on writing; SubRip has no escape for ``<``, so
``<...>`` in an SRT is always read as a tag (WebVTT escapes it, so ``.vtt`` keeps it).
"""

from __future__ import annotations

import codecs
import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from dubpreview.errors import DubError
from dubpreview.records import Segment
from dubpreview.util.files import atomic_write_text

SPEAKER_TAG_MAX = 40
"""Longest label (characters inside the brackets) removed as a leading speaker tag."""

FORMATS = {".srt": "srt", ".vtt": "vtt"}
"""File suffix -> pysubs2 format name."""

_TAG = re.compile(r"</?[A-Za-z0-9][^<>]*>")
_SPEAKER = re.compile(r"^\[[^\[\]\n]{1,%d}\]\s+(?=\S)" % SPEAKER_TAG_MAX)
_SPACE = re.compile(r"\s+")


@dataclass
class Cue:
    """One subtitle: ``start`` and ``end`` in seconds, ``text`` plain (no markup)."""

    start: float
    end: float
    text: str


def clean_text(text: str, entities: bool = False) -> str:
    """Plain dialogue text from a cue's text (see the module docstring for the rules).

    ``text`` is pysubs2's *plaintext* (ASS overrides already gone, ``\\n`` for breaks);
    ``entities=True`` also decodes HTML character references (WebVTT).
    """
    text = _TAG.sub("", text)
    if entities:
        text = html.unescape(text)
    text = _SPACE.sub(" ", text).strip()
    return _SPEAKER.sub("", text, count=1)


def _decode(data: bytes, path: Path) -> str:
    """The file's text: UTF-8 (with or without BOM) or UTF-16 with a BOM.

    Raises:
        DubError: neither decodes.
    """
    try:
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return data.decode("utf-16")
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DubError(f"the subtitle file {path} is not UTF-8 text; re-save it as UTF-8 and try again") from None


def _strip_vtt_blocks(text: str) -> str:
    """WebVTT text without NOTE/STYLE/REGION blocks and cue identifier lines.

    pysubs2 reads WebVTT with its SubRip parser, which would glue those lines onto the
    previous cue's text; cue blocks keep only their timing line and payload.
    """
    blocks = re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    kept = []
    for block in blocks:
        lines = block.strip("\n").split("\n")
        timing = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if timing is None:
            if lines and lines[0].startswith("WEBVTT"):
                kept.append("WEBVTT")
            continue  # NOTE, STYLE, REGION, stray text
        kept.append("\n".join(lines[timing:]))
    return "\n\n".join(kept) + "\n"


def read_cues(path: str | Path) -> list[Cue]:
    """The cues of a ``.srt`` or ``.vtt`` file, in time order, text cleaned by :func:`clean_text`.

    Cues whose text is empty after cleaning are skipped.

    Raises:
        DubError: the file is missing, not ``.srt``/``.vtt``, not UTF-8, not parseable,
            or holds no cue with text.
    """
    import pysubs2

    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DubError(f"cannot read subtitles from {path.name}: use an .srt or .vtt file")
    if not path.is_file():
        raise DubError(f"the subtitle file {path} does not exist; check the path")
    text = _decode(path.read_bytes(), path)
    if fmt == "vtt":
        text = _strip_vtt_blocks(text)
    try:
        subs = pysubs2.SSAFile.from_string(text, format_=fmt)
    except Exception as exc:  # pysubs2 raises its own errors, ValueError and others on bad input
        raise DubError(f"the subtitle file {path} cannot be parsed as {fmt.upper()} ({exc}); "
                       f"fix or re-export it") from None
    cues = [Cue(ev.start / 1000.0, ev.end / 1000.0, clean_text(ev.plaintext, entities=fmt == "vtt"))
            for ev in subs if not ev.is_comment]
    cues = sorted((c for c in cues if c.text), key=lambda c: (c.start, c.end))
    if not cues:
        raise DubError(f"the subtitle file {path} holds no subtitle with text; "
                       f"check that it is a valid {fmt.upper()} file")
    return cues


def _to_string(cues: Iterable[Cue], fmt: str) -> str:
    """``cues`` serialised by pysubs2 in ``fmt`` (``"srt"`` or ``"vtt"``); times rounded to ms.

    WebVTT text escapes ``&``, ``<`` and ``>`` as the WebVTT spec requires (pysubs2 does not).
    """
    import pysubs2

    subs = pysubs2.SSAFile()
    for cue in cues:
        event = pysubs2.SSAEvent(start=int(round(cue.start * 1000)), end=int(round(cue.end * 1000)))
        event.plaintext = html.escape(cue.text, quote=False) if fmt == "vtt" else cue.text
        subs.append(event)
    return subs.to_string(fmt)


def write_srt(cues: Iterable[Cue], path: str | Path) -> None:
    """Write ``cues`` as a UTF-8 SubRip file, atomically (never a half-written file)."""
    atomic_write_text(path, _to_string(cues, "srt"))


def write_vtt(cues: Iterable[Cue], path: str | Path) -> None:
    """Write ``cues`` as a UTF-8 WebVTT file, atomically (never a half-written file)."""
    atomic_write_text(path, _to_string(cues, "vtt"))


def cues_from_segments(segments: Iterable[Segment], lang: str | None = None) -> list[Cue]:
    """One cue per dubbed line, timed on the source utterance (seconds).

    ``lang=None`` takes the source transcript (``segment.text``), otherwise
    ``segment.translation[lang]``. Muted lines, lines with no text and lines held out of the
    dub in ``lang`` (:func:`dubpreview.integrity.flags.held`) are skipped: the subtitles of
    a dub say what the dub says.
    """
    from dubpreview.integrity.flags import held

    cues = []
    for seg in segments:
        text = seg.text if lang is None else seg.translation.get(lang, "")
        text = (text or "").strip()
        if text and not seg.muted and (lang is None or not held(seg, lang)):
            cues.append(Cue(seg.start, seg.end, text))
    return cues
