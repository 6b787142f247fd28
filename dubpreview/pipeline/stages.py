"""The stage timer of a run: each stage timed, logged in the project and told to the reporter."""

from __future__ import annotations

import time
import uuid
from contextlib import contextmanager
from typing import Callable, Iterator

from dubpreview.util.files import fault_point

Reporter = Callable[[str, str, float], None]
"""``reporter(stage, status, seconds)``; status is "start", "computed", "cached" or "note"."""


class Stages:
    """Times each stage of a run, logs it in the project (``runs.jsonl``) and tells the reporter."""

    def __init__(self, project, reporter: Reporter | None):
        self.project = project
        self.reporter = reporter or (lambda stage, status, seconds: None)
        self.run_id = uuid.uuid4().hex[:12]
        """Every log line of this run or render carries it (``run``), so a reader tells runs apart."""

    @contextmanager
    def stage(self, name: str) -> Iterator[dict]:
        """Time the stage; its log line also gets ``peak_rss_mb``, the process's peak
        resident memory so far (MiB, :func:`dubpreview.util.memory.peak_rss_mb`): the stage
        after which it rose is the one that needed that memory; and ``cpu_s``, the CPU seconds
        the process spent in it (all threads, :func:`time.process_time`; over the wall seconds
        it is the stage's core use). The caller sets ``status`` ("computed"/"cached") and
        ``extra`` (more fields of the log line) in the dict it is given."""
        from dubpreview.util.memory import peak_rss_mb

        rec = {"status": "computed", "extra": {}}
        fault_point(f"stage:{name}")  # reliability tests only: see util.files.fault_point
        self.reporter(name, "start", 0.0)
        t0, c0 = time.perf_counter(), time.process_time()
        yield rec
        seconds = time.perf_counter() - t0
        rec["extra"].setdefault("peak_rss_mb", round(peak_rss_mb()))
        rec["extra"].setdefault("cpu_s", round(time.process_time() - c0, 2))
        rec["extra"].setdefault("run", self.run_id)
        self.project.log(name, rec["status"], seconds, **rec["extra"])
        self.reporter(name, rec["status"], seconds)

    def note(self, message: str) -> None:
        """Tell the reporter something the user should know (a fallback, an accent)."""
        self.reporter(message, "note", 0.0)
