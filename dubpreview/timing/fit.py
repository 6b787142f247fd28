"""The isochrony engine: where each dub line goes and how fast it is spoken. Pure, no audio.

Inputs are the source lines (start, end, the user's offset and forced speed), each dub
clip's *natural* length (seconds at speed 1.0) and :class:`TimingSettings`; the output is a
:class:`~dubpreview.records.TimingReport` with one :class:`~dubpreview.records.Placement`
per line. The policy (see the timing section of ``design.md``):

1. **Borrow the silence first.** A line's window runs from its start to the next line's
   start minus a guard gap; if the natural clip fits, it is spoken at natural speed,
   starting with the source line (never slowed down below ``min_speed``).
2. **Start a little early** (``early_s``, into the silence before the line) when that lets
   it fit without a speed-up. A line that overruns its slot even at ``max_speed`` with the
   lateness allowed, and that would end more than ``max_overrun_s`` late at the accepted
   speed, may start up to ``max_overrun_s`` early, as far as the silence before it allows
   and no further than it needs to end within that bound at the accepted speed: its
   overrun is split over both ends rather than rushed (step 5). The demo's first line, in
   the transcript of 2026-12-06 (5.2 s of Portuguese for a 2.8 s slot), ended 1.10 s late at
   1.27x; from the start of the silence before it, 0.94 s late at 1.22x.
3. **Speed up gently**, up to ``accepted_speed`` (peers use 1.15-1.2).
4. **Push lateness instead of rushing.** A line that would need more than the accepted
   speed may run into the next line's start by up to ``max_lateness_s``; the next line
   starts that much late and absorbs it in its own silence (lateness is carried, never
   piled up silently: each line's lateness is in the report).
5. **Speed up to the hard maximum** (``max_speed``, peers 1.3-1.4) only when that makes it
   fit. A line that would overrun even at the maximum is spoken at the accepted speed
   instead (``rush_overruns=False``) as long as it then ends at most ``max_overrun_s``
   (1 s) after its slot: it overruns either way, the report says by how much, and the
   lateness is absorbed by the next silences rather than by a rushed line. Past that bound
   it is spoken just fast enough to end ``max_overrun_s`` after its slot (aimed a
   ``tolerance_s`` inside it; at ``max_speed`` when only that is within the bound) when
   ``max_speed`` allows that (a line far out of sync is worse than a slightly hurried one; issue 15: no
   line ends more than 1 s after its slot); a line beyond help even then stays at the
   accepted speed, and the pipeline flags it for a shorter wording.
6. **Smooth the rates**: neighbouring lines closer than ``smoothing_gap_s`` differ by at
   most ``smoothing`` in speed, by raising the slower neighbour (a faster line is shorter,
   so this never adds lateness), because sudden fast lines are what listeners notice.
7. **User overrides win**: a forced speed is used as given; a line with an offset starts
   exactly at its source start plus the offset, and if that overlaps the previous line the
   overlap is reported (``overlap`` on the placement, ``overlaps`` in the totals).

Speeds here are *rates as heard*: natural length over spoken length. Native re-synthesis
is preferred over time-stretching: :func:`synthesis_speed` turns a planned length into the
TTS's own speed parameter from the line's length model (a TTS's length is not exactly
natural / speed; Kokoro's is predicted exactly but for the silence trim, see
:mod:`dubpreview.tts.durations`), and :func:`clip_fits` says whether a clip made does;
:mod:`dubpreview.timing.stretch` serves backends without a speed control.
The report's totals include the IWSLT 2023 dubbing-track duration metrics M1 and M2.
"""

from __future__ import annotations

import math

import numpy as np

from dubpreview.records import Placement, Segment, TimingReport
from dubpreview.settings import TimingSettings


def _round_up(x: float, step: float) -> float:
    return round(math.ceil(x / step - 1e-9) * step, 6)


def desired_starts(segments: list[Segment]) -> list[float]:
    """Each line's source start plus its user offset (seconds, never before 0)."""
    return [max(0.0, s.start + s.offset_ms / 1000.0) for s in segments]


def window_ends(segments: list[Segment], scene_duration: float, guard_s: float) -> list[float]:
    """Where each line's window ends: the next line's desired start minus ``guard_s``;
    the scene's end for the last line."""
    starts = desired_starts(segments)
    return [starts[i + 1] - guard_s if i + 1 < len(segments) else scene_duration
            for i in range(len(segments))]


def slots(segments: list[Segment], scene_duration: float, guard_s: float) -> list[float]:
    """Seconds available to each line from its source start to its window end
    (never less than the source utterance)."""
    ends = window_ends(segments, scene_duration, guard_s)
    return [max(s.duration, end - s.start) for s, end in zip(segments, ends)]


FLOAT_EPS = 1e-9
"""Relative slack of the speed comparisons: times like 1.2 - 0.1 are 1.0999999999999999 in
floating point, and a line that fits at exactly the maximum speed must count as fitting
(found by the property test in ``tests/test_timing.py``)."""


def _choose_speed(natural: float, start: float, win_end: float, is_last: bool,
                  settings: TimingSettings) -> float:
    """Speed for one line starting at ``start`` (steps 1, 3, 4, 5 of the module docstring)."""
    room = win_end - start
    need = natural / room if room > 0 else math.inf
    if need <= settings.min_speed:
        return settings.min_speed
    if need <= settings.accepted_speed:
        return need
    ext_room = room + (0.0 if is_last else settings.max_lateness_s)
    need_ext = natural / ext_room if ext_room > 0 else math.inf
    if need_ext <= settings.accepted_speed:
        return settings.accepted_speed
    if need_ext <= settings.max_speed * (1 + FLOAT_EPS) or settings.rush_overruns:
        return min(settings.max_speed, need_ext)
    # it overruns at any speed: not rushed while it ends within max_overrun_s of its slot
    # (aimed a synthesis tolerance inside it, so that the clip made ends within it too)
    cap_room = room + max(0.0, settings.max_overrun_s - settings.tolerance_s)
    need_cap = natural / cap_room if cap_room > 0 else math.inf
    if need_cap <= settings.max_speed * (1 + FLOAT_EPS):
        return min(settings.max_speed, max(settings.accepted_speed, need_cap))
    hard_room = room + settings.max_overrun_s
    if hard_room > 0 and natural / hard_room <= settings.max_speed * (1 + FLOAT_EPS):
        return settings.max_speed  # within max_overrun_s only at the maximum: no room left for the aim
    return settings.accepted_speed  # beyond help at any speed: flagged for a shorter wording, not rushed


def plan(segments: list[Segment], naturals: list[float], settings: TimingSettings,
         scene_duration: float) -> TimingReport:
    """Choose a speed and a start for every line from the natural clip lengths.

    Args:
        segments: the dubbed lines in time order (``offset_ms`` and ``speed`` are the
            user's overrides; ``speed`` None = automatic).
        naturals: each clip's length in seconds at speed 1.0.
        scene_duration: seconds; the last line's window ends there.
    Returns:
        The report of the lines as planned (each clip's length taken as natural / speed).
    """
    n = len(segments)
    desired = desired_starts(segments)
    ends = window_ends(segments, scene_duration, settings.guard_s)
    speeds: list[float] = []
    targets: list[float] = []
    prev_end = -math.inf
    for i, (seg, natural) in enumerate(zip(segments, naturals)):
        start = desired[i] if seg.offset_ms else max(desired[i], prev_end + settings.guard_s)
        if seg.speed is not None:
            speed = seg.speed
        else:
            fits_at = natural / settings.min_speed
            if (settings.allow_early and not seg.offset_ms and start == desired[i]
                    and start + fits_at > ends[i]):
                earliest = max(0.0, desired[i] - settings.early_s, prev_end + settings.guard_s)
                start = max(earliest, min(start, ends[i] - fits_at))
                ext = 0.0 if i == n - 1 else settings.max_lateness_s
                bound = ends[i] + settings.max_overrun_s - settings.tolerance_s  # step 2: an overrun split
                if (not settings.rush_overruns and natural > (ends[i] + ext - start) * settings.max_speed * (1 + FLOAT_EPS)
                        and start + natural / settings.accepted_speed > bound):
                    earliest = max(0.0, desired[i] - max(settings.early_s, settings.max_overrun_s),
                                   prev_end + settings.guard_s)
                    start = max(earliest, min(start, bound - natural / settings.accepted_speed))
            speed = _round_up(max(settings.min_speed, _choose_speed(natural, start, ends[i], i == n - 1, settings)),
                              settings.speed_step)
            speed = min(speed, max(settings.max_speed, settings.min_speed))
        speeds.append(speed)
        targets.append(start)
        prev_end = start + natural / speed
    speeds = smooth(segments, speeds, settings)
    return place(segments, [nat / sp for nat, sp in zip(naturals, speeds)], speeds, settings, scene_duration,
                 targets=[min(t, d) for t, d in zip(targets, desired)])


def smooth(segments: list[Segment], speeds: list[float], settings: TimingSettings) -> list[float]:
    """Raise speeds so that close neighbours differ by at most ``settings.smoothing``
    (a slope limit run forwards and backwards; forced speeds are left alone)."""
    if settings.smoothing <= 0:
        return list(speeds)
    out = list(speeds)
    free = [s.speed is None for s in segments]

    def close(i: int, j: int) -> bool:
        a, b = sorted((i, j))
        return segments[b].start - segments[a].end <= settings.smoothing_gap_s

    order = list(range(1, len(out)))
    for i in order:
        if free[i] and close(i - 1, i):
            out[i] = max(out[i], min(settings.max_speed, out[i - 1] - settings.smoothing))
    for i in reversed(range(len(out) - 1)):
        if free[i] and close(i, i + 1):
            out[i] = max(out[i], min(settings.max_speed, out[i + 1] - settings.smoothing))
    return [round(s, 6) for s in out]


def place(segments: list[Segment], durations: list[float], speeds: list[float], settings: TimingSettings,
          scene_duration: float, targets: list[float] | None = None) -> TimingReport:
    """Lay the clips out in time: the placements and the report.

    Each line starts at its target (default: its desired start; :func:`plan` passes an
    earlier one where it chose to start early) or right after the previous line plus the
    guard gap, whichever is later; a line with a user offset starts exactly at its
    desired start, and any overlap with the previous line is recorded.

    Args:
        durations: each clip's real length in seconds at its speed.
        speeds: the speed of each clip.
    """
    desired = desired_starts(segments)
    ends = window_ends(segments, scene_duration, settings.guard_s)
    targets = targets if targets is not None else desired
    placements: list[Placement] = []
    prev_end = -math.inf
    for i, (seg, dur, speed) in enumerate(zip(segments, durations, speeds)):
        if seg.offset_ms:
            start = desired[i]
        else:
            start = max(targets[i], prev_end + settings.guard_s)
        overlap = max(0.0, prev_end - start)
        placements.append(Placement(
            segment_id=seg.id, start=round(start, 4), speed=speed, duration=round(dur, 4),
            slot=round(max(0.0, ends[i] - seg.start), 4), overflow=round(max(0.0, start + dur - ends[i]), 4),
            lateness=round(max(0.0, start - desired[i]), 4), overlap=round(overlap, 4),
            desired_start=round(desired[i], 4)))
        prev_end = max(prev_end, start + dur)
    return TimingReport(placements, totals(segments, placements, settings))


def totals(segments: list[Segment], placements: list[Placement], settings: TimingSettings) -> dict[str, float]:
    """Scene totals: speed p50/p95/max, share above 1.2x and above the accepted speed, mean
    |Δspeed| between neighbours, overflow, lateness, overlaps, IWSLT 2023 M1/M2."""
    if not placements:
        return {"lines": 0}
    speeds = np.array([p.speed for p in placements])
    ref = np.array([s.duration for s in segments], dtype=float)
    hyp = np.array([p.duration for p in placements], dtype=float)
    ok = ref > 0
    overflow = np.array([p.overflow for p in placements])
    overlap = np.array([p.overlap for p in placements])
    return {
        "lines": len(placements),
        "speed_p50": float(np.percentile(speeds, 50)),
        "speed_p95": float(np.percentile(speeds, 95)),
        "speed_max": float(speeds.max()),
        "share_above_1_2": float(np.mean(speeds > 1.2 + 1e-9)),
        "share_above_accepted": float(np.mean(speeds > settings.accepted_speed + 1e-9)),
        "mean_abs_delta_speed": float(np.mean(np.abs(np.diff(speeds)))) if len(speeds) > 1 else 0.0,
        "lines_overflowing": int(np.sum(overflow > settings.tolerance_s)),
        "overflow_total": float(overflow.sum()),
        "overflow_max": float(overflow.max()),
        "lateness_max": float(max(p.lateness for p in placements)),
        "lateness_mean": float(np.mean([p.lateness for p in placements])),
        "overlaps": int(np.sum(overlap > 0)),
        "overlap_total": float(overlap.sum()),
        "m1": float(1 - np.mean(np.abs(hyp[ok] - ref[ok]) / ref[ok])) if ok.any() else 0.0,
        "m2": float(np.mean(np.minimum(hyp[ok], ref[ok]) / np.maximum(hyp[ok], ref[ok]))) if ok.any() else 0.0,
    }


RATE_TOLERANCE = 0.002
"""A rendered line may be this much (relative) faster than planned: next to none, so a line
planned at the accepted speed is not heard above it."""


def synthesis_speed(seconds, natural_s: float, target_s: float, settings: TimingSettings,
                    bounds: tuple[float, float] = (1.0, 2.0)) -> float:
    """The TTS speed to synthesize a line at so that it lasts ``target_s`` seconds, from its
    length model ``seconds(speed) -> seconds`` (:mod:`dubpreview.tts.durations`; ``natural_s``
    is its length at speed 1.0): every speed of the ``speed_step`` grid within ``bounds`` is
    judged on its predicted length: of those that :func:`clip_fits`, the one closest to the
    middle of the accepted window (``target_s + tolerance_s / 2``: a prediction a little off
    either way still fits); else :func:`pick_clip`'s choice, the same rule as after synthesis.
    A line that fits at natural speed gets 1.0."""
    if target_s <= 0 or natural_s <= target_s + 1e-9:
        return 1.0
    step = settings.speed_step
    grid = [round(bounds[0] + k * step, 6) for k in range(int(round((bounds[1] - bounds[0]) / step)) + 1)]
    lengths = {sp: seconds(sp) for sp in grid}
    aim = target_s + settings.tolerance_s / 2
    good = [sp for sp, n in lengths.items() if clip_fits(n, natural_s, target_s, settings)]
    if good:
        return min(good, key=lambda sp: abs(lengths[sp] - aim))
    return pick_clip(lengths, natural_s, target_s, settings)


def clip_fits(length_s: float, natural_s: float, target_s: float, settings: TimingSettings) -> bool:
    """Whether a clip of ``length_s`` seconds does for a line planned to last ``target_s``:
    not longer than ``tolerance_s`` over it, and not faster than planned by more than
    :data:`RATE_TOLERANCE` (the first choice of :func:`pick_clip`)."""
    return (length_s <= target_s + settings.tolerance_s
            and natural_s / max(length_s, 1e-9) <= (natural_s / target_s) * (1 + RATE_TOLERANCE))


def pick_clip(lengths: dict[float, float], natural_s: float, target_s: float, settings: TimingSettings) -> float:
    """Of the clips tried (TTS speed -> length in seconds), the one to use: the best fit
    among those neither longer than ``target_s`` + tolerance nor faster than planned by more
    than :data:`RATE_TOLERANCE`; else the closest to the target among those no faster than
    the accepted speed (or the planned rate, if higher) and at most ``max_lateness_s`` too
    long (a line a little late sounds better than a rushed one); else the closest among
    those within ``max_speed``; else the slowest. Returns its TTS speed."""
    planned_rate = natural_s / target_s

    def rate(k: float) -> float:
        return natural_s / lengths[k] if lengths[k] > 0 else math.inf

    good = [k for k in lengths if clip_fits(lengths[k], natural_s, target_s, settings)]
    if good:
        return min(good, key=lambda k: abs(lengths[k] - target_s))
    calm = max(settings.accepted_speed, planned_rate) * (1 + RATE_TOLERANCE)
    unhurried = [k for k in lengths if rate(k) <= calm and lengths[k] <= target_s + settings.max_lateness_s]
    if unhurried:  # a little late rather than above the accepted speed
        return min(unhurried, key=lambda k: abs(lengths[k] - target_s))
    capped = [k for k in lengths if rate(k) <= settings.max_speed + 1e-9]
    if capped:
        return min(capped, key=lambda k: abs(lengths[k] - target_s))
    return min(lengths, key=rate)
