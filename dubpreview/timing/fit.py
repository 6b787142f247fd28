"""Fitting dub lines into their slots: pure functions, no audio.

First version of the timing engine (see the timing section of ``design.md``):

1. A line's *slot* is its own utterance plus the silence up to the next line, minus
   a guard gap (:func:`slots`).
2. A line longer than its slot is re-synthesized at a higher native TTS speed, which
   sounds better than time-stretching, up to ``max_speed`` (:func:`first_speed` from the
   natural length or an estimate of it, then :func:`next_speed` after each measurement,
   and :func:`pick_speed` to choose among the clips tried).
3. Lines start with their source utterance (plus the user's offset); a line is never
   placed over the previous one, so lateness is carried to the next line and shows in
   the report rather than piling up silently (:func:`place`).
4. The report gives per-line speed, overflow, lateness and the totals, including the
   IWSLT 2023 dubbing-track duration metrics M1 and M2.

Peers cap speed-ups at 1.3-1.4x (open-dubbing 1.3, ariel 1.3); beyond 1.3 Kokoro's
speech starts to sound rushed, hence the default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dubpreview.records import Placement, Segment, TimingReport


@dataclass(frozen=True)
class TimingSettings:
    """Knobs of the fit.

    ``max_speed``: highest native synthesis speed (x natural); ``guard_s``: silence kept
    before the next line (seconds); ``tolerance_s``: overflow accepted without another
    synthesis (seconds); ``speed_step``: speeds are rounded up to this step so that
    cached clips are reused across runs.
    """

    max_speed: float = 1.3
    guard_s: float = 0.1
    tolerance_s: float = 0.05
    speed_step: float = 0.01


def slots(segments: list[Segment], scene_duration: float, guard_s: float) -> list[float]:
    """Seconds available to each line: from its start to the next line's start minus
    ``guard_s`` (the scene end for the last line), never less than the source utterance."""
    out = []
    for i, seg in enumerate(segments):
        next_start = segments[i + 1].start if i + 1 < len(segments) else scene_duration + guard_s
        out.append(max(seg.duration, next_start - guard_s - seg.start))
    return out


def _round_up(x: float, step: float) -> float:
    return round(math.ceil(x / step - 1e-9) * step, 6)


def first_speed(natural_s: float, slot_s: float, settings: TimingSettings) -> float:
    """Speed to synthesize at, given the line's natural (speed 1.0) length: 1.0 if it
    fits, else the ratio needed, capped at ``settings.max_speed``."""
    if natural_s <= slot_s + settings.tolerance_s:
        return 1.0
    return min(settings.max_speed, _round_up(natural_s / slot_s, settings.speed_step))


def next_speed(speed: float, measured_s: float, slot_s: float, settings: TimingSettings) -> float | None:
    """The speed to try after a clip made at ``speed`` measured ``measured_s`` seconds, or
    ``None`` to keep it.

    Too long: faster, up to ``max_speed``. Faster than needed (a speed chosen from an
    estimate that overshot): slower, down to 1.0. TTS speed is not exactly linear in
    duration, so the natural length is taken as ``speed * measured_s``.
    """
    natural = speed * measured_s
    if measured_s > slot_s + settings.tolerance_s:
        new = min(settings.max_speed, _round_up(natural / slot_s, settings.speed_step))
        return new if new > speed else None
    if speed > 1.0:
        new = max(1.0, _round_up(natural / slot_s, settings.speed_step))
        return new if new < speed - 2 * settings.speed_step else None
    return None


def pick_speed(tried: dict[float, float], slot_s: float, settings: TimingSettings) -> float:
    """Of the speeds tried (speed -> measured seconds), the slowest whose clip fits the slot,
    else the fastest."""
    fitting = [sp for sp, d in tried.items() if d <= slot_s + settings.tolerance_s]
    return min(fitting) if fitting else max(tried)


def place(segments: list[Segment], durations: list[float], speeds: list[float],
          slot_s: list[float], settings: TimingSettings) -> TimingReport:
    """Placements and the timing report.

    Args:
        segments: the lines in time order (muted lines are skipped by the caller).
        durations: each clip's length in seconds at its chosen speed.
        speeds: the synthesis speed of each clip.
        slot_s: each line's available time (:func:`slots`).
    Returns:
        A :class:`TimingReport`; totals also hold ``lateness_max`` (s) and ``lines``.
    """
    placements: list[Placement] = []
    lateness: list[float] = []
    prev_end = -math.inf
    for seg, dur, speed, slot in zip(segments, durations, speeds, slot_s):
        desired = max(0.0, seg.start + seg.offset_ms / 1000.0)
        start = max(desired, prev_end + settings.guard_s) if prev_end > -math.inf else desired
        late = start - desired
        overflow = max(0.0, start + dur - (seg.start + slot))
        placements.append(Placement(seg.id, round(start, 4), speed, round(dur, 4), round(slot, 4),
                                    round(overflow, 4)))
        lateness.append(round(late, 4))
        prev_end = start + dur
    return TimingReport(placements, totals(segments, placements, lateness))


def totals(segments: list[Segment], placements: list[Placement], lateness: list[float]) -> dict[str, float]:
    """Scene totals: speed percentiles, share above 1.2x, overflow, lateness, IWSLT M1/M2."""
    if not placements:
        return {"lines": 0}
    speeds = np.array([p.speed for p in placements])
    ref = np.array([s.duration for s in segments], dtype=float)
    hyp = np.array([p.duration for p in placements], dtype=float)
    ok = ref > 0
    overflow = np.array([p.overflow for p in placements])
    return {
        "lines": len(placements),
        "speed_p50": float(np.percentile(speeds, 50)),
        "speed_p95": float(np.percentile(speeds, 95)),
        "speed_max": float(speeds.max()),
        "share_above_1_2": float(np.mean(speeds > 1.2)),
        "mean_abs_delta_speed": float(np.mean(np.abs(np.diff(speeds)))) if len(speeds) > 1 else 0.0,
        "lines_overflowing": int(np.sum(overflow > 0)),
        "overflow_total": float(overflow.sum()),
        "overflow_max": float(overflow.max()),
        "lateness_max": float(max(lateness)),
        "m1": float(1 - np.mean(np.abs(hyp[ok] - ref[ok]) / ref[ok])),
        "m2": float(np.mean(np.minimum(hyp[ok], ref[ok]) / np.maximum(hyp[ok], ref[ok]))),
    }
