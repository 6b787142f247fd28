"""Imported human translations: an SRT/VTT file aligned onto the scene's lines by time.

Alignment rules (:func:`assign_cues`), times in seconds:

1. a cue goes to the segment it overlaps longest;
2. an exact tie in overlap goes to the segment whose midpoint is nearest the cue's
   midpoint, then to the earlier segment;
3. a cue that overlaps no segment (it lies in a gap, or has zero length) goes to the
   nearest segment if the gap between them is at most ``tolerance_s``; equal distances
   go to the earlier segment;
4. otherwise the cue is *orphaned*: it is left out and reported;
5. a segment's cues are joined with a space in time order;
6. a segment that got no cue but lies mostly (more than :data:`HELD_INSIDE` of its time)
   inside the one cue of a neighbouring segment shares that cue: the cue's text is cut over
   the run of such segments in proportion to their durations, at sentence ends where it has
   them (:func:`~dubpreview.translate.sentences.split_translation`). Speech recognition cuts a
   subtitle's two sentences into two lines ("Sítíš to..." | "Potopený vrák..."), and without
   this rule the first line was left undubbed while the second spoke both sentences;
7. a segment still without text gets ``""`` (it is not dubbed) and is reported.

Each cue's words land in the segments once, in order, so no text is ever duplicated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dubpreview import languages
from dubpreview.errors import BackendUnavailable
from dubpreview.integrity.words import join_words
from dubpreview.records import Segment
from dubpreview.subtitles import Cue, read_cues
from dubpreview.translate.sentences import split_translation

TOLERANCE_S = 1.0
"""Default reach (seconds) of rule 3. Subtitle timing conventions add lead-in and
lead-out of a few hundred milliseconds around speech, and ASR segment edges drift by
a similar amount, so a cue up to a second away from a line still belongs to it; two
lines of dialogue further apart than that are rarely one cue."""


HELD_INSIDE = 0.5
"""Share of a segment's time that must lie inside a neighbour's cue for rule 6."""


@dataclass
class Assignment:
    """Result of :func:`assign_cues`: ``per_segment[i]`` lists the cue indices (time
    order) given to segment ``i``; ``orphans`` the cue indices given to none."""

    per_segment: list[list[int]]
    orphans: list[int] = field(default_factory=list)


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    """Length (seconds) of the intersection of [a0, a1] and [b0, b1], 0 if disjoint."""
    return max(0.0, min(a1, b1) - max(a0, b0))


def _gap(a0: float, a1: float, b0: float, b1: float) -> float:
    """Distance (seconds) between [a0, a1] and [b0, b1], 0 if they touch or overlap."""
    return max(0.0, b0 - a1, a0 - b1)


def _best_segment(cue: Cue, segments: list[Segment], tolerance_s: float) -> int | None:
    """Index of the segment ``cue`` belongs to by rules 1-3, or None (rule 4)."""
    mid = (cue.start + cue.end) / 2
    by_overlap = [(-_overlap(cue.start, cue.end, s.start, s.end), abs((s.start + s.end) / 2 - mid), i)
                  for i, s in enumerate(segments)]
    best = min(by_overlap, default=None)
    if best is not None and best[0] < 0:
        return best[2]
    by_gap = [(_gap(cue.start, cue.end, s.start, s.end), i) for i, s in enumerate(segments)]
    nearest = min(by_gap, default=None)
    if nearest is not None and nearest[0] <= tolerance_s:
        return nearest[1]
    return None


def assign_cues(segments: list[Segment], cues: list[Cue], tolerance_s: float = TOLERANCE_S) -> Assignment:
    """Which cues go to which segment (rules in the module docstring).

    Cues with blank text are ignored (neither assigned nor orphaned).
    """
    order = sorted(range(len(cues)), key=lambda k: (cues[k].start, cues[k].end, k))
    result = Assignment([[] for _ in segments])
    for k in order:
        if not cues[k].text.strip():
            continue
        i = _best_segment(cues[k], segments, tolerance_s)
        if i is None:
            result.orphans.append(k)
        else:
            result.per_segment[i].append(k)
    return result


def segment_texts(segments: list[Segment], cues: list[Cue], assignment: Assignment) -> list[str]:
    """One text per segment (``segments`` in time order): its cues' texts joined in time
    order (:func:`~dubpreview.integrity.words.join_words`, rule 5), a cue shared with the
    segments it holds (rule 6), ``""`` if none (rule 7). Pure."""
    texts = [join_words([cues[k].text for k in ks]) for ks in assignment.per_segment]
    taken: set[int] = set()

    def held(j: int, cue: Cue) -> bool:
        s = segments[j]
        return (not assignment.per_segment[j] and j not in taken and s.end > s.start
                and _overlap(cue.start, cue.end, s.start, s.end) > HELD_INSIDE * (s.end - s.start))

    for i, ks in enumerate(assignment.per_segment):
        if len(ks) != 1:
            continue
        cue = cues[ks[0]]
        lo = hi = i
        while lo > 0 and held(lo - 1, cue):
            lo -= 1
        while hi < len(segments) - 1 and held(hi + 1, cue):
            hi += 1
        if lo == hi:
            continue
        group = range(lo, hi + 1)
        parts = split_translation(cue.text, [segments[j].end - segments[j].start for j in group], prefer_sentences=True)
        for j, part in zip(group, parts):
            texts[j] = part
        taken.update(group)
    return texts


def align_cues(segments: list[Segment], cues: list[Cue], tolerance_s: float = TOLERANCE_S) -> list[str]:
    """One text per segment by rules 1-7 (:func:`segment_texts`), ``""`` if none.

    Orphaned cues are dropped here; use :func:`assign_cues` to see them.
    """
    return segment_texts(segments, cues, assign_cues(segments, cues, tolerance_s))


def _fmt_span(start: float, end: float) -> str:
    return f"{start:.2f}-{end:.2f} s"


def report(segments: list[Segment], cues: list[Cue], assignment: Assignment,
           tolerance_s: float, source: str, texts: list[str] | None = None) -> list[str]:
    """Human-readable warnings for segments left without text (``texts`` from
    :func:`segment_texts`; without it, segments with no cue) and for orphaned cues."""
    warnings = []
    for i, (seg, ks) in enumerate(zip(segments, assignment.per_segment)):
        if not (texts[i].strip() if texts is not None else ks):
            warnings.append(f"{source}: no subtitle for line {seg.id} ({_fmt_span(seg.start, seg.end)}); "
                            f"it will not be dubbed unless you add a translation")
    for k in assignment.orphans:
        cue = cues[k]
        warnings.append(f"{source}: subtitle '{cue.text[:50]}' ({_fmt_span(cue.start, cue.end)}) is more than "
                        f"{tolerance_s:g} s from every line and was left out")
    return warnings


class SubtitleImport:
    """:class:`~dubpreview.translate.base.Translator` that reads a human translation.

    Args:
        path: ``.srt`` or ``.vtt`` file in the ``target`` language.
        target: ISO 639-1 code of the file's language.
        tolerance_s: reach of the nearest-segment rule, seconds.

    The file is read at construction so that a bad file fails before any heavy work.
    After :meth:`translate`, :attr:`warnings` lists lines left without a subtitle and
    subtitles left without a line.

    Raises:
        DubError: the file is missing, unreadable or empty (from :func:`~dubpreview.subtitles.read_cues`).
    """

    name = "subtitle-import"

    def __init__(self, path: str | Path, target: str, tolerance_s: float = TOLERANCE_S):
        self.path = Path(path)
        self.target = languages.normalize(target)
        self.tolerance_s = tolerance_s
        self.cues = read_cues(self.path)
        self.warnings: list[str] = []

    def pairs(self) -> set[tuple[str, str]]:
        """``{("*", target)}``: any source language, into the file's language."""
        return {("*", self.target)}

    def translate(self, segments: list[Segment], source: str, target: str,
                  audio: np.ndarray | None = None) -> list[str]:
        """The file's text for each segment by time alignment; ``source`` and ``audio`` unused.

        Raises:
            BackendUnavailable: ``target`` is not the file's language.
        """
        if languages.normalize(target) != self.target:
            raise BackendUnavailable(f"the translation file {self.path.name} is in {self.target}, not {target}; "
                                     f"pass a file per target language")
        assignment = assign_cues(segments, self.cues, self.tolerance_s)
        texts = segment_texts(segments, self.cues, assignment)
        self.warnings = report(segments, self.cues, assignment, self.tolerance_s, self.path.name, texts)
        return texts
