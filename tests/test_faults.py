"""Faults: a run killed (SIGKILL) in every stage in turn, and in the middle of writes, resumes to
the same preview as an uninterrupted run; no cache entry is ever taken half-written; a damaged
entry is recomputed; a full disk (a file size limit) gives one clear line and a loadable project.

The kills come from the real process killing itself (``$DUBPREVIEW_FAULT``, see
:func:`dubpreview.util.files.fault_point`), exactly as an OOM kill would stop it. The scene is a
real 6 s LibriVox reading dubbed into Portuguese with the real models.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from dubpreview.project.store import Project

DATA = Path(__file__).parent / "data"
CLIP = DATA / "deb_pocketsphinx-testdata_librivox_en_austen-0920.wav"


def dub(folder: Path, *extra: str, env: dict | None = None, preexec=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dubpreview.cli", "dub", str(folder / "clip.wav"), "--to", "pt",
                           "--from", "en", "-o", str(folder / "clip.dub-pt.m4a"), *extra],
                          capture_output=True, text=True, timeout=600, env=env, preexec_fn=preexec)


def decoded(path: Path) -> list[str]:
    """sha256 of each audio track's decoded samples."""
    out = []
    with av.open(str(path)) as c:
        for stream in c.streams.audio:
            h = hashlib.sha256()
            for frame in c.decode(stream):
                h.update(np.ascontiguousarray(frame.to_ndarray()).tobytes())
            out.append(h.hexdigest())
            c.seek(0)
    return out


def products(folder: Path) -> dict[str, str]:
    project = folder / "clip.dub-pt.dubpreview"
    out = {name: hashlib.sha256((project / name).read_bytes()).hexdigest()
           for name in ("mix.pt.wav", "dub.pt.wav", "me.wav", "subtitles.pt.srt", "timing.json")}
    out["segments"] = json.dumps(json.loads((project / "project.json").read_text(encoding="utf-8"))["segments"],
                                 sort_keys=True)
    out["tracks"] = decoded(folder / "clip.dub-pt.m4a")
    return out


def assert_cache_sound(project: Path) -> None:
    """Every cache entry of the project store has a sidecar that matches it, and no temp file is left."""
    entries = [p for p in (project / "cache").rglob("*") if p.is_file() and p.parent.name != "aac"
               and not p.name.endswith(".sha256")]
    assert entries
    for p in entries:
        assert ".part" not in p.name, p
        side = p.with_name(p.name + ".sha256")
        if side.exists():
            assert hashlib.sha256(p.read_bytes()).hexdigest() == side.read_text().strip(), p


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, list[str]]:
    folder = tmp_path_factory.mktemp("reference")
    shutil.copy(CLIP, folder / "clip.wav")
    proc = dub(folder)
    assert proc.returncode == 0, proc.stderr
    runs = (folder / "clip.dub-pt.dubpreview" / "runs.jsonl").read_text(encoding="utf-8").splitlines()
    stages = list(dict.fromkeys(json.loads(line)["stage"] for line in runs))
    return folder, stages


@pytest.mark.slow
def test_killed_in_every_stage_in_turn_resumes_to_the_same_preview(reference, tmp_path):
    ref, stages = reference
    assert len(stages) >= 8 and "remux preview" in stages
    shutil.copy(CLIP, tmp_path / "clip.wav")
    before = hashlib.sha256(CLIP.read_bytes()).hexdigest()
    for stage in stages:
        proc = dub(tmp_path, env=dict(os.environ, DUBPREVIEW_FAULT=f"stage:{stage}"))
        assert proc.returncode == -signal.SIGKILL, (stage, proc.stderr[-500:])
        assert not (tmp_path / "clip.dub-pt.m4a").exists()  # no partial preview
        state = tmp_path / "clip.dub-pt.dubpreview" / "project.json"
        assert not state.exists() or isinstance(json.loads(state.read_text(encoding="utf-8")), dict)
    proc = dub(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert products(tmp_path) == products(ref)
    assert hashlib.sha256((tmp_path / "clip.wav").read_bytes()).hexdigest() == before  # the input untouched
    assert_cache_sound(tmp_path / "clip.dub-pt.dubpreview")
    log = [json.loads(line) for line in
           (tmp_path / "clip.dub-pt.dubpreview" / "runs.jsonl").read_text(encoding="utf-8").splitlines()]
    last_run = log[-len(stages):]
    # the last run found every analysis stage's work cached: nothing done before the kill was lost
    assert all(e["status"] == "cached" for e in last_run if e["stage"].startswith(("transcribe", "translate",
                                                                                  "separate", "synthesize")))


@pytest.mark.slow
def test_killed_in_the_middle_of_writes_never_leaves_a_half_written_entry(reference, tmp_path):
    ref, _ = reference
    shutil.copy(CLIP, tmp_path / "clip.wav")
    project = tmp_path / "clip.dub-pt.dubpreview"
    kills = 0
    for skip in (0, 3, 8, 14, 25):  # the 1st, 4th, ... atomic write of each run is cut before its rename
        proc = dub(tmp_path, env=dict(os.environ, DUBPREVIEW_FAULT="rename", DUBPREVIEW_FAULT_SKIP=str(skip)))
        if proc.returncode == 0:
            break
        assert proc.returncode == -signal.SIGKILL, proc.stderr[-500:]
        kills += 1
        assert list(project.rglob(".*.part*")), "the killed write left its temporary file"
    assert kills >= 3
    proc = dub(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not list(project.rglob(".*.part*"))  # the dead run's temporary files were removed
    assert products(tmp_path) == products(ref)
    assert_cache_sound(project)


@pytest.mark.slow
def test_a_damaged_cache_entry_is_recomputed_not_used(reference, tmp_path):
    ref, _ = reference
    shutil.copytree(ref, tmp_path / "run")
    folder = tmp_path / "run"
    project = folder / "clip.dub-pt.dubpreview"
    # the project's paths point into the reference folder: re-point them by dubbing from the copy
    (project / "project.json").unlink()
    clips = sorted((project / "cache" / "clips").glob("*.wav"))
    asr = next((project / "cache" / "asr").glob("*.json"))
    with open(clips[0], "r+b") as f:  # flip bytes in the middle of a clip, as a bad disk would
        f.seek(len(f.read()) // 2)
        f.write(b"\x7f" * 64)
    asr.write_text(asr.read_text()[:-20])  # a truncated transcript
    proc = dub(folder)
    assert proc.returncode == 0, proc.stderr
    assert products(folder) == products(ref)
    stages = {json.loads(line)["stage"]: json.loads(line)["status"]
              for line in (project / "runs.jsonl").read_text(encoding="utf-8").splitlines()[-12:]}
    assert stages["transcribe (faster-whisper)"] == "computed" and stages["translate en->pt (bergamot)"] == "cached"


@pytest.mark.slow
def test_full_disk_gives_one_line_and_a_loadable_project_that_resumes(reference, tmp_path):
    ref, _ = reference
    shutil.copy(CLIP, tmp_path / "clip.wav")
    limit = 600_000  # bytes per file: the 48 kHz stereo float stems (about 2.3 MB) cannot be written

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = dub(tmp_path, preexec=small_files)
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("dubpreview: error:")]
    assert len(errors) == 1 and "no room to write" in errors[0] and "Traceback" not in proc.stderr
    assert not (tmp_path / "clip.dub-pt.m4a").exists()
    project = tmp_path / "clip.dub-pt.dubpreview"
    state = Project.open(project, tmp_path / "clip.wav",
                         hashlib.sha256((tmp_path / "clip.wav").read_bytes()).hexdigest()).state
    assert state["segments"]  # the analysis survived
    proc = dub(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert products(tmp_path) == products(ref)
