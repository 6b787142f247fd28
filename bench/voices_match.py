"""``bench/voices.py match``: the voice chosen per actor, measured on held-out lines.

For each scene the actors' own speech is split in time: the first half of each actor's
speech builds the profile and chooses the voice exactly as the pipeline does
(:func:`dubpreview.voices.profile.measure` then ``choose_voice``, the actor with the most
speech first, the others excluded and kept distinct); the second half is held out. Its
words (AMI: Whisper base then Bergamot to pt; fillets-ng cabin1: the game's human English)
are dubbed three ways: the dub language's default voice, the default of the actor's gender,
and the chosen voice. Each dub is compared with the actor's own held-out speech.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace

import numpy as np
from speakers import DATA, audio16, cos, cut, mfcc_mean, solo_halves  # bench/speakers.py


def f0_of(audio: np.ndarray):
    from dubpreview.voices.world import f0_stats

    return f0_stats(audio, 16000)


def rttm_actors(name: str, asr, min_s: float = 6.0) -> dict:
    """AMI clip ``name``: speaker -> (profile half, held-out half, held-out pt texts)."""
    from dubpreview.diarize import read_rttm
    from dubpreview.records import Segment
    from dubpreview.translate.bergamot import BergamotTranslator

    base = DATA / f"pypi_pyannote-audio_tests_ami-meeting_{name}_en"
    a = audio16(base.with_suffix(".wav"))
    ref = read_rttm(base.with_suffix(".rttm"))
    out = {}
    mt = BergamotTranslator()
    for spk in sorted({t[2] for t in ref}):
        first, second = solo_halves(ref, spk)
        if sum(e - s for s, e in first + second) < min_s:
            continue
        texts = []
        for s, e in second:
            said = " ".join(seg.text.strip() for seg in asr.transcribe(cut(a, [(s, e)]), language="en").segments).strip()
            if said:
                texts.append(said)
        if not texts:
            continue
        pt = mt.translate([Segment(i, 0, 1, t) for i, t in enumerate(texts)], "en", "pt")
        out[spk] = (cut(a, first), cut(a, second), [t for t in pt if t.strip()])
    return out


def fillets_actors() -> dict:
    """fillets-ng cabin1: actor -> (first half of its lines, second half, their human English)."""
    p = DATA / "fillets-ng_cs_dialogue_cabin1"
    segs = json.loads(p.with_suffix(".json").read_text(encoding="utf-8"))["segments"]
    a = audio16(p.with_suffix(".wav"))
    out = {}
    for actor in ("big_fish", "small_fish"):
        lines = [s for s in segs if s["speaker"] == actor]
        half = len(lines) // 2
        out[actor] = (cut(a, [(s["start"], s["end"]) for s in lines[:half]]),
                      cut(a, [(s["start"], s["end"]) for s in lines[half:]]), [s["text"]["en"] for s in lines[half:]])
    return out


def speak(synth, texts: list[str], lang: str, voice: str) -> list[np.ndarray]:
    from dubpreview.voices.resample import to_16k

    return [to_16k(c, synth.sample_rate) for c in synth.synthesize_many([(t, lang, voice, 1.0) for t in texts])]


def joined(clips: list[np.ndarray]) -> np.ndarray:
    gap = np.zeros(int(0.2 * 16000), np.float32)
    return np.concatenate([x for c in clips for x in (c, gap)])


def cer(asr, clips: list[np.ndarray], texts: list[str], lang: str) -> float:
    from dubpreview.integrity.readback import cer as readback_cer

    return readback_cer(texts, [" ".join(s.text for s in asr.transcribe(c, language=lang).segments) for c in clips], lang)


def scene_rows(case: str, actors: dict, lang: str, synth, asr) -> tuple[list[str], list[str]]:
    from dubpreview.diarize.embed import embed_audio
    from dubpreview.tts.voices import default_voice
    from dubpreview.voices.profile import choose_voice, measure
    from dubpreview.voices.world import VoiceTransform

    rows, taken, dubs = [], [], {}
    for actor, (prof_audio, held, texts) in sorted(actors.items(), key=lambda kv: -len(kv[1][0])):
        t0 = time.perf_counter()
        prof = measure(prof_audio, label=actor)
        choice = choose_voice(prof, lang, refine=False, exclude=[c.weights for c in taken], others=taken)
        taken.append(choice)
        seconds = time.perf_counter() - t0
        vid = synth.register(choice)
        lang_default, gender_default = default_voice(lang), default_voice(lang, prof.gender)
        e_held, m_held, f_held = embed_audio(held), mfcc_mean(held), f0_of(held)
        cells = {}
        # the same blend without the WORLD transform (the chosen voice itself when it has none)
        plain = vid if choice.transform.is_identity else synth.register(replace(
            choice, transform=VoiceTransform(choice.transform.source_log_mean, choice.transform.source_log_mean)))
        for key, voice in (("lang", lang_default), ("gender", gender_default), ("matched", vid), ("plain", plain)):
            if key == "plain" and voice == vid:
                cells["plain"] = cells["matched"]
                continue
            clips = speak(synth, texts, lang, voice)
            audio = joined(clips)
            f = f0_of(audio)
            cells[key] = dict(ge2e=float(embed_audio(audio) @ e_held), mfcc=cos(mfcc_mean(audio), m_held),
                              f0_gap=abs(12 * np.log2(f.median_hz / f_held.median_hz)),
                              f0_range=f.log_std / max(f_held.log_std, 1e-6), cer=cer(asr, clips, texts, lang),
                              clips=clips)
        from dubpreview.tts.catalogue import gender_of

        names = ", ".join(f"{k} {v:.2f}" for k, v in choice.weights.items() if v > 0.01)
        voice_gender = {gender_of(k) for k, v in choice.weights.items() if v > 0.01}
        tr = choice.transform
        how = "as it speaks" if tr.is_identity else f"WORLD to {np.exp(tr.target_log_mean):.0f} Hz, x{tr.formant_ratio:.2f} formants"
        beats = cells["matched"]["ge2e"] >= cells["gender"]["ge2e"] - 1e-9
        c = cells
        rows.append(f"| {case} | {actor} | {prof.gender} {prof.f0.median_hz:.0f} Hz | {names} ({choice.method}; {how}) | "
                    f"{'/'.join(sorted(voice_gender))} | "
                    f"{c['lang']['ge2e']:.3f} / {c['gender']['ge2e']:.3f} / **{c['matched']['ge2e']:.3f}** | "
                    f"{c['lang']['mfcc']:.3f} / {c['gender']['mfcc']:.3f} / **{c['matched']['mfcc']:.3f}** | "
                    f"{c['lang']['f0_gap']:.1f} / {c['gender']['f0_gap']:.1f} / {c['matched']['f0_gap']:.1f} | "
                    f"{c['matched']['f0_range']:.2f} | "
                    f"{100 * c['lang']['cer']:.1f} / {100 * c['gender']['cer']:.1f} / {100 * c['matched']['cer']:.1f} | "
                    f"{'yes' if beats else 'NO'} | {c['plain']['ge2e']:.3f} / {c['plain']['mfcc']:.3f} | {seconds:.1f} |")
        print(rows[-1], flush=True)
        clips = c["matched"]["clips"]
        h = max(1, len(clips) // 2)
        dubs[actor] = dict(all=embed_audio(joined(clips)), a=embed_audio(joined(clips[:h])),
                           b=embed_audio(joined(clips[h:])) if len(clips) > 1 else None,
                           orig_a=embed_audio(prof_audio), orig_b=e_held)
    mutual = []
    names = list(dubs)
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            x, y = dubs[names[i]], dubs[names[j]]
            within = [d["a"] @ d["b"] for d in (x, y) if d["b"] is not None]
            own = [d["orig_a"] @ d["orig_b"] for d in (x, y)]
            ok = x["all"] @ y["all"] < min(within + own)  # below one actor's two halves, and one dub's
            mutual.append(f"| {case} | {names[i]} vs {names[j]} | {x['all'] @ y['all']:.3f} | "
                          f"{' / '.join(f'{w:.3f}' for w in within)} | {' / '.join(f'{w:.3f}' for w in own)} | "
                          f"{'yes' if ok else 'NO'} |")
            print(mutual[-1], flush=True)
    return rows, mutual


def match_tables() -> list[str]:
    from dubpreview.pipeline.analyze import transcriber_for
    from dubpreview.settings import DubSettings
    from dubpreview.tts.kokoro import default_synthesizer
    from dubpreview.voices.synth import MatchedSynthesizer

    asr = transcriber_for(DubSettings(targets=["en"]))
    synth = MatchedSynthesizer(default_synthesizer())
    rows = ["| scene | actor | audio says | chosen voice | its gender | GE2E lang default / gender default / chosen | "
            "MFCC same three | F0 gap st same three | F0 range ratio chosen | CER % same three | chosen >= gender default | "
            "chosen voice without WORLD: GE2E / MFCC | choose s |",
            "|---|---|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|"]
    mutual = ["| scene | characters | chosen dubs A vs B | each dub's two halves | each actor's two halves | A vs B below all halves |",
              "|---|---|---:|---:|---:|---|"]
    # tst00 overlaps a lot: each of its four speakers has only 2-4 s that nobody else talks over
    for case, actors, lang in (("AMI tst00 (demo) -> pt", lambda: rttm_actors("tst00", asr, min_s=2.0), "pt"),
                               ("AMI dev00 -> pt", lambda: rttm_actors("dev00", asr), "pt"),
                               ("fillets-ng cabin1 -> en", fillets_actors, "en")):
        r, m = scene_rows(case, actors(), lang, synth, asr)
        rows += r
        mutual += m
    return ["## Voice per actor on held-out lines", ""] + rows + ["", "## Two characters apart", ""] + mutual + [""]
