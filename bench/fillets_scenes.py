"""Held-out Fish Fillets NG scenes for ``bench/content.py``, built from the Debian packages.

The shared scene ``fillets-ng_cs_dialogue_cabin1`` (../shared/media/PROVENANCE.md) is the game's
level ``cabin1``: the two fish's Czech voice lines (Debian ``fillets-ng-data-cs``,
``usr/share/games/fillets-ng/sound/<level>/cs/<id>.ogg``) joined in script order with 0.5 s gaps,
with the game's own human translations (Debian ``fillets-ng-data``,
``usr/share/games/fillets-ng/script/<level>/dialogs_<lang>.lua``). This script makes more scenes
the same way, from levels nobody has tuned on:

- script order: the order of the level's ``addv(...)`` (big fish) and ``addm(...)`` (small fish)
  calls in ``script/<level>/code.lua``, each line once, at its first call; a call that picks a
  variant at random (``"id"..random(2)``) contributes every variant, in numeric order. Lines the
  level says otherwise (``small:talk(...)`` reactions, the other characters) are left out. This
  rule rebuilds the shared ``cabin1`` scene exactly (same 20 lines, same order, same times), which
  ``--check`` verifies when ../shared/media is there;
- levels: the world map's levels (``script/worldmap.lua``, file order) after ``cabin1`` that
  qualify: every line has a Czech recording and an English translation, at least 8 lines,
  30-70 s with the gaps. ``cabin2`` is skipped: it is in tests/data and ``bench/speakers.py``
  already uses it;
- audio: the recordings (22.05 kHz mono Vorbis) joined at 22.05 kHz with 11025 samples of silence
  between lines; line times are counted in those samples. Written as Opus in Ogg, mono, 32 kbit/s
  (ffmpeg of ``imageio-ffmpeg``), to keep the committed files small.

Outputs ``bench/data/fillets/<level>.ogg`` + ``<level>.json`` (the layout of the shared cabin1
JSON: per line id, speaker, start, end, source file, text per language, ``cs`` and ``en`` always),
``bench/data/ATTRIBUTION.md`` and the packages' licence file beside it. Run once by a developer
(outputs committed); re-running rewrites the same files.

    python bench/fillets_scenes.py [--root EXTRACTED_DIR] [--count 3] [--list] [--check]

Without ``--root`` it runs ``apt-get download fillets-ng-data fillets-ng-data-cs`` in a temporary
folder and extracts both with ``dpkg-deb -x``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "data" / "fillets"
ATTRIBUTION = ROOT / "bench" / "data" / "ATTRIBUTION.md"
LICENCE_NAME = "licenses_fillets-ng-data_debian-copyright.txt"
SHARED = ROOT.parent / "shared" / "media"
GAME = Path("usr/share/games/fillets-ng")
PACKAGES = ("fillets-ng-data", "fillets-ng-data-cs")
EXPECTED_VERSION = "1.0.1-1.1"
SR = 22050
GAP = 0.5
MIN_S, MAX_S, MIN_LINES = 30.0, 70.0, 8
AFTER = "cabin1"
SKIP = {"cabin1", "cabin2"}  # the shared scene, and the level tests/data + bench/speakers.py use
SPEAKER = {"v": "big_fish", "m": "small_fish"}
FONT = {"big_fish": "font_big", "small_fish": "font_small"}
LICENSE = "GPL-2 (Fish Fillets NG data, ALTAR interactive / Danihelka et al.)"

_ID = re.compile(r'dialogId\(\s*"([^"]+)"\s*,\s*"([^"]+)"\s*,\s*"((?:[^"\\]|\\.)*)"\s*\)')
_STR = re.compile(r'dialogStr\(\s*"((?:[^"\\]|\\.)*)"\s*\)')
_ADD = re.compile(r'\badd([vm])\((?:[^"]*?),\s*"([^"]+)"(\s*\.\.)?')
_NODE = re.compile(r'branch_addNode\(\s*"[^"]*"\s*,\s*"([^"]+)"')


def unquote(s: str) -> str:
    return re.sub(r'\\(.)', lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), s)


def read_dialogs(path: Path) -> dict[str, tuple[str, str | None]]:
    """id -> (font, text): the ``dialogStr`` after the id, or for English the id's own text."""
    src = path.read_text(encoding="utf-8")
    out: dict[str, tuple[str, str | None]] = {}
    marks = list(_ID.finditer(src))
    for i, m in enumerate(marks):
        tail = src[m.end():marks[i + 1].start() if i + 1 < len(marks) else len(src)]
        s = _STR.search(tail)
        out[m.group(1)] = (m.group(2), unquote(s.group(1)) if s else None)
        if path.name == "dialogs_en.lua" and s is None:
            out[m.group(1)] = (m.group(2), unquote(m.group(3)))
    return out


def level_order(root: Path) -> list[str]:
    return _NODE.findall((root / GAME / "script" / "worldmap.lua").read_text(encoding="utf-8"))


def script_lines(root: Path, level: str) -> list[tuple[str, str]]:
    """(id, speaker) of the fish's dialogue in script order (see the module docstring)."""
    game = root / GAME
    code = (game / "script" / level / "code.lua").read_text(encoding="utf-8")
    cs = read_dialogs(game / "script" / level / "dialogs_cs.lua")
    seen, out = set(), []
    for m in _ADD.finditer(code):
        who, ident, is_prefix = SPEAKER[m.group(1)], m.group(2), bool(m.group(3))
        ids = ([k for k in cs if re.fullmatch(re.escape(ident) + r"\d+", k)] if is_prefix else [ident])
        for k in sorted(ids, key=lambda k: int(k[len(ident):]) if is_prefix else 0):
            if k not in seen:
                seen.add(k)
                out.append((k, who))
    return out


def build(root: Path, level: str) -> tuple[np.ndarray, dict, list[str]]:
    """The scene's audio and record, and the reasons it does not qualify (empty when it does)."""
    folder = root / GAME / "script" / level
    langs = {}
    for f in sorted(folder.glob("dialogs_*.lua")):
        langs[f.stem[len("dialogs_"):]] = read_dialogs(f)
    problems, pieces, segs, t = [], [], [], 0
    gap = np.zeros(int(GAP * SR), np.float32)
    for ident, who in script_lines(root, level):
        ogg = GAME / "sound" / level / "cs" / f"{ident}.ogg"
        font, cs_text = langs.get("cs", {}).get(ident, (None, None))
        en_text = langs.get("en", {}).get(ident, (None, None))[1]
        if not (root / ogg).exists():
            problems.append(f"{ident}: no Czech recording")
            continue
        if not cs_text or not en_text:
            problems.append(f"{ident}: no {'Czech' if not cs_text else 'English'} text")
        if font != FONT[who]:
            problems.append(f"{ident}: said by {who} in code.lua but its font is {font}")
        audio, sr = sf.read(root / ogg, dtype="float32", always_2d=True)
        audio = audio.mean(axis=1)
        if sr != SR:
            n = int(round(len(audio) * SR / sr))
            audio = np.interp(np.arange(n) * sr / SR, np.arange(len(audio)), audio).astype(np.float32)
        if pieces:
            pieces.append(gap)
            t += len(gap)
        text = {"cs": cs_text, "en": en_text}
        text.update({lang: d[ident][1] for lang, d in langs.items()
                     if lang not in text and ident in d and d[ident][1]})
        segs.append({"id": ident, "speaker": who, "start": round(t / SR, 3), "end": round((t + len(audio)) / SR, 3),
                     "source_file": str(ogg), "text": text})
        pieces.append(audio)
        t += len(audio)
    duration = t / SR
    if len(segs) < MIN_LINES:
        problems.append(f"{len(segs)} lines (< {MIN_LINES})")
    if not MIN_S <= duration <= MAX_S:
        problems.append(f"{duration:.1f} s (not {MIN_S:.0f}-{MAX_S:.0f} s)")
    if len({s['speaker'] for s in segs}) != 2:
        problems.append("not both fish")
    record = {"source": "Debian packages fillets-ng-data {v} (scripts, translations) + fillets-ng-data-cs {v} "
                        "(cs voice recordings)", "license": LICENSE, "level": level, "language": "cs",
              "gap_seconds": GAP, "sample_rate": SR, "duration": round(duration, 3),
              "built_by": "bench/fillets_scenes.py", "segments": segs}
    audio = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    return audio, record, problems


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def write_opus(audio: np.ndarray, path: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "scene.wav"
        sf.write(wav, audio, SR, subtype="PCM_16")
        # -map_metadata -1 and bitexact: the same input gives the same bytes on a re-run
        subprocess.run([ffmpeg(), "-y", "-hide_banner", "-loglevel", "error", "-i", str(wav), "-map_metadata", "-1",
                        "-ac", "1", "-ar", "24000", "-c:a", "libopus", "-b:a", "32k", "-application", "voip",
                        "-fflags", "+bitexact", "-flags:a", "+bitexact", str(path)], check=True)


def fetch(tmp: Path) -> Path:
    subprocess.run(["apt-get", "download", *PACKAGES], cwd=tmp, check=True)
    root = tmp / "x"
    for deb in sorted(tmp.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        name = subprocess.run(["dpkg-deb", "-f", str(deb), "Package", "Version"], check=True,
                              capture_output=True, text=True).stdout
        (root / f"{deb.name}.control").write_text(name)
    return root


def versions(root: Path) -> dict[str, str]:
    """Package -> version, from the control fields ``fetch`` saved or the Debian changelogs."""
    out = {}
    for f in root.glob("*.deb.control"):
        fields = dict(line.split(": ", 1) for line in f.read_text().splitlines() if ": " in line)
        out[fields["Package"]] = fields["Version"]
    for pkg in PACKAGES:
        log = root / "usr/share/doc" / pkg / "changelog.Debian.gz"
        if pkg not in out and log.exists():
            import gzip

            head = gzip.decompress(log.read_bytes()).decode("utf-8", "replace").splitlines()[0]
            out[pkg] = head.split("(", 1)[1].split(")", 1)[0]
    return out


def check_cabin1(root: Path) -> str:
    shared = SHARED / "fillets-ng_cs_dialogue_cabin1.json"
    if not shared.exists():
        return "cabin1 check skipped (no ../shared/media)"
    ref = json.loads(shared.read_text(encoding="utf-8"))["segments"]
    _, rec, _ = build(root, "cabin1")
    got = rec["segments"]
    same = ([(s["id"], s["speaker"], s["start"], s["end"], s["text"]["cs"], s["text"]["en"]) for s in got] ==
            [(s["id"], s["speaker"], s["start"], s["end"], s["text"]["cs"], s["text"]["en"]) for s in ref])
    if not same:
        raise SystemExit("the script-order rule does not rebuild the shared cabin1 scene: "
                         f"{[s['id'] for s in got]} vs {[s['id'] for s in ref]}")
    return f"cabin1 rebuilt exactly: {len(got)} lines, {rec['duration']:.3f} s"


ATTRIBUTION_TEXT = """# Benchmark data: sources and licences

`fillets/` holds held-out scenes for `bench/content.py`, made by `bench/fillets_scenes.py` (run once by a
developer; the outputs are committed) from two Debian packages:

| file | what | source | licence |
|---|---|---|---|
{rows}

Each scene is one level's Czech voice lines of the two fish (big fish and small fish, the game's two voice
actors), joined in script order (the level's `addv`/`addm` calls in `script/<level>/code.lua`) with 0.5 s
of silence between lines, at the recordings' 22.05 kHz, then encoded as Opus in Ogg (mono, 32 kbit/s).
`<level>.json` gives per line its id, speaker, start and end (seconds in the `.ogg`), the recording it came
from and its texts: the Czech line and the game's own human translations (`script/<level>/dialogs_<lang>.lua`;
English for every line).

Licence: **GPL-2** (Fish Fillets NG game data, ALTAR interactive); the packages' copyright file is
`{licence}` beside this file. These files are distributed under GPL-2; they are data, not linked with
dubpreview's code.
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, help="folder where both packages are extracted (dpkg-deb -x)")
    ap.add_argument("--count", type=int, default=3, help="how many levels to build")
    ap.add_argument("--list", action="store_true", help="print every level after cabin1 and why it (does not) qualify")
    ap.add_argument("--check", action="store_true", help="only verify that the rule rebuilds the shared cabin1")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.root or fetch(Path(tmp))
        vers = versions(root)
        for pkg in PACKAGES:
            if vers.get(pkg) != EXPECTED_VERSION:
                print(f"warning: {pkg} is {vers.get(pkg)}, the shared scenes came from {EXPECTED_VERSION}",
                      file=sys.stderr)
        print(check_cabin1(root))
        if args.check:
            return
        order = level_order(root)
        chosen = []
        for level in order[order.index(AFTER) + 1:]:
            if level in SKIP or not (root / GAME / "script" / level / "code.lua").exists():
                continue
            audio, rec, problems = build(root, level)
            n = len(rec["segments"])
            if args.list or not problems:
                print(f"{level}: {n} lines, {rec['duration']:.1f} s — "
                      f"{'qualifies' if not problems else '; '.join(problems[:4])}")
            if not problems and len(chosen) < args.count:
                chosen.append((level, audio, rec))
            if len(chosen) == args.count and not args.list:
                break
        if args.list:
            return
        OUT.mkdir(parents=True, exist_ok=True)
        rows = []
        data_v = vers.get("fillets-ng-data", "?")
        cs_v = vers.get("fillets-ng-data-cs", "?")
        for level, audio, rec in chosen:
            rec["source"] = rec["source"].format(v=data_v) if data_v == cs_v else \
                f"Debian packages fillets-ng-data {data_v} (scripts, translations) + fillets-ng-data-cs {cs_v} (cs voice recordings)"
            write_opus(audio, OUT / f"{level}.ogg")
            (OUT / f"{level}.json").write_text(json.dumps(rec, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
            spk = sorted({s["speaker"] for s in rec["segments"]})
            rows.append(f"| `fillets/{level}.ogg`, `fillets/{level}.json` | level `{level}`: {len(rec['segments'])} Czech "
                        f"voice lines, {rec['duration']:.1f} s, {' and '.join(spk)} | Debian `fillets-ng-data-cs` {cs_v} "
                        f"(`{GAME}/sound/{level}/cs/*.ogg`), `fillets-ng-data` {data_v} (`{GAME}/script/{level}/`) | GPL-2 |")
            print(f"wrote {OUT.relative_to(ROOT)}/{level}.ogg ({(OUT / f'{level}.ogg').stat().st_size // 1024} KB) + .json")
        licence = root / "usr/share/doc/fillets-ng-data/copyright"
        (ATTRIBUTION.parent / LICENCE_NAME).write_bytes(licence.read_bytes())
        ATTRIBUTION.write_text(ATTRIBUTION_TEXT.format(rows="\n".join(rows), licence=LICENCE_NAME), encoding="utf-8")
        print(f"wrote {ATTRIBUTION.relative_to(ROOT)} and {LICENCE_NAME}")


if __name__ == "__main__":
    main()
