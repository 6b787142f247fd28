"""Peers' timing policies, reimplemented from their documented behaviour (not their code),
so the bench can compare them with :func:`dubpreview.timing.fit.plan` on the same lines.

- open-dubbing (Softcatala): a line may use the gap up to the next line; if it is still
  too long it is sped up in 0.1 steps, capped at 1.3x; it always starts with its source line.
- SoniTranslate: the factor is the clip's length over the source line's own length, applied
  with ffmpeg ``atempo`` up to 2.1x; factors between 0.8 and 1.15 are snapped to 1.0 (and
  below 0.8 the line is slowed down); it always starts with its source line.

Neither carries lateness, so a line that is still too long overlaps the next one: the
report counts those as overlaps (silent ones: nothing tells the user).
"""

from __future__ import annotations

import math

from dubpreview.records import Placement, Segment, TimingReport
from dubpreview.timing.fit import TimingSettings, totals


def _report(segments: list[Segment], naturals: list[float], speeds: list[float],
            scene_duration: float) -> TimingReport:
    placements, prev_end = [], -math.inf
    for i, (seg, nat, speed) in enumerate(zip(segments, naturals, speeds)):
        end_of_window = segments[i + 1].start if i + 1 < len(segments) else scene_duration
        dur = nat / speed
        placements.append(Placement(seg.id, seg.start, speed, round(dur, 4), round(end_of_window - seg.start, 4),
                                    round(max(0.0, seg.start + dur - end_of_window), 4), 0.0,
                                    round(max(0.0, prev_end - seg.start), 4), seg.start))
        prev_end = max(prev_end, seg.start + dur)
    return TimingReport(placements, totals(segments, placements, TimingSettings()), naturals=list(naturals))


def open_dubbing(segments: list[Segment], naturals: list[float], scene_duration: float) -> TimingReport:
    """open-dubbing's policy: borrow the gap, then speed up in 0.1 steps to at most 1.3x."""
    speeds = []
    for i, (seg, nat) in enumerate(zip(segments, naturals)):
        available = (segments[i + 1].start if i + 1 < len(segments) else scene_duration) - seg.start
        need = nat / available if available > 0 else math.inf
        speeds.append(1.0 if need <= 1.0 else min(1.3, math.ceil(round(need * 10, 6)) / 10))
    return _report(segments, naturals, speeds, scene_duration)


def sonitranslate(segments: list[Segment], naturals: list[float], scene_duration: float) -> TimingReport:
    """SoniTranslate's policy: atempo factor = clip / source line, 0.8-1.15 snapped to 1.0, at most 2.1x."""
    speeds = []
    for seg, nat in zip(segments, naturals):
        factor = nat / seg.duration if seg.duration > 0 else 2.1
        factor = 1.0 if 0.8 <= factor <= 1.15 else min(2.1, factor)
        speeds.append(round(factor, 4))
    return _report(segments, naturals, speeds, scene_duration)
