"""Which Kokoro voice is most intelligible in each dub language? Prints a table.

Each of the five shipped voice packs speaks real dialogue lines (the Fish Fillets NG
human translations in en, es, fr, it; for pt the English lines through Bergamot) and
Whisper base transcribes them back with the language given; the score is the character
error rate (jiwer) against the text spoken. ``voices/presets.json`` takes the best voice
per language from this table.

    python bench/voices.py [--lines 6]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=6)
    ap.add_argument("--languages", default="en,pt,es,fr,it")
    args = ap.parse_args()

    import jiwer

    from dubpreview.mix.duck import resample
    from dubpreview.pipeline import DubSettings, transcriber_for
    from dubpreview.records import Segment
    from dubpreview.translate.bergamot import BergamotTranslator
    from dubpreview.tts.kokoro import default_synthesizer

    script = json.loads((ROOT / "tests/data/fillets-ng_cs_dialogue_cabin1.json").read_text())["segments"]
    lines = [s for s in script if len(s["text"]["en"]) > 25][: args.lines]
    texts = {lang: [s["text"][lang] for s in lines] for lang in ("en", "es", "fr", "it")}
    segs = [Segment(i, 0, 1, t) for i, t in enumerate(texts["en"])]
    texts["pt"] = BergamotTranslator().translate(segs, "en", "pt")
    synth, asr = default_synthesizer(), transcriber_for(DubSettings(targets=[]))
    norm = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(), jiwer.Strip()])
    voices = synth.voices()
    print("| language | " + " | ".join(voices) + " | best |\n|---|" + "---:|" * len(voices) + "---|")
    for lang in args.languages.split(","):
        scores = {}
        for voice in voices:
            ref, hyp = [], []
            for text in texts[lang]:
                audio = resample(synth.synthesize(text, lang, voice), synth.sample_rate, 16000)
                out = asr.transcribe(audio, language=lang)
                ref.append(norm(text))
                hyp.append(norm(" ".join(s.text for s in out.segments)))
            scores[voice] = jiwer.cer(ref, hyp)
        best = min(scores, key=scores.get)
        print(f"| {lang} | " + " | ".join(f"{scores[v]:.3f}" for v in voices) + f" | {best} |", flush=True)


if __name__ == "__main__":
    main()
