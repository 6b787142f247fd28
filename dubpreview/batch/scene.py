"""One scene of a batch: its settings, its stage groups, its log, its record of being done.

A scene runs as three stage groups (:data:`STAGE_GROUPS`), each a plain function of the
:class:`~dubpreview.batch.manifest.SceneJob` that a process pool or a Ray task can call:

- ``analyze``  — extract, transcribe, find speakers, translate into every language (shared
  by all the scene's languages);
- ``separate`` — dialogue / music-and-effects stems (shared by all languages; independent
  of ``analyze``, so the two may run at once);
- ``render``   — synthesize, fit, mix and remux every language, then write ``batch.json``.

Everything a group computes goes to the project's cache, so ``render`` after the other two
only reads it, and running :func:`run_scene` (all three in one process) gives the same
files as running the groups as separate tasks.

Inside the project folder: ``batch.log`` (one line per stage, appended by every run) and
``batch.json`` (status, the scene's key, the summary rows), written last and atomically: a
scene is *done* when ``batch.json`` says so for the same key and the preview exists.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dubpreview.batch.manifest import SceneJob
from dubpreview.errors import DubError

STAGE_GROUPS = ("analyze", "separate", "render")
"""The stage groups of one scene, in order (``analyze`` and ``separate`` are independent)."""


@dataclass
class SceneResult:
    """What became of one scene: ``status`` ``"done"``, ``"skipped"`` (done by an earlier
    run) or ``"failed"``; ``seconds`` of wall time this run; ``duration`` of the scene
    (seconds); ``rows`` one summary row per language (see :func:`language_rows`); ``error``
    one line when failed."""

    name: str
    status: str
    seconds: float = 0.0
    duration: float = 0.0
    rows: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""


def dub_settings(job: SceneJob):
    """The :class:`~dubpreview.settings.DubSettings` of a job (manifest settings over the
    ``dub`` command's defaults). Raises DubError (one line naming the scene and the setting)."""
    from dubpreview.settings import from_flat

    return from_flat({**job.settings, "to": list(job.targets)}, where=f"scene {job.name}: ")


def scene_key(job: SceneJob) -> str:
    """The hash of what makes the scene's output: input bytes, languages and settings
    (threads excluded: they change speed, not results). Raises DubError if the input is missing."""
    from dubpreview.project.store import cache_key, file_sha256

    if not job.input.is_file():
        raise DubError(f"input file not found: {job.input}")
    settings = {k: v for k, v in job.settings.items() if k != "threads"}
    translation = settings.get("translation")
    return cache_key(input=file_sha256(job.input), targets=job.targets, settings=settings,
                     translation=file_sha256(translation) if translation and Path(translation).is_file() else None)


def record_path(job: SceneJob) -> Path:
    """``<project>/batch.json``."""
    return job.project / "batch.json"


def finished(job: SceneJob) -> SceneResult | None:
    """The earlier run's result when the scene is done with the same key and its preview
    exists (then it is skipped), else None."""
    try:
        record = json.loads(record_path(job).read_text(encoding="utf-8"))
        key = scene_key(job)
    except (OSError, ValueError, DubError):
        return None
    if not isinstance(record, dict) or record.get("status") != "done" or record.get("key") != key \
            or not job.preview.is_file():
        return None
    rows = [dict(r, status="skipped") for r in record.get("rows", []) if isinstance(r, dict)]
    return SceneResult(job.name, "skipped", 0.0, float(record.get("duration", 0.0)), rows)


def write_record(job: SceneJob, result: SceneResult, key: str | None) -> None:
    """Write ``batch.json`` atomically (the folder is created if needed)."""
    from dubpreview.util.files import atomic_write_json

    job.project.mkdir(parents=True, exist_ok=True)
    atomic_write_json(record_path(job), {"status": result.status, "key": key, "seconds": round(result.seconds, 3),
                                         "duration": result.duration, "rows": result.rows, "error": result.error,
                                         "time": time.time()})


class SceneLog:
    """A reporter (see :data:`dubpreview.pipeline.Reporter`) that appends one timestamped
    line per finished stage to ``<project>/batch.log``."""

    def __init__(self, job: SceneJob, group: str):
        self.path = job.project / "batch.log"
        self.group = group
        job.project.mkdir(parents=True, exist_ok=True)

    def write(self, text: str) -> None:
        """Append one line (one ``O_APPEND`` write, safe beside other processes)."""
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} [{self.group} pid {os.getpid()}] {text}\n".encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def __call__(self, stage: str, status: str, seconds: float) -> None:
        if status == "note":
            self.write(f"note: {stage}")
        elif status != "start":
            self.write(f"{stage}: {status}" + (f" {seconds:.1f} s" if status == "computed" else ""))


def _call(job: SceneJob, group: str, fn):
    """Run ``fn`` (a :mod:`dubpreview.pipeline` entry point) on the job, logging to ``batch.log``."""
    settings = dub_settings(job)
    log = SceneLog(job, group)  # creates the project folder
    log.write(f"{group} {job.input.name} -> {','.join(job.targets)}")
    return fn(job.input, settings, output=job.preview, project_dir=job.project, reporter=log)


def analyze_group(job: SceneJob) -> int:
    """Stage group ``analyze`` (:func:`dubpreview.pipeline.analyze_only`); returns the line count."""
    from dubpreview.pipeline import analyze_only

    return _call(job, "analyze", analyze_only)


def separate_group(job: SceneJob) -> str:
    """Stage group ``separate`` (:func:`dubpreview.pipeline.separate_only`); returns the method."""
    from dubpreview.pipeline import separate_only

    return _call(job, "separate", separate_only)


def language_rows(job: SceneJob, result, seconds: float) -> list[dict[str, Any]]:
    """One summary row per language of a finished dub (``result`` a
    :class:`~dubpreview.pipeline.DubResult`): scene, input, language, status, duration (s),
    seconds, real-time factor (wall seconds per scene second), lines, lines above the
    accepted speed, overruns, translation route, preview path."""
    state = json.loads((result.project / "project.json").read_text(encoding="utf-8"))
    duration = float(state.get("duration") or 0.0)
    accepted = dub_settings(job).timing.accepted_speed
    rows = []
    for lang in job.targets:
        lines = result.timing.get(lang, {}).get("lines", [])
        totals = result.timing.get(lang, {}).get("totals", {})
        rows.append({"scene": job.name, "input": str(job.input), "language": lang, "status": "done",
                     "duration_s": round(duration, 2), "seconds": round(seconds, 2),
                     "rtf": round(seconds / duration, 3) if duration else None,
                     "lines": len(lines), "above_accepted_speed": sum(1 for ln in lines if ln["speed"] > accepted + 1e-3),
                     "overruns": int(totals.get("lines_overflowing", 0)), "route": result.routes.get(lang, ""),
                     "preview": str(result.preview), "error": ""})
    return rows


def render_group(job: SceneJob, started: float | None = None) -> SceneResult:
    """Stage group ``render``: the whole :func:`dubpreview.pipeline.dub` (finding the other
    groups' work cached), then ``batch.json``. ``started`` (``time.time()``) is when the
    scene's first group began, for its wall time. Returns the :class:`SceneResult`;
    raises what ``dub`` raises."""
    from dubpreview.pipeline import dub

    t0 = started if started is not None else time.time()
    key = scene_key(job)
    result = _call(job, "render", dub)
    seconds = time.time() - t0
    rows = language_rows(job, result, seconds)
    out = SceneResult(job.name, "done", seconds, rows[0]["duration_s"] if rows else 0.0, rows)
    write_record(job, out, key)
    SceneLog(job, "render").write(f"done in {seconds:.1f} s")
    return out


def run_scene(job: SceneJob) -> SceneResult:
    """All three stage groups in this process, in order. Returns the result; raises what
    the groups raise."""
    started = time.time()
    analyze_group(job)
    separate_group(job)
    return render_group(job, started)


def failure(job: SceneJob, error: str, seconds: float = 0.0) -> SceneResult:
    """Record a failed scene (``batch.json`` with status failed, a line in ``batch.log``)
    and return its result; its rows carry the error for every language."""
    error = " ".join(str(error).split()) or "failed"
    rows = [{"scene": job.name, "input": str(job.input), "language": lang, "status": "failed",
             "duration_s": None, "seconds": round(seconds, 2), "rtf": None, "lines": None,
             "above_accepted_speed": None, "overruns": None, "route": "", "preview": "", "error": error}
            for lang in job.targets]
    result = SceneResult(job.name, "failed", seconds, 0.0, rows, error)
    try:
        write_record(job, result, None)
        SceneLog(job, "batch").write(f"failed: {error}")
    except OSError:
        pass  # the output folder itself is unwritable: the summary still says why
    return result
