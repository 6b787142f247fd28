"""Command line: ``dubpreview dub`` and ``dubpreview demo``.

Every user-facing problem ends as one line on stderr, ``dubpreview: error: ...``, and
exit code 2; an unexpected failure prints one line and exit code 1 (``--debug`` shows
the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from dubpreview.errors import DubError

DEMO_SCENES = {
    "ami": {
        "file": "ami_meeting_tst00_en.mp4",
        "from": "en", "to": ["pt"], "translator": None, "translation": None,
        "about": "AMI Meeting Corpus, English meeting (CC BY 4.0) -> Portuguese",
    },
    "fillets": {
        "file": "fillets-ng_cabin1_cs.mp4",
        "from": "cs", "to": ["en"], "translator": None, "translation": "fillets-ng_cabin1.en.srt",
        "about": "Fish Fillets NG, Czech acted dialogue (GPL-2) -> English, the game's own human translation",
    },
}
"""The real scenes kept in ``demo/`` (see ``demo/ATTRIBUTION.md``)."""


def demo_dir() -> Path:
    """``demo/`` beside the package (``$DUBPREVIEW_DEMO`` overrides)."""
    env = os.environ.get("DUBPREVIEW_DEMO")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "demo"


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
    p.add_argument("--translator", default=None,
                   help="translation backend: bergamot, whisper-translate, transformers (default: chosen per pair)")
    p.add_argument("--hf-model", default=None, help="transformers MT model: hub name or local folder")
    p.add_argument("--voice", default=None, help="Kokoro voice for every line (default: the language's preset)")
    p.add_argument("--max-speed", type=float, default=1.3, help="highest speed-up of a dub line (default 1.3)")
    p.add_argument("--threads", type=int, default=int(os.environ.get("DUBPREVIEW_THREADS", "2")),
                   help="CPU threads per model (default 2)")
    p.add_argument("--project", default=None, help="project folder (default: OUTPUT.dubpreview beside the preview)")


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

    d = sub.add_parser("demo", help="dub the real scene(s) bundled in demo/")
    d.add_argument("--scene", default="ami", choices=[*DEMO_SCENES, "all"], help="which demo scene (default: ami)")
    d.add_argument("-o", "--output-dir", default="dubpreview-demo", help="folder for the previews (default: ./dubpreview-demo)")
    _add_dub_options(d)
    return parser


def _settings(args, targets: list[str], source: str | None, translator: str | None, translation: str | None):
    from dubpreview.mix.duck import MixSettings
    from dubpreview.pipeline import DubSettings
    from dubpreview.timing.fit import TimingSettings

    if not 1.0 <= args.max_speed <= 2.0:
        raise DubError(f"--max-speed {args.max_speed} is outside 1.0-2.0; 1.3 is the usual ceiling")
    if args.threads < 1:
        raise DubError("--threads must be at least 1")
    return DubSettings(targets=targets, source_language=source, asr=args.asr,
                       translator=translator or args.translator, translation_file=translation,
                       hf_model=args.hf_model, voice=args.voice, threads=args.threads,
                       timing=TimingSettings(max_speed=args.max_speed), mix=MixSettings())


def _run(source: Path, settings, output, project) -> None:
    from dubpreview.pipeline import dub

    t0 = time.perf_counter()
    print(f"dubpreview: {source.name} -> {', '.join(settings.targets)}", file=sys.stderr)
    result = dub(source, settings, output=output, project_dir=project, reporter=ConsoleReporter())
    seconds = time.perf_counter() - t0
    for lang, rep in result.timing.items():
        tot = rep["totals"]
        if tot.get("lines"):
            print(f"  timing {lang}: {tot['lines']} lines, speed p50 {tot['speed_p50']:.2f} max {tot['speed_max']:.2f}, "
                  f"{tot['lines_overflowing']} overflowing (max {tot['overflow_max']:.2f} s)", file=sys.stderr)
    print(f"  done in {seconds:.1f} s; project: {result.project}", file=sys.stderr)
    print(f"preview: {result.preview}")


def cmd_dub(args) -> None:
    targets = [t for t in args.to.split(",") if t.strip()]
    if args.translation and not Path(args.translation).is_file():
        raise DubError(f"translation file not found: {args.translation}")
    settings = _settings(args, targets, args.source, None, args.translation)
    _run(Path(args.input), settings, args.output, args.project)


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
        _run(src, settings, output, project)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dubpreview`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        {"dub": cmd_dub, "demo": cmd_demo}[args.command](args)
    except DubError as exc:
        print(f"dubpreview: error: {exc}", file=sys.stderr)
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
