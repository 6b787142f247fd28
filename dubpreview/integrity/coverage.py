"""Speech coverage: how much of the speech the VAD hears lies inside the dub's lines.

Pure interval arithmetic on seconds. The speech is Silero VAD's regions (unpadded); a line
covers ``[start - tolerance, end + tolerance]`` (:data:`TOLERANCE_S`: word timestamps start
on the word, the VAD a frame or two before it). Gaps longer than :data:`MIN_GAP_S` are the
regions the ASR guard decodes again on their own (:mod:`dubpreview.integrity.asr_guard`);
what stays uncovered is listed in ``project.json`` (``coverage``), the run summary and the studio.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TOLERANCE_S = 0.25
"""Seconds a line's span is widened on each side when it is compared with the VAD."""
MIN_GAP_S = 1.0
"""Uncovered speech of at least this many seconds is decoded again, and listed if still uncovered."""

Span = tuple[float, float]


def union(spans: list[Span]) -> list[Span]:
    """The sorted union of ``spans`` (each ``(start, end)`` seconds, end >= start)."""
    out: list[list[float]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def subtract(spans: list[Span], cut: list[Span]) -> list[Span]:
    """The parts of ``spans`` outside every span of ``cut``."""
    out = []
    cut = union(cut)
    for s, e in union(spans):
        cur = s
        for cs, ce in cut:
            if ce <= cur or cs >= e:
                continue
            if cs > cur:
                out.append((cur, cs))
            cur = max(cur, ce)
        if cur < e:
            out.append((cur, e))
    return out


def total(spans: list[Span]) -> float:
    """Seconds covered by ``spans`` (overlaps counted once)."""
    return sum(e - s for s, e in union(spans))


@dataclass
class Coverage:
    """``speech_s`` of VAD speech, ``covered_s`` of it inside lines, ``share`` = covered/speech
    (1.0 when there is no speech), ``uncovered``: gaps of at least :data:`MIN_GAP_S` (seconds)."""

    speech_s: float
    covered_s: float
    share: float
    uncovered: list[Span] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"speech_s": round(self.speech_s, 2), "covered_s": round(self.covered_s, 2),
                "share": round(self.share, 4), "uncovered": [[round(s, 2), round(e, 2)] for s, e in self.uncovered]}


def line_spans(lines: list[Span], tolerance_s: float = TOLERANCE_S) -> list[Span]:
    """Line spans widened by ``tolerance_s`` on each side."""
    return [(max(0.0, s - tolerance_s), e + tolerance_s) for s, e in lines]


def gaps(speech: list[Span], lines: list[Span], min_gap_s: float = MIN_GAP_S) -> list[Span]:
    """Speech not inside any line (widened), in pieces of at least ``min_gap_s`` seconds."""
    return [(s, e) for s, e in subtract(speech, line_spans(lines)) if e - s >= min_gap_s]


def measure(speech: list[Span], lines: list[Span], min_gap_s: float = MIN_GAP_S) -> Coverage:
    """The :class:`Coverage` of ``speech`` (VAD regions) by ``lines`` (segment spans)."""
    speech_s = total(speech)
    outside = total(subtract(speech, line_spans(lines)))
    covered = speech_s - outside
    return Coverage(speech_s, covered, covered / speech_s if speech_s > 0 else 1.0,
                    gaps(speech, lines, min_gap_s))
