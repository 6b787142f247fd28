"""Batch dubbing: manifests, pivot translation, a real three-clip batch in a process pool and on Ray.

The manifest tests read files only (no model runs). The batch tests dub three real clips
(Czech acted dialogue cut from the Fish Fillets NG scene, an English LibriVox reading, a
Spanish MLS reading) into English and Portuguese with the real models: once in a process
pool with a corrupt input beside them, again to show that a re-run does no work, and once
on a local Ray (started and stopped by the command, 127.0.0.1 only) whose files must equal
the pool's.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dubpreview.batch.manifest import load_manifest
from dubpreview.errors import BackendUnavailable, DubError
from dubpreview.media.ffmpeg import ffmpeg_exe
from dubpreview.media.probe import probe

DATA = Path(__file__).parent / "data"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- manifests (no models)

def test_yaml_manifest_defaults_and_overrides(tmp_path):
    (tmp_path / "clips").mkdir()
    m = write(tmp_path / "m.yaml", """
version: 1
defaults: {to: [pt, en], separation: none, max_speed: 1.25}
scenes:
  - input: clips/a.mp4
  - input: clips/b.wav
    to: pt
    from: cs
    output: nested/b
    translation: clips/b.en.srt
""")
    a, b = load_manifest(m)
    assert a.name == "a" and a.targets == ["pt", "en"] and a.project == tmp_path / "dubbed" / "a"
    assert a.input == tmp_path / "clips" / "a.mp4" and a.preview.name == "a.dub-pt-en.mp4"
    assert a.settings == {"separation": "none", "max_speed": 1.25}
    assert b.targets == ["pt"] and b.project == tmp_path / "dubbed" / "nested" / "b"
    assert b.settings["from"] == "cs" and b.settings["translation"] == str(tmp_path / "clips" / "b.en.srt")
    (out,) = load_manifest(write(tmp_path / "one.yaml", "version: 1\nscenes: [{input: x.wav, to: pt}]\n"),
                           output_dir=tmp_path / "elsewhere")
    assert out.project == tmp_path / "elsewhere" / "x"


def test_csv_manifest(tmp_path):
    m = write(tmp_path / "m.csv", "# scenes of the week\ninput,to,output,from,voice_match,target_lufs\n"
                                  'a.mp4,"pt,en",,,false,-24\nb.wav,pt en,bee,es,,\n')
    a, b = load_manifest(m)
    assert a.targets == ["pt", "en"] and a.settings == {"voice_match": False, "target_lufs": -24.0}
    assert b.targets == ["pt", "en"] and b.name == "bee" and b.settings == {"from": "es"}


@pytest.mark.parametrize("text, needle", [
    ("version: 2\nscenes: [{input: a.wav, to: pt}]\n", "version 2 is not supported"),
    ("scenes: [{input: a.wav, to: pt}]\n", "version: Field required"),
    ("version: 1\nscenes: [{input: a.wav, to: pt, speeed: 1.2}]\n", "unknown setting 'speeed'"),
    ("version: 1\nscenes: [{input: a.wav, to: pt, max_speed: 3}]\n", "scene 1: max_speed 3 is outside 1..2"),
    ("version: 1\nscenes: [{input: a.wav, to: pt, separation: magic}]\n", "scene 1: separation magic"),
    ("version: 1\nscenes: [{input: a.wav}]\n", "scene 1 has no target languages"),
    ("version: 1\nscenes: [{input: a.wav, to: ''}]\n", "at least one target language"),
    ("version: 1\nscenes: []\n", "scenes: List should have at least 1 item"),
    ("version: 1\nscenes: [{input: a.wav, to: pt, output: ../../etc}]\n", "inside the batch output folder"),
    ("version: 1\nscenes: [{input: a.wav, to: pt, output: /tmp/x}]\n", "inside the batch output folder"),
    ("version: 1\nscenes: [{input: a.wav, to: pt}, {input: b/a.mp4, to: en}]\n", "same output folder 'a'"),
    ("version: 1\nscenes: [{input: a.wav, to: pt\n", "is not a valid manifest"),
    ("- just\n- a list\n", "a mapping with 'version' and 'scenes'"),
])
def test_bad_yaml_manifest_one_line(tmp_path, text, needle):
    with pytest.raises(DubError) as err:
        load_manifest(write(tmp_path / "m.yaml", text))
    assert needle in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("text, needle", [
    ("file,to\na.wav,pt\n", "header row with at least 'input'"),
    ("input,to\n", "lists no scenes"),
    ("input,to\na.wav,pt,extra\n", "more cells than the header"),
    ("input,to,threads\na.wav,pt,many\n", "scene 1: threads many: Input should be a valid integer"),
])
def test_bad_csv_manifest_one_line(tmp_path, text, needle):
    with pytest.raises(DubError) as err:
        load_manifest(write(tmp_path / "m.csv", text))
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_manifest_not_found_or_wrong_kind(tmp_path):
    with pytest.raises(DubError, match="manifest not found"):
        load_manifest(tmp_path / "none.yaml")
    with pytest.raises(DubError, match=r"\.yaml/\.yml or \.csv"):
        load_manifest(write(tmp_path / "m.txt", "input,to\n"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300), suffix=st.sampled_from([".yaml", ".csv"]))
def test_fuzzed_manifest_gives_jobs_inside_the_output_folder_or_one_clear_error(tmp_path, text, suffix):
    path = tmp_path / f"fuzz{suffix}"
    path.write_text(text, encoding="utf-8")
    try:
        jobs = load_manifest(path, output_dir=tmp_path / "out")
    except DubError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    for job in jobs:
        assert (tmp_path / "out") in job.project.parents and job.targets


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(output=st.text(min_size=1, max_size=40))
def test_no_output_field_escapes_the_output_folder(tmp_path, output):
    path = tmp_path / "m.yaml"
    path.write_text(json.dumps({"version": 1, "scenes": [{"input": "a.wav", "to": "pt", "output": output}]}),
                    encoding="utf-8")
    try:
        (job,) = load_manifest(path, output_dir=tmp_path / "out")
    except DubError:
        return
    assert (tmp_path / "out") in job.project.parents


# --------------------------------------------------------------------------- pivot

class FakeTranscriber:
    name = "fake"
    model_id = "fake"


def test_route_pivots_through_english_only_when_no_backend_does_the_pair():
    from dubpreview.translate.select import describe_route, select_route

    assert describe_route(select_route("en", "pt")) == "en->pt (bergamot)"
    route = select_route("cs", "pt", transcriber=FakeTranscriber())
    assert describe_route(route) == "cs->en (whisper-translate), en->pt (bergamot)"
    with pytest.raises(BackendUnavailable, match="no installed translator does cs->pt"):
        select_route("cs", "pt")  # cs->en needs Whisper's speech translation
    with pytest.raises(BackendUnavailable, match="no installed translator does cs->fr"):
        select_route("cs", "fr", transcriber=FakeTranscriber())  # en->fr: nothing installed
    with pytest.raises(BackendUnavailable, match="only en->pt and pt->en"):
        select_route("cs", "pt", backend="bergamot", transcriber=FakeTranscriber())  # named: no pivot


# --------------------------------------------------------------------------- real batches

def run_batch(*args, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dubpreview.cli", "batch", *map(str, args)],
                          capture_output=True, text=True, timeout=900, env=env)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """Three real clips (cs video, en audio, es audio) and a text file named .mp4."""
    folder = tmp_path_factory.mktemp("clips")
    subprocess.run([ffmpeg_exe(), "-v", "error", "-ss", "9.4", "-t", "7", "-i",
                    DATA / "example_fillets-ng_cs_dialogue_640x360_h264_aac.mp4", "-c:v", "libx264",
                    "-preset", "ultrafast", "-c:a", "aac", folder / "fish.mp4"], check=True)
    shutil.copy(DATA / "deb_pocketsphinx-testdata_librivox_en_austen-0920.wav", folder / "austen.wav")
    shutil.copy(DATA / "pypi_mfa_mls_es_13697_11991_000000.opus", folder / "mls.opus")
    (folder / "corrupt.mp4").write_text("this is not a video\n")
    return folder


SCENES = [("fish.mp4", "cs", "fish"), ("austen.wav", "en", "austen"), ("mls.opus", "es", "mls"),
          ("corrupt.mp4", "", "corrupt")]
PRODUCTS = ("mix.en.wav", "mix.pt.wav", "dub.en.wav", "dub.pt.wav", "me.wav", "subtitles.en.srt",
            "subtitles.pt.srt", "timing.json")


def digest(folder: Path) -> dict[str, str]:
    """sha256 of each scene's products and of its segments as stored in project.json."""
    out = {}
    for _, _, name in SCENES[:3]:
        for product in PRODUCTS:
            out[f"{name}/{product}"] = hashlib.sha256((folder / name / product).read_bytes()).hexdigest()
        segments = json.loads((folder / name / "project.json").read_text(encoding="utf-8"))["segments"]
        out[f"{name}/segments"] = hashlib.sha256(json.dumps(segments, sort_keys=True).encode()).hexdigest()
    return out


@pytest.fixture(scope="module")
def pool_batch(clips) -> tuple[Path, subprocess.CompletedProcess]:
    manifest = clips / "batch.csv"
    with open(manifest, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["input", "to", "output", "from"])
        for file, lang, name in SCENES:
            w.writerow([file, "en,pt", name, lang])
    out = clips / "pool"
    return out, run_batch(manifest, "--output-dir", out, "--workers", "2")


@pytest.mark.slow
def test_batch_in_a_process_pool_survives_a_corrupt_input(pool_batch):
    out, proc = pool_batch
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert proc.stderr.strip().splitlines()[-1].startswith("dubpreview: error: 1 of 4 scenes failed (corrupt)")
    rows = list(csv.DictReader(open(out / "batch-summary.csv", encoding="utf-8")))
    assert [(r["scene"], r["language"], r["status"]) for r in rows] == [
        (name, lang, "failed" if name == "corrupt" else "done") for _, _, name in SCENES for lang in ("en", "pt")
    ]  # the corrupt scene too has one row per language it asked for
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 2 and all("not a media file" in r["error"] or "corrupt.mp4" in r["error"] for r in failed)
    routes = {(r["scene"], r["language"]): r["route"] for r in rows}
    assert routes[("fish", "pt")] == "cs->en (whisper-translate), en->pt (bergamot)"  # pivot, said in the table
    assert routes[("mls", "pt")] == "es->en (whisper-translate), en->pt (bergamot)"
    assert routes[("austen", "pt")] == "en->pt (bergamot)" and routes[("fish", "en")] == "cs->en (whisper-translate)"
    for r in rows:
        if r["status"] == "done":
            assert float(r["duration_s"]) > 5 and float(r["rtf"]) > 0 and int(r["lines"]) >= 1
            assert int(r["above_accepted_speed"]) >= 0
    # one preview per scene with both dubs and the original, each tagged, each dub with its subtitles
    info = probe(out / "fish" / "fish.dub-en-pt.mp4")
    czech = {"ces", "cze"}  # ISO 639-2 T and B: MP4 writes the B code
    assert info.video and [a.language for a in info.audio][:2] == ["eng", "por"] and info.audio[2].language in czech
    assert {s.language for s in info.subtitles} - czech == {"eng", "por"} and len(info.subtitles) == 3
    info = probe(out / "mls" / "mls.dub-en-pt.mp4")
    assert [a.language for a in info.audio] == ["eng", "por", "spa"]
    log = (out / "mls" / "batch.log").read_text(encoding="utf-8")
    assert "translated through English" in log and "done in" in log
    # the corrupt scene left no preview, only its record and log
    assert sorted(p.name for p in (out / "corrupt").iterdir()) == ["batch.json", "batch.log"]
    pt = (out / "mls" / "subtitles.pt.srt").read_text(encoding="utf-8")
    en = (out / "mls" / "subtitles.en.srt").read_text(encoding="utf-8")
    assert pt.strip() and pt != en


@pytest.mark.slow
def test_batch_rerun_does_no_work_for_finished_scenes_and_retries_failed(pool_batch, clips):
    out, first = pool_batch
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and "corrupt" not in p.parts
              and p.name not in ("batch-summary.csv", "batch-summary.json")}
    proc = run_batch(clips / "batch.csv", "--output-dir", out)
    assert proc.returncode == 2
    after = {p: p.stat().st_mtime_ns for p in before}
    assert after == before  # nothing of a finished scene was written: no stage ran
    rows = list(csv.DictReader(open(out / "batch-summary.csv", encoding="utf-8")))
    assert {r["status"] for r in rows if r["scene"] != "corrupt"} == {"skipped"}
    assert {r["status"] for r in rows if r["scene"] == "corrupt"} == {"failed"}
    assert (out / "corrupt" / "batch.log").read_text(encoding="utf-8").count("failed:") == 2  # retried


@pytest.mark.slow
def test_batch_on_a_local_ray_gives_the_same_files_as_the_pool(pool_batch, clips):
    out, first = pool_batch
    manifest = clips / "batch.yaml"
    manifest.write_text(json.dumps({"version": 1, "defaults": {"to": ["en", "pt"]}, "scenes": [
        {"input": file, "output": name, **({"from": lang} if lang else {})} for file, lang, name in SCENES]}),
        encoding="utf-8")
    ray_out = clips / "ray"
    proc = run_batch(manifest, "--output-dir", ray_out, "--ray")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "on a local Ray" in proc.stderr and "1 of 4 scenes failed (corrupt)" in proc.stderr
    assert digest(ray_out) == digest(out)
    summary = json.loads((ray_out / "batch-summary.json").read_text(encoding="utf-8"))
    assert summary["mode"] == "ray" and summary["totals"]["done"] == 3 and summary["totals"]["failed"] == 1
    groups = {line.split("]")[0].split("[")[1].split()[0]
              for line in (ray_out / "fish" / "batch.log").read_text(encoding="utf-8").splitlines()}
    assert groups == {"analyze", "separate", "render"}  # one Ray task per stage group


def test_batch_on_an_existing_ray_cluster_at_an_address(tmp_path):
    """A Ray head started apart from the batch (as a cluster would be; token authentication on,
    as Ray advises for clusters): the batch connects to its address, its task fails on the
    corrupt input, and the failure comes back as one line in the table; the batch leaves the
    cluster running (the test stops it)."""
    import os
    import secrets
    import socket

    ray = Path(sys.executable).parent / "ray"
    env = dict(os.environ, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = subprocess.run([ray, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
                            "--num-cpus", "1", "--include-dashboard", "false", "--disable-usage-stats"],
                           capture_output=True, text=True, timeout=120, env=env)
    assert start.returncode == 0, start.stderr
    try:
        (tmp_path / "corrupt.mp4").write_text("not a video\n")
        write(tmp_path / "m.yaml", "version: 1\nscenes: [{input: corrupt.mp4, to: pt}]\n")
        proc = run_batch(tmp_path / "m.yaml", "--ray", f"127.0.0.1:{port}", env=env)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert f"on the Ray cluster at 127.0.0.1:{port}" in proc.stderr
        (row,) = json.loads((tmp_path / "dubbed" / "batch-summary.json").read_text(encoding="utf-8"))["rows"]
        assert row["status"] == "failed" and "not a media file" in row["error"] and "\n" not in row["error"]
        status = subprocess.run([ray, "status", "--address", f"127.0.0.1:{port}"], capture_output=True, text=True,
                                timeout=60, env=env)
        assert status.returncode == 0, status.stderr  # the batch disconnected; it did not stop the cluster
    finally:
        subprocess.run([ray, "stop", "--force"], capture_output=True, timeout=120, env=env)


def test_batch_cannot_reach_a_ray_address_one_line(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there
    shutil.copy(DATA / "deb_pocketsphinx-testdata_librivox_en_austen-0920.wav", tmp_path / "a.wav")
    write(tmp_path / "m.yaml", "version: 1\nscenes: [{input: a.wav, to: pt}]\n")
    proc = run_batch(tmp_path / "m.yaml", "--ray", f"127.0.0.1:{port}")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(f"dubpreview: error: cannot start or reach the Ray cluster at 127.0.0.1:{port}")


@pytest.mark.slow
def test_a_worker_killed_mid_scene_fails_that_scene_only_and_a_rerun_finishes_it(tmp_path):
    """The pool's worker dies (SIGKILL, as an OOM kill would) while synthesizing the first
    scene: that scene is reported failed in one line, the second scene still runs in a new
    pool; a re-run without the fault finishes the first from its cache."""
    import os

    for name in ("a", "b"):
        shutil.copy(DATA / "deb_pocketsphinx-testdata_librivox_en_austen-0920.wav", tmp_path / f"{name}.wav")
    write(tmp_path / "m.yaml", "version: 1\ndefaults: {to: pt, from: en, voice_match: false, separation: none}\n"
                               "scenes: [{input: a.wav}, {input: b.wav}]\n")
    env = dict(os.environ, DUBPREVIEW_FAULT="stage:synthesize", DUBPREVIEW_FAULT_SKIP="0")
    proc = run_batch(tmp_path / "m.yaml", "--workers", "1", env=env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    rows = {r["scene"]: r for r in json.loads((tmp_path / "dubbed" / "batch-summary.json").read_text())["rows"]}
    assert rows["a"]["status"] == "failed" and "worker process died" in rows["a"]["error"]
    assert rows["b"]["status"] == "failed"  # the fault is in every worker's environment: b's dies too
    assert "worker process died" in rows["b"]["error"]
    log = (tmp_path / "dubbed" / "a" / "runs.jsonl").read_text().splitlines()
    assert any(json.loads(line)["stage"].startswith("transcribe") for line in log)  # work before the kill kept
    proc = run_batch(tmp_path / "m.yaml", "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads((tmp_path / "dubbed" / "batch-summary.json").read_text())["rows"]
    assert [r["status"] for r in rows] == ["done", "done"]
    last = [json.loads(line) for line in (tmp_path / "dubbed" / "a" / "runs.jsonl").read_text().splitlines()]
    assert next(e for e in reversed(last) if e["stage"].startswith("transcribe"))["status"] == "cached"
