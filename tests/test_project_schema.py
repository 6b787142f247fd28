"""project.json from outside: validated on every load, fuzzed, and never a path out of the folder.

No model runs here. The valid state is built by the same code a run uses
(:meth:`DubSettings.public`, :meth:`Segment.to_dict`); a real run's project.json is loaded
through the same check by every re-run in tests/test_faults.py and tests/test_dub_e2e.py.
"""

from __future__ import annotations

import copy
import json
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dubpreview.errors import DubError
from dubpreview.settings import DubSettings, from_state
from dubpreview.project.schema import check_state, inside, load_state, relative_inside
from dubpreview.records import Segment, Word


def valid_state(folder: Path | None = None) -> dict:
    seg = Segment(0, 0.5, 2.0, "Hello there.", [Word(0.5, 1.0, "Hello"), Word(1.0, 2.0, "there.")], "S1",
                  {"pt": "Olá."}, offset_ms=120.0, edited=["pt"])
    root = folder or Path("/projects/p")
    return {"schema_version": 2, "source": {"path": str(root / "source" / "scene.mp4"), "sha256": "a" * 64},
            "settings": DubSettings(targets=["pt"]).public(), "segments": [seg.to_dict(), Segment(1, 2.5, 3.0, "Yes.").to_dict()],
            "outputs": {"preview": str(root / "preview.mp4"), "timing": str(root / "timing.json")},
            "warnings": [], "source_language": "en", "duration": 3.2, "translation_routes": {"pt": "en->pt (bergamot)"}}


def test_the_state_a_run_writes_is_valid_and_round_trips():
    state = valid_state()
    assert check_state(state) is state
    s = from_state(state["settings"])
    assert s.targets == ["pt"] and s.timing.max_speed == 1.3


def test_a_schema_1_project_with_flat_settings_still_opens():
    """Projects written before the settings had groups (schema 1) load, their settings nested."""
    state = valid_state()
    state["schema_version"] = 1
    state["settings"] = {"targets": ["pt"], "target_lufs": -16.0, "bed_db": -3.0, "separation": "none",
                         "voice": None, "diarize": True, "voice_match": False, "timing": {"max_speed": 1.25},
                         "mix": {"target_lufs": -23.0, "bed_db": 0.0, "ramp_s": 0.08}, "guards": True}
    back = from_state(check_state(state)["settings"])
    assert (back.mix.target_lufs, back.mix.bed_db, back.separation.method) == (-16.0, -3.0, "none")
    assert back.voices.match is False and back.timing.max_speed == 1.25


@settings(max_examples=300, deadline=None)
@given(lufs=st.floats(-60, 5, allow_nan=False), bed=st.floats(-60, 20, allow_nan=False),
       max_speed=st.floats(0.5, 2.5, allow_nan=False), accepted=st.floats(0.5, 2.5, allow_nan=False),
       lateness=st.floats(-1, 3, allow_nan=False), smoothing=st.floats(-0.5, 1.5, allow_nan=False),
       beam=st.integers(-2, 12), threads=st.integers(-1, 80), speakers=st.none() | st.integers(-1, 25),
       separation=st.sampled_from(["auto", "spleeter", "centre", "none", "demucs"]),
       flags=st.lists(st.sampled_from(["--no-guards", "--no-fallback", "--no-diarize", "--no-voice-match",
                                       "--voice-refine", "--save-voices"]), unique=True))
def test_any_settings_value_the_cli_accepts_survives_project_json_and_reloads(
        lufs, bed, max_speed, accepted, lateness, smoothing, beam, threads, speakers, separation, flags):
    """Issue 16: the command line and project.json validate by the one model: whatever the
    CLI accepts (``--target-lufs -8`` included) is written, re-read and gives the same
    settings; whatever it refuses is one line naming the option."""
    from dubpreview.cli import _settings, build_parser

    argv = ["dub", "scene.mp4", "--to", "pt", f"--target-lufs={lufs}", f"--bed-db={bed}",
            f"--max-speed={max_speed}", f"--accepted-speed={accepted}", f"--max-lateness={lateness}",
            f"--smoothing={smoothing}", f"--beam-size={beam}", f"--threads={threads}",
            f"--separation={separation}", *flags] + ([f"--speakers={speakers}"] if speakers is not None else [])
    try:
        args = build_parser().parse_args(argv)
    except SystemExit:  # argparse refuses a choice (an unknown separation) before the model sees it
        assert separation == "demucs"
        return
    try:
        chosen = _settings(args, ["pt"], None, None, None)
    except DubError as exc:
        assert str(exc).startswith("--") and "\n" not in str(exc)
        return
    state = valid_state()
    state["settings"] = chosen.public()
    back = from_state(check_state(json.loads(json.dumps(state)))["settings"])
    assert back == chosen
    assert (back.mix.target_lufs, back.mix.bed_db, back.timing.max_speed) == (lufs, bed, max_speed)


@pytest.mark.parametrize("change, needle", [
    (lambda s: s.update(schema_version=99), "newer dubpreview (schema 99)"),
    (lambda s: s.pop("source"), "source: Field required"),
    (lambda s: s["source"].update(sha256="../../etc"), "source.sha256"),
    (lambda s: s["segments"][0].update(start="soon"), "segments.0.start"),
    (lambda s: s["segments"][0].update(end=0.1), "ends (0.1) before it starts"),
    (lambda s: s["segments"][0].update(start=float("nan")), "segments.0.start"),
    (lambda s: s["segments"][1].update(id=0), "same id"),
    (lambda s: s["segments"][0].update(speed=9), "segments.0.speed"),
    (lambda s: s["settings"].update(targets=[]), "settings.targets"),
    (lambda s: s["settings"].update(colour="blue"), "settings.colour"),
    (lambda s: s["settings"]["timing"].update(warp=2), "settings.timing.warp"),
    (lambda s: s["settings"]["mix"].update(target_lufs=5), "settings.mix.target_lufs"),
    (lambda s: s.update(outputs=["a"]), "outputs"),
])
def test_damaged_state_one_line(change, needle):
    state = valid_state()
    change(state)
    with pytest.raises(DubError) as err:
        check_state(state)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_load_state_errors(tmp_path):
    with pytest.raises(DubError, match="no project.json"):
        load_state(tmp_path)
    (tmp_path / "project.json").write_text("{not json")
    with pytest.raises(DubError, match="not valid JSON"):
        load_state(tmp_path)
    (tmp_path / "project.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(DubError, match="cannot read"):
        load_state(tmp_path)
    (tmp_path / "project.json").write_text("[1, 2]")
    with pytest.raises(DubError, match="not a JSON object"):
        load_state(tmp_path)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                       max_size=4), max_leaves=12)


def _paths(obj, prefix=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield prefix + (i,)
            yield from _paths(v, prefix + (i,))


ALL_PATHS = list(_paths(valid_state()))


@settings(max_examples=400, deadline=None)
@given(where=st.sampled_from(ALL_PATHS), value=json_values, drop=st.booleans())
def test_fuzzed_state_is_refused_in_one_line_or_usable(where, value, drop):
    """Any one field replaced by any JSON value (or removed): either one clear DubError, or a
    state every reader can use without crashing."""
    state = copy.deepcopy(valid_state())
    parent = state
    for key in where[:-1]:
        parent = parent[key]
    if drop and isinstance(parent, dict):
        parent.pop(where[-1])
    else:
        parent[where[-1]] = value
    try:
        check_state(state)
    except DubError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    if state.get("settings"):
        from_state(state["settings"])
    for seg in state.get("segments", []):
        Segment.from_dict(seg)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_fuzzed_project_file_text(tmp_path, text):
    (tmp_path / "project.json").write_text(text, encoding="utf-8")
    try:
        load_state(tmp_path)
    except DubError as exc:
        assert "\n" not in str(exc)


@pytest.mark.parametrize("path", ["/etc/passwd", "../../secret.txt", "sub/../../x", "..", "C:/Windows/x"])
def test_paths_outside_the_folder_are_refused(tmp_path, path):
    assert not relative_inside(path)
    if path.startswith("C:"):
        return  # a relative name on Linux: it stays inside
    with pytest.raises(DubError, match="outside its folder"):
        inside(tmp_path, path)


def test_paths_inside_are_accepted(tmp_path):
    assert relative_inside("cache/clips/abc.wav")
    assert inside(tmp_path, "cache/clips/abc.wav") == (tmp_path / "cache/clips/abc.wav").resolve()
    assert inside(tmp_path, str(tmp_path / "preview.mp4")) == (tmp_path / "preview.mp4").resolve()


def test_studio_never_serves_a_file_outside_the_project(tmp_path):
    from dubpreview.app.files import downloads
    from dubpreview.app.service import preview_path

    folder = tmp_path / "p"
    folder.mkdir()
    (tmp_path / "secret.txt").write_text("the other user's file")
    (folder / "timing.json").write_text('{"languages": {}}')
    state = valid_state(folder)
    state["outputs"] = {"preview": str(tmp_path / "secret.txt"), "timing": "../secret.txt",
                        "subtitles_pt_srt": str(folder / "timing.json")}
    (folder / "project.json").write_text(json.dumps(state))
    with pytest.raises(DubError, match="outside its folder"):
        preview_path(folder)
    files = downloads(folder)
    assert list(files) == ["subtitles pt.srt"]  # named by what it is; the two outside paths refused
    assert all(folder.resolve() in p.resolve().parents for p in files.values())
    assert not any("secret" in p.read_text() for p in files.values())


def test_archive_with_a_damaged_project_is_refused_and_leaves_nothing(tmp_path):
    from dubpreview.app.projects import ProjectStore

    store = ProjectStore(tmp_path / "projects")
    archive = tmp_path / "evil.dubpreview.zip"
    state = valid_state()
    state["segments"][0]["start"] = "yesterday"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("project.json", json.dumps(state))
        zf.writestr("app.json", json.dumps({"id": "x", "name": "evil"}))
        zf.writestr("source/scene.mp4", b"\x00" * 10)
    with pytest.raises(DubError) as err:
        store.import_archive("alice", archive)
    assert "segments.0.start" in str(err.value) and "\n" not in str(err.value)
    assert list(store.owner_dir("alice").iterdir()) == []


@pytest.mark.slow
def test_atheris_fuzzes_the_loaders_for_a_bounded_time(tmp_path):
    """libFuzzer-guided inputs into the manifest and project loaders (tests/fuzz/fuzz_loaders.py):
    15 s, a fixed seed; any exception but a one-line DubError is a crash and fails the run."""
    import subprocess
    import sys

    import resource

    pytest.importorskip("atheris")
    # libFuzzer reads its RSS from getrusage's ru_maxrss, which Linux carries over from this
    # (multi-GB) pytest process into the child: its 2 GB limit counts from our peak, not zero.
    rss_limit = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024 + 2048
    proc = subprocess.run([sys.executable, str(Path(__file__).parent / "fuzz" / "fuzz_loaders.py"),
                           "-max_total_time=15", "-seed=1", f"-rss_limit_mb={rss_limit}"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = int(proc.stderr.split("Done ")[1].split()[0])
    assert runs > 1000, proc.stderr[-500:]
