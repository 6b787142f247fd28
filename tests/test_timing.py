"""The first timing fit: pure functions, checked by properties (hypothesis) and by hand."""

from hypothesis import given, settings, strategies as st

from dubpreview.records import Segment
from dubpreview.timing.fit import TimingSettings, first_speed, next_speed, pick_speed, place, slots

S = TimingSettings()


@st.composite
def scenes(draw):
    """Lines in time order with gaps >= 0, and a natural clip length for each (seconds)."""
    n = draw(st.integers(1, 12))
    t, segs, naturals = 0.0, [], []
    for i in range(n):
        t += draw(st.floats(0.0, 3.0))
        length = draw(st.floats(0.2, 6.0))
        segs.append(Segment(i, round(t, 3), round(t + length, 3), f"line {i}"))
        naturals.append(draw(st.floats(0.1, 12.0)))
        t += length
    tail = draw(st.floats(0.0, 2.0))
    return segs, naturals, t + tail


def simulate(segs, naturals, duration, settings=S):
    """Speeds chosen as the pipeline does, with an ideal TTS whose length is natural / speed."""
    slot_s = slots(segs, duration, settings.guard_s)
    speeds, durs = [], []
    for nat, slot in zip(naturals, slot_s):
        speed = first_speed(nat, slot, settings)
        tried = {}
        for _ in range(4):
            tried[speed] = nat / speed
            nxt = next_speed(speed, nat / speed, slot, settings)
            if nxt is None or nxt in tried:
                break
            speed = nxt
        speed = pick_speed(tried, slot, settings)
        speeds.append(speed)
        durs.append(nat / speed)
    return slot_s, speeds, durs


@settings(max_examples=300, deadline=None)
@given(scenes())
def test_speeds_stay_within_natural_and_maximum(scene):
    segs, naturals, duration = scene
    _, speeds, _ = simulate(segs, naturals, duration)
    assert all(1.0 <= s <= S.max_speed for s in speeds)


@settings(max_examples=300, deadline=None)
@given(scenes())
def test_a_line_that_fits_is_not_sped_up_and_one_that_does_not_is(scene):
    segs, naturals, duration = scene
    slot_s, speeds, _ = simulate(segs, naturals, duration)
    for nat, slot, speed in zip(naturals, slot_s, speeds):
        if nat <= slot:
            assert speed == 1.0
        elif nat > slot + S.tolerance_s:
            assert speed > 1.0


@settings(max_examples=300, deadline=None)
@given(scenes())
def test_placements_in_order_never_overlap_and_report_overflow(scene):
    segs, naturals, duration = scene
    slot_s, speeds, durs = simulate(segs, naturals, duration)
    report = place(segs, durs, speeds, slot_s, S)
    ps = report.placements
    assert [p.segment_id for p in ps] == [s.id for s in segs]
    for a, b in zip(ps, ps[1:]):
        assert b.start >= a.end + S.guard_s - 1e-3  # lines never overlap; lateness is carried
    for p, seg, slot in zip(ps, segs, slot_s):
        assert p.start >= seg.start - 1e-9
        assert abs(p.overflow - max(0.0, p.end - (seg.start + slot))) < 1e-3


@settings(max_examples=200, deadline=None)
@given(scenes())
def test_lines_that_fit_at_the_maximum_speed_never_overflow_when_nothing_is_late(scene):
    segs, naturals, duration = scene
    slot_s, speeds, durs = simulate(segs, naturals, duration)
    report = place(segs, durs, speeds, slot_s, S)
    prev_end = None
    for p, seg, nat, slot in zip(report.placements, segs, naturals, slot_s):
        on_time = prev_end is None or prev_end + S.guard_s <= seg.start
        if on_time and nat / S.max_speed <= slot:
            assert p.overflow <= S.tolerance_s + 1e-6
        prev_end = p.end


def test_report_totals_by_hand():
    segs = [Segment(0, 0.0, 2.0, "a"), Segment(1, 3.0, 4.0, "b")]
    # line 0: slot 2.9 s, natural 2.0 fits; line 1: last line, slot to scene end 6.0 -> 3.0 s
    slot_s = slots(segs, 6.0, 0.1)
    assert slot_s == [2.9, 3.0]
    report = place(segs, [2.0, 1.5], [1.0, 1.0], slot_s, S)
    t = report.totals
    assert t["lines"] == 2 and t["lines_overflowing"] == 0
    # M1 = 1 - mean(|2-2|/2, |1.5-1|/1) = 0.75 ; M2 = mean(1, 1/1.5) = 0.8333
    assert abs(t["m1"] - 0.75) < 1e-9
    assert abs(t["m2"] - (1 + 1 / 1.5) / 2) < 1e-9


def test_lateness_is_carried_and_user_offset_is_honoured():
    segs = [Segment(0, 0.0, 1.0, "a"), Segment(1, 1.2, 2.0, "b", offset_ms=300)]
    report = place(segs, [3.0, 1.0], [1.3, 1.0], slots(segs, 5.0, 0.1), S)
    first, second = report.placements
    assert first.overflow > 0
    # the second line wanted 1.5 s (1.2 s + 300 ms) but the first ends at 3.0 s
    assert abs(second.start - (3.0 + S.guard_s)) < 1e-9
    assert report.totals["lateness_max"] > 1.5
    alone = place(segs[1:], [1.0], [1.0], [3.0], S)
    assert alone.placements[0].start == 1.5


@settings(max_examples=300, deadline=None)
@given(st.floats(0.3, 12.0), st.floats(0.3, 8.0), st.floats(1.0, 1.3), st.floats(0.8, 1.2))
def test_a_wrong_estimate_is_corrected_in_both_directions(natural, slot, start_speed, nonlinearity):
    """Starting from any speed (an estimate), the search ends at the slowest speed that fits,
    with a TTS whose length is not exactly natural / speed."""
    def length(speed):
        return natural / speed ** nonlinearity
    speed, tried = round(start_speed, 2), {}
    for _ in range(4):
        tried[speed] = length(speed)
        nxt = next_speed(speed, tried[speed], slot, S)
        if nxt is None or nxt in tried:
            break
        speed = nxt
    chosen = pick_speed(tried, slot, S)
    assert 1.0 <= chosen <= S.max_speed
    if length(1.0) <= slot:  # fits at natural speed: never left sped up by more than a step or two
        assert tried[chosen] <= slot + S.tolerance_s
    if length(S.max_speed) > slot + S.tolerance_s and nonlinearity >= 1.0:
        assert chosen == max(tried)  # cannot fit: the fastest tried
