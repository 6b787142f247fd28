"""The Kokoro voices, measured: intelligibility per language, speed on two cores, and how
well the voice chosen for each actor fits on lines it was not chosen on. Prints tables.

Sections (each may be run alone; all by default):

``cer``
    Each voice speaks a fixed set of real sentences of each offered dub language and
    Whisper base (faster-whisper, beam 5, language given) reads them back; the score is
    the character error rate against the text spoken (:mod:`dubpreview.integrity.readback`:
    lower case, no punctuation; Hindi compared as a consonant skeleton across scripts),
    and the voice's median F0 (WORLD). Sentences: the Fish Fillets NG cabin1 human
    translations (en, es, fr, it; tests/data); pt: those English lines through Bergamot;
    hi: the voice bank's calibration sentences (no human Hindi text ships here). Every
    voice of the language itself, plus a fixed sample of other voices
    (:data:`CROSS_SAMPLE`: what speaking a language through espeak phonemes costs).
    ``voices/presets.json`` takes the default female and male voice per language from it.
``parallel``
    The same lines synthesized one at a time on 2 onnxruntime threads vs two at a time on
    one thread each: wall seconds, CPU seconds, CPU utilisation.
``durations``
    How well a line's length is known before synthesis (:mod:`dubpreview.tts.durations`):
    each language's default female and male voice speak the ``cer`` sentences (none of them
    among the lines the trim fit was made on) at speeds 1.0 and 1.25; per language, the
    share of clips whose untrimmed length the predictor gives to the sample, and the error
    of the predicted trimmed length (mean, sd, largest); then :data:`~dubpreview.tts.durations.TRIM_FIT`
    fitted again on these clips.
``match``
    Per character of AMI tst00 (the demo), AMI dev00 and fillets-ng cabin1: the voice is
    chosen from the first half of the character's speech; the second half (held out) is
    dubbed with the chosen voice, with the language's default voice and with the
    gender-matched default, and compared with the actor's own held-out speech: GE2E
    cosine (the encoder the choice uses), and measures the choice never looks at (cosine
    of mean MFCC c1-c19, F0 median gap and F0 range ratio), plus the back-read CER; then
    the two main characters' mutual similarity against that of two halves of one actor.

    python bench/voices.py [cer] [parallel] [durations] [match] [--lines 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "tests" / "data"
sys.path.insert(0, str(ROOT / "bench"))

CROSS_SAMPLE = ("af_heart", "af_bella", "bf_emma", "am_michael", "am_fenrir", "bm_george",
                "jf_gongitsune", "jm_kumo")
"""Voices of other languages also read back in each language (the five PyPI voices' best two,
and well-graded English voices of both genders and accents)."""


def sentences(n: int) -> dict[str, list[str]]:
    """language -> the sentences every voice speaks (see the module docstring)."""
    from dubpreview.records import Segment
    from dubpreview.translate.bergamot import BergamotTranslator
    from dubpreview.voices.bank import CALIBRATION

    script = json.loads((DATA / "fillets-ng_cs_dialogue_cabin1.json").read_text())["segments"]
    lines = [s for s in script if len(s["text"]["en"]) > 25][:n]
    out = {lang: [s["text"][lang] for s in lines] for lang in ("en", "es", "fr", "it")}
    out["pt"] = BergamotTranslator().translate([Segment(i, 0, 1, t) for i, t in enumerate(out["en"])], "en", "pt")
    out["hi"] = list(CALIBRATION["hi"])
    return out


def read_back_cer(asr, clips: list[np.ndarray], rate: int, texts: list[str], lang: str) -> float:
    """CER (0-1, :mod:`dubpreview.integrity.readback`) of Whisper reading ``clips`` (at
    ``rate`` Hz) back against ``texts``."""
    from dubpreview.integrity.readback import cer
    from dubpreview.voices.resample import to_16k

    hyp = [" ".join(s.text for s in asr.transcribe(to_16k(c, rate), language=lang).segments) for c in clips]
    return cer(texts, hyp, lang)


CROSS_MARGIN = 0.02
"""A voice of another language may voice a character (presets ``cross_language``) where its
read-back CER is within this of the default voice of its gender (0-1)."""
MAIN_ACCENT = {"en": "en-US"}
CHARACTER_VOICES = ("_santa",)
"""Kokoro's Christmas voices (am_santa, em_santa, pm_santa): a character, not a default; they
stay candidates for matching and can be picked."""
TYPICAL_HZ = {"female": 210.0, "male": 120.0}


def choose_presets(results: list[dict]) -> dict:
    """``default_voice`` (language -> gender -> voice) and ``cross_language`` from the CER
    rows: the lowest CER, in whole percent (one character in five sentences is 0.4 %: noise),
    among the language's own voices of that gender (none: among all voices of the gender),
    Kokoro's Christmas voices left out; ties go to the language's main accent, then to the
    median F0 nearest the gender's typical pitch (room to move either way)."""
    defaults, cross = {}, {}
    for lang in sorted({r["language"] for r in results}):
        rows = [r for r in results if r["language"] == lang]
        defaults[lang] = {}
        for gender in ("female", "male"):
            mine = [r for r in rows if r["gender"] == gender and not r["voice"].endswith(CHARACTER_VOICES)]
            own = [r for r in mine if r["own"]] or mine
            best = min(own, key=lambda r: (round(r["cer"], 2), r["accent"] != MAIN_ACCENT.get(lang, r["accent"]),
                                           abs(np.log(r["f0"] / TYPICAL_HZ[gender]))))
            defaults[lang][gender] = best["voice"]
            cross.setdefault(lang, []).extend(r["voice"] for r in mine if not r["own"]
                                              and r["cer"] <= best["cer"] + CROSS_MARGIN)
    return {"default_voice": defaults, "cross_language": {k: sorted(v) for k, v in cross.items()}}


def cer_table(n: int, languages: list[str], results: list[dict] | None = None) -> list[str]:
    from dubpreview.pipeline.analyze import transcriber_for
    from dubpreview.settings import DubSettings
    from dubpreview.tts.catalogue import info
    from dubpreview.tts.kokoro import default_synthesizer
    from dubpreview.voices.world import f0_stats

    synth, asr = default_synthesizer(), transcriber_for(DubSettings(targets=["en"]))
    texts = sentences(n)
    rows = ["| language | voice | own language | gender | CER % | median F0 Hz |", "|---|---|---|---|---:|---:|"]
    print("\n".join(rows), flush=True)
    for lang in languages:
        own = [v for v in synth.voices() if info(v).language == lang]
        # a gender with no voice of its own in the language: every voice of that gender is measured
        lacking = {g for g in ("female", "male") if not any(info(v).gender == g for v in own)}
        voices = own + [v for v in synth.voices() if info(v).language != lang
                        and (v in CROSS_SAMPLE or info(v).gender in lacking)]
        for voice in voices:
            if voice not in synth.voices():
                continue
            clips = synth.synthesize_many([(t, lang, voice, 1.0) for t in texts[lang]])
            cer = read_back_cer(asr, clips, synth.sample_rate, texts[lang], lang)
            f0 = f0_stats(np.concatenate(clips), synth.sample_rate).median_hz
            vi = info(voice)
            if results is not None:
                results.append(dict(language=lang, voice=voice, own=vi.language == lang, accent=vi.accent,
                                    gender=vi.gender, cer=cer, f0=f0))
            rows.append(f"| {lang} | {voice} | {'yes' if vi.language == lang else vi.accent} | {vi.gender} | "
                        f"{100 * cer:.1f} | {f0:.0f} |")
            print(rows[-1], flush=True)
    return rows


def parallel_table(n: int) -> list[str]:
    from dubpreview.tts.kokoro import KokoroSynthesizer

    texts = sentences(n)["pt"] * 3
    rows = ["| lines at once | onnxruntime threads each | wall s | CPU s | CPU utilisation % | audio s |",
            "|---:|---:|---:|---:|---:|---:|"]
    for threads, workers in ((2, 1), (2, 2)):
        synth = KokoroSynthesizer(threads, workers)
        synth.synthesize("Olá.", "pt", "pf_dora")  # load
        t0, c0 = time.perf_counter(), time.process_time()
        clips = synth.synthesize_many([(t, "pt", "pf_dora", 1.0) for t in texts])
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        rows.append(f"| {workers} | {max(1, threads // workers)} | {wall:.1f} | {cpu:.1f} | {100 * cpu / wall:.0f} | "
                    f"{sum(map(len, clips)) / synth.sample_rate:.1f} |")
        print(rows[-1], flush=True)
    return rows


def durations_table(n: int, languages: list[str]) -> list[str]:
    from dubpreview.tts.durations import FRAME_S, FRAME_SAMPLES, KokoroLength, _frames
    from dubpreview.tts.kokoro import KokoroSynthesizer
    from dubpreview.tts.phonemes import phonemize
    from dubpreview.tts.voices import default_voice

    synth = KokoroSynthesizer(2, 1)
    texts = sentences(n)
    rows = ["| language | voice | clips | untrimmed exact | error mean s | error sd s | largest error s |",
            "|---|---|---:|---:|---:|---:|---:|"]
    fit_x, fit_y = [], []
    for lang in languages:
        for gender in ("female", "male"):
            voice = default_voice(lang, gender)
            exact, errors = 0, []
            for text in texts[lang]:
                model = synth.length_model(text, lang, voice)
                toks = synth.tokens(phonemize(text, lang))
                for speed in (1.0, 1.25):
                    if len(model.chunks) == 1:
                        raw = synth._session.run(None, {"tokens": np.array([[0, *toks, 0]], np.int64),
                                                        "style": synth.style(voice, len(toks)),
                                                        "speed": np.array([speed], np.float32)})[0]
                        exact += int(np.asarray(raw).size == model.untrimmed_frames(speed) * FRAME_SAMPLES)
                    real = len(synth.synthesize(text, lang, voice, speed)) / synth.sample_rate
                    errors.append(real - model.seconds(speed))
                    for d, first, last in model.chunks:
                        f = _frames(d, speed)
                        fit_x.append([f[first:last].sum() * FRAME_S, f[last] * FRAME_S, f[last + 1:].sum() * FRAME_S, 1.0])
                        fit_y.append(real)
            e = np.array(errors)
            rows.append(f"| {lang} | {voice} | {len(e)} | {exact}/{len(e)} | {e.mean():+.3f} | {e.std():.3f} | "
                        f"{np.abs(e).max():.3f} |")
            print(rows[-1], flush=True)
    from scipy.optimize import nnls

    coef, _ = nnls(np.array(fit_x), np.array(fit_y))  # as TRIM_FIT was made: no negative weight
    resid = np.array(fit_y) - np.array(fit_x) @ coef
    rows += ["", f"TRIM_FIT refitted on these {len(fit_y)} clips: ({', '.join(f'{c:.3f}' for c in coef)}); "
                 f"residual sd {resid.std():.3f} s, largest {np.abs(resid).max():.3f} s"]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("sections", nargs="*", default=["cer", "parallel", "durations", "match"])
    ap.add_argument("--lines", type=int, default=5)
    ap.add_argument("--languages", default="en,pt,es,fr,it,hi")
    ap.add_argument("--write-presets", action="store_true",
                    help="write the defaults the CER table chooses into voices/presets.json")
    args = ap.parse_args()
    out = []
    if "cer" in args.sections:
        results: list[dict] = []
        out += ["## Read-back CER per voice and language", ""] + cer_table(args.lines, args.languages.split(","),
                                                                          results) + [""]
        chosen = choose_presets(results)
        out += ["## Defaults chosen (voices/presets.json)", "", "| language | female | male | other voices allowed |",
                "|---|---|---|---|"]
        out += [f"| {lang} | {d['female']} | {d['male']} | {', '.join(chosen['cross_language'].get(lang, []))} |"
                for lang, d in chosen["default_voice"].items()] + [""]
        if args.write_presets:
            from dubpreview.util.files import atomic_write_json

            path = ROOT / "voices" / "presets.json"
            presets = json.loads(path.read_text(encoding="utf-8"))
            presets.update(chosen)
            atomic_write_json(path, presets)
    if "parallel" in args.sections:
        out += ["## Synthesis on two cores", ""] + parallel_table(args.lines) + [""]
    if "durations" in args.sections:
        out += ["## Line lengths predicted before synthesis", ""] + durations_table(
            args.lines, args.languages.split(",")) + [""]
    if "match" in args.sections:
        from voices_match import match_tables

        out += match_tables()
    print("\n" + "\n".join(out))


if __name__ == "__main__":
    main()
