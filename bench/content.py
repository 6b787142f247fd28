"""What the dub says, measured against human references; prints a table.

Per scene and per decoding setting, a whole dub (``dubpreview.pipeline.dub``) in a fresh child
process and a fresh project, then from its project folder:

- translation chrF and BLEU (sacrebleu corpus scores) of the dub's text in the target language
  (``project.json`` ``segments[].translation[lang]`` in time order) against the human translation.
  The dub's lines and the human lines are not aligned 1:1 (Whisper cuts the speech its own way),
  so each side is joined into one document per scene and scored as one segment. Typographic
  quotes, apostrophes and dashes are made plain on both sides first (the game writes ``’``,
  Whisper ``'``);
- spoken chrF: the same, of the text the dub speaks (held lines left out): the number the back
  chrF should stay close to (issue 15: within 2 points);
- back-transcribed chrF: the dub stem ``dub.<lang>.wav`` read back by faster-whisper (Whisper
  base, the pipeline's default transcriber, language given), joined, chrF against the same human
  text: what a listener of the dub would get;
- read-back CER: that read-back against the dub's own text (the lines it speaks: held lines left
  out): intelligibility of the synthesis. For AMI (no human Portuguese) the only content number;
- ASR WER and CER of ``segments[].text`` against the human Czech (fillets-ng; lower case, no
  punctuation);
- coverage: the share of the reference speech time (AMI: union of the RTTM turns; fillets-ng: union
  of the script's line spans, which include each recording's silence padding) covered by the union
  of the dub's line spans, and the pipeline's own VAD share (``project.json`` ``coverage``) when it
  has one;
- lines; lines with flags (``segments[].flags``); dropped lines (``dropped``); repaired lines (a
  flag whose reason contains "repetition"); the longest line's overflow past its slot (s,
  ``timing.json``); seconds per stage group and the wall time of ``dub()`` (models loaded in it).

Scenes: Fish Fillets NG ``cabin1`` (``demo/``: the demo scene) and the held-out levels that
``bench/fillets_scenes.py`` built into ``bench/data/fillets/`` (Czech -> English; the route is
Whisper speech translation), AMI ``tst00`` and ``dev00`` (``tests/data``; English -> Portuguese,
Bergamot). Settings: Whisper greedy or beam 5, the integrity guards on or off. To keep the matrix
affordable every dub runs with ``separation="none"`` and ``voice_match=False``. Also, once per
fillets-ng scene, the baseline to beat: the whole scene at once through Whisper base speech
translation, greedy (faster-whisper, int8, ``task="translate"``, no VAD, no previous-text prompt).

    python bench/content.py [--scenes cabin1,map,tst00|fillets|ami] [--settings "greedy, guards off;beam 5, guards on"]
                            [--quick] [--threads 2] [--out bench/content_results.md] [--json raw.json]

``--quick`` (``make bench``) is cabin1 and tst00 with "beam 5, guards on" only, written to
``bench/content_results_quick.md`` so the full table stays. Setting names are separated by ``;``
(short forms: ``greedy-off``, ``greedy-on``, ``beam5-on``, ``beam5-off``). A failed child is one
row with its error. Timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEMO = ROOT / "demo"
TESTS = ROOT / "tests" / "data"
SHARED = ROOT.parent / "shared" / "media"
FILLETS = ROOT / "bench" / "data" / "fillets"
RESULTS = ROOT / "bench" / "content_results.md"
QUICK_RESULTS = ROOT / "bench" / "content_results_quick.md"
CHILD_TIMEOUT_S = 3600

SETTINGS = {
    "greedy, guards off": {"beam_size": 1, "guards": False},
    "greedy, guards on": {"beam_size": 1, "guards": True},
    "beam 5, guards on": {"beam_size": 5, "guards": True},
    "beam 5, guards off": {"beam_size": 5, "guards": False},
}
ALIASES = {"greedy-off": "greedy, guards off", "greedy-on": "greedy, guards on",
           "beam5-on": "beam 5, guards on", "beam5-off": "beam 5, guards off"}
COMMON = {"separation": "none", "voice_match": False}
QUICK = (["cabin1", "tst00"], ["beam 5, guards on"])
GROUPS = ("extract", "transcribe", "diarize", "translate", "synthesize", "mix", "remux", "other")
PLAIN = str.maketrans({"’": "'", "‘": "'", "‚": "'", "“": '"', "”": '"', "„": '"', "–": "-", "—": "-",
                       "…": "...", "\u00a0": " "})


# ---- scenes ------------------------------------------------------------------------------

def _first(*paths: Path) -> Path | None:
    return next((p for p in paths if p.exists()), None)


def scenes() -> dict[str, dict]:
    """key -> {name, source, kind, src, tgt, and the reference: ``lines`` (fillets-ng: start, end,
    speaker, cs, en) or ``rttm`` (AMI)}."""
    out: dict[str, dict] = {}
    cabin1 = _first(TESTS / "fillets-ng_cs_dialogue_cabin1.json", SHARED / "fillets-ng_cs_dialogue_cabin1.json")
    out["cabin1"] = {"name": "fillets-ng cabin1", "kind": "fillets", "src": "cs", "tgt": "en",
                     "source": DEMO / "fillets-ng_cabin1_cs.mp4", "ref": cabin1 or DEMO / "fillets-ng_cabin1.en.srt",
                     "note": "the demo scene"}
    for js in sorted(FILLETS.glob("*.json")):
        audio = js.with_suffix(".ogg")
        if audio.exists():
            out[js.stem] = {"name": f"fillets-ng {js.stem}", "kind": "fillets", "src": "cs", "tgt": "en",
                            "source": audio, "ref": js, "note": "held out"}
    for name in ("tst00", "dev00"):
        base = f"pypi_pyannote-audio_tests_ami-meeting_{name}_en"
        wav = _first(TESTS / f"{base}.wav", SHARED / f"{base}.wav")
        rttm = _first(TESTS / f"{base}.rttm", SHARED / f"{base}.rttm")
        if wav and rttm:
            out[name] = {"name": f"AMI {name}", "kind": "ami", "src": "en", "tgt": "pt", "source": wav, "ref": rttm,
                         "note": "4 speakers, overlapping" if name == "tst00" else "meeting"}
    return out


def fillets_lines(ref: Path) -> list[dict]:
    """The script's lines in time order: start, end, speaker, cs (None when unknown), en."""
    if ref.suffix == ".json":
        segs = json.loads(ref.read_text(encoding="utf-8"))["segments"]
        return sorted(({"start": s["start"], "end": s["end"], "speaker": s["speaker"], "cs": s["text"].get("cs"),
                        "en": s["text"]["en"]} for s in segs), key=lambda s: s["start"])
    import pysubs2  # the demo's English subtitle only: no Czech

    subs = pysubs2.load(str(ref))
    return [{"start": e.start / 1000, "end": e.end / 1000, "speaker": None, "cs": None,
             "en": re.sub(r"^\[[^\]]+\]\s*", "", e.plaintext.replace("\n", " "))} for e in subs]


def reference(spec: dict) -> dict:
    """{"target": human text in the target language or None, "source": human source text or None,
    "speech": reference speech spans}."""
    if spec["kind"] == "fillets":
        lines = fillets_lines(Path(spec["ref"]))
        cs = [s["cs"] for s in lines]
        return {"target": " ".join(s["en"] for s in lines), "source": " ".join(cs) if all(cs) else None,
                "speech": [(s["start"], s["end"]) for s in lines]}
    from dubpreview.diarize import read_rttm

    return {"target": None, "source": None, "speech": [(s, e) for s, e, _ in read_rttm(Path(spec["ref"]))]}


# ---- measures ----------------------------------------------------------------------------

def plain(text: str) -> str:
    return re.sub(r"\s+", " ", text.translate(PLAIN)).strip()


def norm_words(text: str) -> str:
    """Lower case, no punctuation, single spaces (for WER/CER)."""
    text = plain(text).lower()
    text = "".join(c if c.isalnum() or c.isspace() or c == "'" else " " for c in text)
    return re.sub(r"\s+", " ", text.replace("'", "")).strip()


def chrf_bleu(hyp: str, ref: str) -> tuple[float, float]:
    import sacrebleu

    h, r = plain(hyp), plain(ref)
    return sacrebleu.corpus_chrf([h], [[r]]).score, sacrebleu.corpus_bleu([h], [[r]]).score


def error_rates(ref: str, hyp: str) -> tuple[float, float]:
    import jiwer

    r, h = norm_words(ref), norm_words(hyp)
    if not r:
        return float("nan"), float("nan")
    if not h:
        return 1.0, 1.0
    return jiwer.wer(r, h), jiwer.cer(r, h)


def union(spans) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for s, e in sorted((float(s), float(e)) for s, e in spans if e > s):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def covered_share(ref, hyp) -> float:
    ref, hyp = union(ref), union(hyp)
    total = sum(e - s for s, e in ref)
    inter = sum(max(0.0, min(e, he) - max(s, hs)) for s, e in ref for hs, he in hyp)
    return inter / total if total else float("nan")


def stage_groups(stage_log: list[dict]) -> dict[str, float]:
    """Seconds per group; ``extract`` also holds "load original audio" (the 48 kHz decode of the
    render); ``other``: the guards or the speech coverage, separation, voice profiles, timing."""
    out = dict.fromkeys(GROUPS, 0.0)
    for e in stage_log:
        name = e["stage"]
        group = next((g for g in GROUPS[:-1] if name.startswith(g)), "other")
        if name.startswith("load original audio"):
            group = "extract"
        out[group] += float(e["seconds"])
    return out


def holding() -> set[str]:
    try:
        from dubpreview.integrity.flags import HOLDING

        return set(HOLDING)
    except ImportError:
        return {"untranslated", "degenerate"}


# ---- children ----------------------------------------------------------------------------

def settings_for(spec: dict, setting: str, threads: int):
    """DubSettings with the setting's keys that this DubSettings has; and the keys it lacks."""
    from dubpreview.settings import from_flat

    want = {"targets": [spec["tgt"]], "source_language": spec["src"], "threads": threads, **COMMON,
            **SETTINGS[setting]}
    have = setting_names()
    return from_flat({k: v for k, v in want.items() if k in have}), sorted(set(want) - have)


def setting_names() -> set[str]:
    """The flat setting names :func:`dubpreview.settings.from_flat` takes."""
    from dubpreview.settings import FLAT, DubSettings

    return set(FLAT) | set(DubSettings.model_fields) | {"separation"}


def child_dub(key: str, setting: str, tmp: str, threads: int) -> dict:
    from dubpreview.asr.select import get_transcriber
    from dubpreview.media.extract import load_audio
    from dubpreview.pipeline import dub

    spec = scenes()[key]
    ref = reference(spec)
    lang = spec["tgt"]
    settings, missing = settings_for(spec, setting, threads)
    suffix = ".mp4" if Path(spec["source"]).suffix == ".mp4" else ".m4a"
    t0 = time.perf_counter()
    proj = Path(tmp) / "project"
    result = dub(spec["source"], settings, output=Path(tmp) / f"preview{suffix}", project_dir=proj)
    wall = time.perf_counter() - t0
    state = json.loads((proj / "project.json").read_text(encoding="utf-8"))
    segs = sorted(state.get("segments", []), key=lambda s: (s["start"], s["end"]))
    hold = holding()

    def held(s: dict) -> bool:
        return s.get("muted") or any(f.get("reason") in hold and f.get("language") == lang for f in s.get("flags", []))

    dub_text = " ".join((s.get("translation", {}).get(lang) or "").strip() for s in segs).strip()
    spoken = " ".join((s.get("translation", {}).get(lang) or "").strip() for s in segs if not held(s)).strip()
    t1 = time.perf_counter()
    stem = proj / f"dub.{lang}.wav"
    audio16 = load_audio(stem, sample_rate=16000, channels=1).samples
    heard = " ".join(s.text.strip() for s in get_transcriber("faster-whisper", cpu_threads=threads)
                     .transcribe(audio16, language=lang).segments).strip()
    readback_s = time.perf_counter() - t1
    out = {"wall": wall, "stages": stage_groups(result.stage_log), "missing_keys": missing,
           "route": dict(getattr(result, "routes", {}) or state.get("translation_routes", {})).get(lang),
           "lines": len(segs), "flagged": sum(1 for s in segs if s.get("flags")),
           "dropped": len(state["dropped"]) if isinstance(state.get("dropped"), list) else None,
           "repaired": sum(1 for s in segs if any("repetition" in f.get("reason", "") for f in s.get("flags", []))),
           "held": sum(1 for s in segs if held(s)),
           "silent": sum(1 for s in segs if not held(s) and not (s.get("translation", {}).get(lang) or "").strip()),
           "flag_reasons": sorted({f.get("reason", "") for s in segs for f in s.get("flags", [])}),
           "ref_coverage": covered_share(ref["speech"], [(s["start"], s["end"]) for s in segs]),
           "vad_coverage": (state.get("coverage") or {}).get("share"),
           "readback_cer": error_rates(spoken, heard)[1] if spoken else None, "readback_s": readback_s,
           "dub_text": dub_text, "heard": heard, "asr_text": " ".join(s["text"].strip() for s in segs),
           "segments": [{"start": s["start"], "end": s["end"], "speaker": s.get("speaker"), "text": s["text"],
                         "translation": s.get("translation", {}).get(lang), "flags": s.get("flags", [])} for s in segs]}
    timing_path = proj / "timing.json"
    if timing_path.exists():
        lines = json.loads(timing_path.read_text(encoding="utf-8"))["languages"].get(lang, {}).get("lines", [])
        out["overflow_max"] = max((float(p.get("overflow", 0.0)) for p in lines), default=0.0)
    if ref["target"]:
        out["chrf"], out["bleu"] = chrf_bleu(dub_text, ref["target"])
        out["back_chrf"] = chrf_bleu(heard, ref["target"])[0]
        out["spoken_chrf"] = chrf_bleu(spoken, ref["target"])[0] if spoken else None
    if ref["source"]:
        out["asr_wer"], out["asr_cer"] = error_rates(ref["source"], out["asr_text"])
    return out


def child_baseline(key: str, threads: int) -> dict:
    import faster_whisper

    from dubpreview.media.extract import load_audio
    from dubpreview.models.registry import whisper_base_dir

    spec = scenes()[key]
    ref = reference(spec)
    audio16 = load_audio(spec["source"], sample_rate=16000, channels=1).samples
    t0 = time.perf_counter()
    model = faster_whisper.WhisperModel(str(whisper_base_dir()), device="cpu", compute_type="int8",
                                        cpu_threads=threads, num_workers=1)
    segments, _ = model.transcribe(audio16, task="translate", language=spec["src"], beam_size=1, temperature=0.0,
                                   condition_on_previous_text=False, vad_filter=False)
    text = " ".join(s.text.strip() for s in segments).strip()
    chrf, bleu = chrf_bleu(text, ref["target"])
    return {"seconds": time.perf_counter() - t0, "chrf": chrf, "bleu": bleu, "text": text}


def run_child(*args: str) -> dict:
    try:
        proc = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, cwd=ROOT,
                              timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {CHILD_TIMEOUT_S} s"}
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    if proc.returncode != 0 or not last.startswith("{"):
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        return {"error": (lines[-1] if lines else f"exit {proc.returncode}")[:300], "stderr": proc.stderr[-4000:]}
    return json.loads(last)


# ---- table -------------------------------------------------------------------------------

HEAD = ["scene", "setting", "chrF", "BLEU", "spoken chrF", "back chrF", "read-back CER %", "ASR WER %", "ASR CER %",
        "ref coverage %", "VAD coverage %", "lines", "flagged", "held", "silent", "dropped", "repaired",
        "max overflow s",
        *(f"{g} s" for g in GROUPS), "wall s"]


def f1(v, scale: float = 1.0, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "—"
    return f"{v * scale:.{digits}f}"


def row(name: str, setting: str, r: dict) -> str:
    if "error" in r:
        cells = [name, setting, f"**failed**: {r['error']}".replace("|", "\\|")] + [""] * (len(HEAD) - 3)
        return "| " + " | ".join(cells) + " |"
    st = r["stages"]
    cells = [name, setting, f1(r.get("chrf")), f1(r.get("bleu")), f1(r.get("spoken_chrf")), f1(r.get("back_chrf")),
             f1(r.get("readback_cer"), 100), f1(r.get("asr_wer"), 100), f1(r.get("asr_cer"), 100),
             f1(r.get("ref_coverage"), 100), f1(r.get("vad_coverage"), 100), str(r["lines"]), str(r["flagged"]),
             str(r.get("held", "—")), str(r.get("silent", "—")),
             "—" if r.get("dropped") is None else str(r["dropped"]), str(r["repaired"]),
             f1(r.get("overflow_max"), 1, 2), *(f1(st[g], 1, 1) for g in GROUPS), f1(r["wall"])]
    return "| " + " | ".join(cells) + " |"


def parse_settings(text: str) -> list[str]:
    out = []
    for item in (t.strip() for t in text.split(";")):
        if not item:
            continue
        name = ALIASES.get(item.lower(), re.sub(r"\s+", " ", item.lower()).replace(" ,", ","))
        name = re.sub(r",\s*", ", ", name)
        if name not in SETTINGS:
            raise SystemExit(f"unknown setting {item!r}; choose from: {'; '.join(SETTINGS)} (or {', '.join(ALIASES)})")
        out.append(name)
    return out


def parse_scenes(text: str, known: dict) -> list[str]:
    out: list[str] = []
    for item in (t.strip() for t in text.split(",")):
        keys = ([k for k, v in known.items() if v["kind"] == item] if item in ("fillets", "ami") else [item])
        for k in keys:
            if k not in known:
                raise SystemExit(f"unknown scene {k!r}; choose from: {', '.join(known)}, fillets, ami")
            if k not in out:
                out.append(k)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenes", default="all", help="comma-separated: " + ", ".join(scenes()) + ", fillets, ami")
    ap.add_argument("--settings", default=";".join(SETTINGS), help="';'-separated: " + "; ".join(SETTINGS))
    ap.add_argument("--quick", action="store_true", help="cabin1 and tst00, beam 5 with the guards (make bench)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-baseline", action="store_true", help="skip the whole-scene Whisper translate baseline")
    ap.add_argument("--out", type=Path, default=None, help=f"results file (default {RESULTS.relative_to(ROOT)}; "
                                                           f"with --quick {QUICK_RESULTS.relative_to(ROOT)})")
    ap.add_argument("--json", default=None, help="also write the raw numbers and texts here")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        res = (child_dub(rest[0], rest[1], rest[2], int(rest[3])) if kind == "dub" else
               child_baseline(rest[0], int(rest[1])))
        print(json.dumps(res, ensure_ascii=False))
        return

    known = scenes()
    if args.quick:
        keys, names = QUICK
        keys = [k for k in keys if k in known]
    else:
        keys = list(known) if args.scenes == "all" else parse_scenes(args.scenes, known)
        names = parse_settings(args.settings)
    out_path = args.out or (QUICK_RESULTS if args.quick else RESULTS)
    command = "python bench/content.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])

    have = setting_names()
    missing = sorted({k for s in names for k in SETTINGS[s]} - have)
    rows, base_rows, raw = [], [], {}
    print("| " + " | ".join(HEAD) + " |\n|" + "---|" * 2 + "---:|" * (len(HEAD) - 2), flush=True)
    for key in keys:
        spec = known[key]
        raw[key] = {}
        if spec["kind"] == "fillets" and not args.no_baseline:
            b = run_child("baseline", key, str(args.threads))
            raw[key]["baseline"] = b
            base_rows.append(f"| {spec['name']} | **failed**: {b['error']} | | |" if "error" in b else
                             f"| {spec['name']} | {b['chrf']:.1f} | {b['bleu']:.1f} | {b['seconds']:.1f} |")
        for name in names:
            with tempfile.TemporaryDirectory() as tmp:
                r = run_child("dub", key, name, tmp, str(args.threads))
            raw[key][name] = r
            rows.append(row(spec["name"], name, r))
            print(rows[-1], flush=True)
            if "error" in r and r.get("stderr"):
                print(r["stderr"][-1500:], file=sys.stderr)

    md = [f"# Content benchmark (`bench/content.py`)", "",
          f"Made by `{command}` on {datetime.date.today().isoformat()} ({args.threads} threads per model; a shared "
          "machine: timings are noisy).", "",
          "Every dub: `separation=\"none\"`, `voice_match=False` (to keep the matrix affordable), diarization on, a "
          "fresh project (nothing cached), in its own process. Fillets-ng scenes: Czech -> English (Whisper speech "
          "translation), reference = the game's own human English; AMI: English -> Portuguese (Bergamot), no human "
          "Portuguese: read-back CER is its only content number.", "",
          "chrF / BLEU: sacrebleu corpus scores with the dub's lines and the human lines each joined into one "
          "document per scene (they are not aligned 1:1), typographic quotes made plain on both sides. Back chrF: "
          "the dub stem read back by faster-whisper (Whisper base, language given) against the human English. "
          "Spoken chrF: chrF of the text the dub speaks (held lines left out). Held: lines the guards keep out of "
          "the dub; silent: lines not held whose translation is empty (e.g. a stock line removed). "
          "Read-back CER: that read-back against the text the dub speaks (held lines left out). ASR WER/CER: "
          "`segments[].text` against the human Czech (lower case, no punctuation). Ref coverage: share of the "
          "reference speech (AMI: RTTM turns; fillets-ng: the script's line spans, silence padding included) "
          "covered by the dub's line spans; VAD coverage: the pipeline's own `coverage.share` (its line spans "
          "widened by a tolerance). Flagged: lines with any flag; repaired: a flag with \"repetition\"; max overflow: "
          "the longest line's seconds past its slot. Stage groups: extract includes the render's \"load original "
          "audio\"; other = guards or speech coverage, separation, voice profiles. Wall: `dub()`, model loading "
          "included (the read-back is not in it).", ""]
    if missing:
        md += [f"This DubSettings has no {', '.join(missing)}: those settings ran with its defaults.", ""]
    md += ["| " + " | ".join(HEAD) + " |", "|" + "---|" * 2 + "---:|" * (len(HEAD) - 2), *rows, ""]
    if base_rows:
        md += ["## Baseline: whole-scene Whisper base speech translation, greedy", "",
               "faster-whisper `WhisperModel` (int8), the whole scene at once, `task=\"translate\"`, "
               "`language=\"cs\"`, `beam_size=1`, `temperature=0.0`, `condition_on_previous_text=False`, no VAD; "
               "scored as above.", "", "| scene | chrF | BLEU | seconds (load + decode) |", "|---|---:|---:|---:|",
               *base_rows, ""]
    md += ["## Scenes", "", "| scene | source | language pair | reference |", "|---|---|---|---|"]
    for key in keys:
        s = known[key]
        md.append(f"| {s['name']} ({s['note']}) | `{Path(s['source']).relative_to(ROOT) if Path(s['source']).is_relative_to(ROOT) else s['source']}` "
                  f"| {s['src']} -> {s['tgt']} | `{Path(s['ref']).name}` |")
    text = "\n".join(md) + "\n"
    out_path.write_text(text, encoding="utf-8")
    print("\n" + text)
    print(f"written to {out_path}")
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=2, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
