"""Timing policies side by side on real scenes; prints a table.

Each scene is dubbed with the real pipeline (Whisper, the translation, Kokoro); the natural
length of every dub line (speed 1.0) is then fitted by three policies on the same lines:
dubpreview's isochrony engine, open-dubbing's (1.3x cap in 0.1 steps, borrowing the gap)
and SoniTranslate's (atempo up to 2.1x, 0.8-1.15 snapped to 1.0), reimplemented from their
documented behaviour (:mod:`dubpreview.timing.baselines`). For dubpreview the rendered
numbers (real clip lengths after re-synthesis) are shown too.

    python bench/timing.py [--scenes ami-pt,harvard-pt,fillets-en,fillets-es]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "tests" / "data"

SCENES = {
    "ami-pt": ("demo/ami_meeting_tst00_en.mp4", "en", "pt", None),
    "harvard-pt": ("tests/data/deb_codec2-examples_speech_orig_16k_en.wav", "en", "pt", None),
    "fillets-en": ("demo/fillets-ng_cabin1_cs.mp4", "cs", "en", "en"),
    "fillets-es": ("demo/fillets-ng_cabin1_cs.mp4", "cs", "es", "es"),
}
"""name -> (input, source language, target, human translation language from the fillets JSON or None)."""

COLUMNS = ("speed_max", "share_above_1_2", "mean_abs_delta_speed", "overlaps", "lines_overflowing",
           "lateness_max", "m1", "m2")


def human_srt(lang: str, folder: Path) -> Path:
    """The fillets-ng scene's human translation into ``lang`` as an SRT file."""
    from dubpreview.subtitles import Cue, write_srt

    script = json.loads((DATA / "fillets-ng_cs_dialogue_cabin1.json").read_text())["segments"]
    path = folder / f"fillets.{lang}.srt"
    write_srt([Cue(s["start"], s["end"], s["text"][lang]) for s in script], path)
    return path


def run_scene(name: str, tmp: Path) -> dict:
    from dubpreview.pipeline import dub
    from dubpreview.settings import DubSettings
    from dubpreview.records import Segment
    from dubpreview.timing.baselines import open_dubbing, sonitranslate
    from dubpreview.timing.fit import plan

    src, source, target, human = SCENES[name]
    settings = DubSettings(targets=[target], source_language=source,
                           translation_file=str(human_srt(human, tmp)) if human else None)
    result = dub(ROOT / src, settings, output=tmp / f"{name}.mp4", project_dir=tmp / name)
    report = result.timing[target]
    by_id = {s.id: s for s in result.segments}
    segs = [Segment(**{k: v for k, v in vars(by_id[line["segment_id"]]).items()}) for line in report["lines"]]
    naturals = [line["natural"] for line in report["lines"]]
    duration = json.loads((tmp / name / "project.json").read_text())["duration"]
    return {
        "dubpreview (rendered)": report["totals"],
        "dubpreview (planned)": plan(segs, naturals, settings.timing, duration).totals,
        "open-dubbing": open_dubbing(segs, naturals, duration).totals,
        "SoniTranslate": sonitranslate(segs, naturals, duration).totals,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenes", default=",".join(SCENES))
    args = ap.parse_args()
    print("| scene | policy | lines | max speed | share > 1.2x | mean abs Δspeed | silent overlaps | "
          "overruns | lateness max s | M1 | M2 |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.scenes.split(","):
            for policy, t in run_scene(name, Path(tmp)).items():
                print(f"| {name} | {policy} | {t['lines']} | {t['speed_max']:.2f} | {t['share_above_1_2']:.2f} | "
                      f"{t['mean_abs_delta_speed']:.3f} | {t['overlaps']} | {t['lines_overflowing']} | "
                      f"{t['lateness_max']:.2f} | {t['m1']:.3f} | {t['m2']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
