"""Speak every line of one dub language and fit it into its slot.

:func:`synthesize_and_fit` predicts each line's length at any speed before any audio is
made (Kokoro's duration predictor), plans the timing with the pure engine
(:mod:`dubpreview.timing.fit`), synthesizes each line once at the speed its plan needs
(cached: :mod:`dubpreview.pipeline.clips`) and at most once more where the clip missed,
and lays the clips out. A line keeps the clip the last render gave it (for instance before
a timing edit) while that clip is close enough to its new plan (:func:`keeps`: within the
planner's own lateness allowance and speed step, never above the maximum speed), so a
timing edit synthesizes nothing while the lines stay within their speed limits, and a text
edit synthesizes that line and only those neighbours whose fit moves further.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dubpreview.errors import DubError
from dubpreview.mix.duck import MixedLine
from dubpreview.pipeline.clips import Clips
from dubpreview.pipeline.stages import Stages
from dubpreview.project.store import Project
from dubpreview.records import Segment, TimingReport
from dubpreview.settings import DubSettings, TimingSettings
from dubpreview.timing.fit import RATE_TOLERANCE, clip_fits, pick_clip, place, plan, synthesis_speed


def shorten_lines(segments: list[Segment], naturals: list[float], report: TimingReport, lang: str,
                  translator, synth, timing: TimingSettings, n: int = 4) -> list[int]:
    """Length-aware translation: where a line does not fit its window at the accepted speed
    and the translator gives n-best candidates (``translate_nbest``), take the best-scoring one that
    fits (:func:`dubpreview.timing.length.choose`). Lines the user edited, and lines whose
    candidates an earlier render already weighed (``alternatives``), are left alone.
    ``translator`` may also be a function of no arguments that makes it: it is called only
    when a line needs candidates (a render after an edit seldom does, and builds no model).

    Updates the segments in place (``translation``, ``alternatives``, ``shortened``) and
    returns the indices of the lines that changed.
    """
    from dubpreview.timing.length import choose, rank

    def rushed(i: int) -> bool:  # does not fit its window even at the accepted speed
        p = report.placements[i]
        return naturals[i] / timing.accepted_speed > p.slot - (p.start - segments[i].start) + timing.tolerance_s

    todo = [i for i, seg in enumerate(segments)
            if rushed(i) and lang not in seg.edited and seg.speed is None and lang not in seg.alternatives]
    if not todo or translator is None:
        return []
    if callable(translator) and not hasattr(translator, "translate_nbest"):
        translator = translator()
    nbest = getattr(translator, "translate_nbest", None)
    if nbest is None:
        return []
    candidates = nbest([segments[i].text for i in todo], n)
    changed = []
    for i, cands in zip(todo, candidates):
        seg, p = segments[i], report.placements[i]
        units = synth.units(seg.translation[lang], lang) or 1
        per_unit = naturals[i] / units
        ranked = rank(cands + [(seg.translation[lang], max((c[1] for c in cands), default=0.0))],
                      lambda text: synth.units(text, lang) * per_unit)
        room = max(1e-3, p.slot - (p.start - seg.start))
        pick = choose(ranked, naturals[i], room * timing.accepted_speed)
        seg.alternatives[lang] = [vars(c) for c in ranked]
        if pick is not None and pick.text != seg.translation[lang]:
            seg.translation[lang] = pick.text
            seg.shortened = sorted(set(seg.shortened) | {lang})
            changed.append(i)
    return changed


def nbest_translator(settings: DubSettings, source: str, target: str):
    """The run's translator for ``source -> target`` when it can give n-best candidates
    (for length-aware translation), else None."""
    from dubpreview.pipeline.analyze import transcriber_for, translator_for

    if settings.translation_file or source == target:
        return None
    try:
        translator = translator_for(settings, source, target, transcriber_for(settings))
    except DubError:
        return None
    return translator if hasattr(translator, "translate_nbest") else None


def earlier_speeds(project: Project, lang: str, timing: TimingSettings) -> dict[int, tuple[float, str]]:
    """The TTS speed each line of ``lang`` was synthesized at by the last render and its clip
    (``timing.json``: speed, path in the project), by line id; empty when there was none,
    when the project's state does not know it (a ``project.json`` made again from scratch: that ``timing.json`` is stale), or
    when that render had other ``timing`` settings (the user asked for another fit: every
    line is fitted afresh)."""
    if lang not in (project.state.get("timing") or {}):
        return {}
    try:
        stored = json.loads((project.root / "timing.json").read_text(encoding="utf-8"))
        if stored.get("settings") != timing.model_dump(mode="json"):
            return {}
        report = stored["languages"][lang]
        return {int(ln["segment_id"]): (float(ln["synthesis_speed"]), str(ln.get("clip")))
                for ln in report["lines"] if ln.get("synthesis_speed") is not None}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


STICKY_SPEED = 0.1
"""How much faster (x) than the new plan wants an earlier render's clip may be and stay (never
above ``max_speed``): one step of the planner's own speed smoothing between neighbours."""


def keeps(length_s: float, natural_s: float, target_s: float, timing: TimingSettings,
          earlier: bool = False) -> bool:
    """Whether a clip of ``length_s`` seconds may stay for a line now planned to last
    ``target_s`` (``natural_s`` at speed 1): it fits (:func:`~dubpreview.timing.fit.clip_fits`),
    or it is at most ``tolerance_s`` longer than planned and no faster than the accepted speed
    or the planned rate, whichever is higher.

    ``earlier``: the clip an earlier render used, with the same timing settings. It also stays
    while it is at most ``max_lateness_s`` longer than planned (the push the planner itself
    accepts before speeding a line up further, :mod:`dubpreview.timing.fit`) and at most
    :data:`STICKY_SPEED` faster than planned, within ``max_speed``: an edit that nudges the
    slots of a line and its neighbours moves their clips, it does not re-synthesize them
    (issue 16)."""
    if clip_fits(length_s, natural_s, target_s, timing):
        return True
    rate, planned = natural_s / max(length_s, 1e-9), natural_s / max(target_s, 1e-9)
    ceiling = max(timing.accepted_speed, planned)
    if earlier:
        ceiling = max(ceiling, min(timing.max_speed, planned + STICKY_SPEED))
    return (length_s <= target_s + timing.tolerance_s + (timing.max_lateness_s if earlier else 0.0)
            and rate <= ceiling * (1 + RATE_TOLERANCE))


def synthesize_and_fit(project: Project, segments: list[Segment], lang: str, duration: float,
                       settings: DubSettings, stages: Stages,
                       translator=None) -> tuple[TimingReport, list[MixedLine]]:
    """Synthesize every dubbed line of ``lang`` and fit it (:mod:`dubpreview.timing.fit`).

    Each line's length at any speed is predicted first (:meth:`Clips.length_model`: Kokoro's
    duration predictor, no audio); the pure planner chooses rates and starts from those
    natural lengths; lines that would be rushed get a shorter translation where
    ``translator`` offers n-best candidates; every line is then synthesized once, at the TTS
    speed its length model gives for its planned length (:func:`~dubpreview.timing.fit.synthesis_speed`),
    unless that clip, or the clip the last render used (:func:`earlier_speeds`, :func:`keeps`),
    is cached. The measured clips correct the length models and the plan is made again on
    them; a line whose clip does not fit the new plan is synthesized at most once more, at
    the corrected model's speed, and the better of its two clips is kept
    (:func:`~dubpreview.timing.fit.pick_clip`). The final placement uses the real clip
    lengths, and its speeds are the rates as heard (natural / real length).
    Returns the timing report (its lines carry the clip paths) and the lines ready to mix.
    """
    from dubpreview.integrity.flags import held
    from dubpreview.tts.kokoro import default_synthesizer, parallel_map
    from dubpreview.voices.scene import foreign_voice_notes, line_voice, speaker_synth

    speakers = project.state.get("speakers") or {}
    synth = speaker_synth(speakers, lang, settings.voices, default_synthesizer(settings.threads))
    by_speaker = {spk: line_voice(None, info, lang, settings.voices) for spk, info in speakers.items()}
    for message in foreign_voice_notes(synth, by_speaker, lang):
        stages.note(message)
    timing = settings.timing
    active = [s for s in segments if not s.muted and s.translation.get(lang, "").strip() and not held(s, lang)]
    clips = Clips(project, synth)
    rate_hz = synth.sample_rate
    before = earlier_speeds(project, lang, settings.timing)

    def voice_of(seg: Segment) -> str:
        return line_voice(seg.voice, speakers.get(seg.speaker), lang, settings.voices)

    def model_of(seg: Segment):
        return clips.length_model(seg.translation[lang], lang, voice_of(seg))

    def earlier(i: int, clip: tuple[np.ndarray, Path]) -> bool:
        """Whether ``clip`` is the one line ``i`` had in the last render."""
        return clip[1].relative_to(project.root).as_posix() == before.get(active[i].id, (0.0, None))[1]

    def first_clip(i: int) -> tuple[float, tuple[np.ndarray, Path]]:
        """(TTS speed, clip) of line ``i``'s first clip: the planned one if cached, else the
        last render's if it still does (:func:`keeps`), else the planned one synthesized."""
        seg, text, voice = active[i], active[i].translation[lang], voice_of(active[i])
        hit = clips.cached(text, lang, voice, first[i])
        speed = before.get(seg.id, (None, None))[0]
        if hit is None and speed not in (None, first[i]):
            old = clips.cached(text, lang, voice, speed)
            if old is not None and keeps(len(old[0]) / rate_hz, naturals[i], naturals[i] / planned.placements[i].speed,
                                         timing, earlier(i, old)):
                return speed, old
        return first[i], hit or clips.at(text, lang, voice, first[i])

    label = ("voices per speaker" if speakers and not settings.voices.voice
             else line_voice(None, None, lang, settings.voices))
    workers = getattr(synth, "workers", 1)  # independent lines in parallel (tts/kokoro.py: 1.3x on 2 cores)
    with stages.stage(f"synthesize {lang} ({synth.name}, {label})") as st:
        models = parallel_map(model_of, active, workers)
        naturals = [m.seconds(1.0) for m in models]
        planned = plan(active, naturals, timing, duration)
        changed = shorten_lines(active, naturals, planned, lang, translator, synth, timing)
        if changed:
            for i, m in zip(changed, parallel_map(model_of, [active[i] for i in changed], workers)):
                models[i], naturals[i] = m, m.seconds(1.0)
            planned = plan(active, naturals, timing, duration)
        first = [synthesis_speed(m.seconds, nat, nat / p.speed, timing)
                 for m, nat, p in zip(models, naturals, planned.placements)]
        made = parallel_map(first_clip, list(range(len(active))), workers)
        first = [sp for sp, _ in made]
        made = [clip for _, clip in made]
        for i, (m, sp, clip) in enumerate(zip(models, first, made)):  # each model corrected by its clip
            predicted, real = m.seconds(sp), len(clip[0]) / rate_hz
            if predicted > 0 and real > 0:
                models[i] = m.scaled(real / predicted)
                naturals[i] = models[i].seconds(1.0)
        planned = plan(active, naturals, timing, duration)

        def refit(i: int) -> tuple[tuple[np.ndarray, Path], float, float]:
            natural, target = naturals[i], naturals[i] / planned.placements[i].speed
            tried = {first[i]: made[i]}
            lengths = {first[i]: len(made[i][0]) / rate_hz}
            if natural <= 0 or target <= 0 or keeps(lengths[first[i]], natural, target, timing, earlier(i, made[i])):
                return made[i], lengths[first[i]], first[i]
            again = synthesis_speed(models[i].seconds, natural, target, timing)  # at most once more
            if again not in tried:
                text = active[i].translation[lang]
                tried[again] = clips.at(text, lang, voice_of(active[i]), again)
                lengths[again] = len(tried[again][0]) / rate_hz
            pick = pick_clip(lengths, natural, target, timing)
            return tried[pick], lengths[pick], pick

        fitted = parallel_map(refit, list(range(len(active))), workers)
        st["status"] = "cached" if clips.counts["computed"] == 0 else "computed"
        st["extra"] = dict(clips.counts)
    durations = [f[1] for f in fitted]
    targets = [min(p.start, p.desired_start) for p in planned.placements]
    rates = [round(nat / dur, 4) if dur > 0 else 1.0 for nat, dur in zip(naturals, durations)]
    report = place(active, durations, rates, timing, duration, targets=targets)
    flag_overruns(active, report, lang, duration, timing)
    report.clips = [path.relative_to(project.root).as_posix() for (_, path), _, _ in fitted]  # a moved folder works
    report.naturals = naturals
    report.synthesis_speeds = [f[2] for f in fitted]
    lines = [MixedLine(p.start, samples, synth.sample_rate, seg.start, seg.end)
             for p, ((samples, _), _, _), seg in zip(report.placements, fitted, active)]
    return report, lines


def flag_overruns(segments: list[Segment], report: TimingReport, lang: str, duration: float,
                  timing: TimingSettings) -> None:
    """Flag :data:`~dubpreview.integrity.flags.OVERRUN` on the lines of ``lang`` that end
    more than ``timing.max_overrun_s`` after their slot or more than ``timing.tolerance_s``
    past the scene's end (``duration``, seconds; the stem stops there), clearing the flag
    where a new fit no longer overruns."""
    from dubpreview.integrity import flags

    for seg, p in zip(segments, report.placements):
        seg.flags = [f for f in seg.flags if (f.reason, f.language) != (flags.OVERRUN, lang)]
        past_end = p.start + p.duration - duration
        if past_end > timing.tolerance_s:
            flags.add(seg, flags.OVERRUN, f"runs {past_end:.1f} s past the end of the scene: cut there", lang)
        elif p.overflow > timing.max_overrun_s:
            flags.add(seg, flags.OVERRUN, f"ends {p.overflow:.1f} s after its slot at {p.speed:.2f}x", lang)
