"""Running a batch's scenes: in this process, in a local process pool, or as Ray tasks.

- ``serial``: one scene after the other in this process (models loaded once).
- ``pool``: :class:`concurrent.futures.ProcessPoolExecutor` (spawned workers), one task per
  scene running its three stage groups in order; each worker keeps its models loaded
  between scenes (the module-level model caches live as long as the worker).
- ``ray``: per scene, the ``analyze`` and ``separate`` stage groups as two Ray tasks that
  may run at once on different workers, then ``render`` as a third task that Ray starts
  when both are done (their results are its arguments). Each task carries resource hints
  (:data:`RAY_RESOURCES`: CPUs, memory); Ray reuses worker processes, so models load once per
  worker. Without an address a local Ray is started on 127.0.0.1 and stopped at the end;
  with one (``auto`` or ``HOST:PORT``) the tasks go to that cluster, whose nodes need
  dubpreview installed and the input and output folders on a shared filesystem.

Every mode writes the same project files (each stage group only reads and fills the
project's cache), skips scenes done by an earlier run (:func:`dubpreview.batch.scene.finished`),
and never lets one scene's failure stop the others.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Callable

from dubpreview.batch.manifest import SceneJob
from dubpreview.batch.scene import SceneResult, failure, finished, scene_key
from dubpreview.errors import DubError

MODES = ("serial", "pool", "ray")
"""The ways to run a batch."""

GB = 1024 ** 3
RAY_RESOURCES = {
    "analyze": {"memory": int(1.5 * GB)},
    "separate": {"num_cpus": 1, "memory": int(2.0 * GB)},
    "render": {"memory": int(1.5 * GB)},
}
"""Ray resource hints per stage group. ``num_cpus`` of ``analyze`` and ``render`` is the
scene's ``threads`` setting (Whisper and Kokoro run that many threads); separation runs one
torch thread. Memory from measured peak RSS (``python bench/run.py``: 1.3-1.5 GB for a whole
dub; spleeter on 10 min of audio 1.7 GB, ``python bench/separation.py``)."""

Progress = Callable[[SceneResult], None]


def error_line(exc: BaseException) -> str:
    """One line for a scene's failure: a :class:`DubError`'s own message, else the
    exception's type and message (the cause of a Ray task error when there is one)."""
    cause = getattr(exc, "cause", None) or exc
    if isinstance(cause, DubError):
        return " ".join(str(cause).split())
    if isinstance(cause, BrokenProcessPool):
        return "the worker process died (killed, or out of memory); run the batch again to retry"
    text = " ".join(str(cause).split()) or "no message"
    return f"internal error: {type(cause).__name__}: {text}"


def _run_one(job: SceneJob) -> SceneResult:
    """:func:`dubpreview.batch.scene.run_scene`, with a failure recorded as a result."""
    from dubpreview.batch.scene import run_scene

    t0 = time.time()
    try:
        return run_scene(job)
    except Exception as exc:  # noqa: BLE001 - one scene's failure never stops the batch
        return failure(job, error_line(exc), time.time() - t0)


def _serial(jobs: list[SceneJob], workers: int, progress: Progress) -> None:
    for job in jobs:
        progress(_run_one(job))


def _worker_init() -> None:
    """Pool worker start: no tqdm bars of its own (the driver shows the batch's)."""
    import os

    os.environ["TQDM_DISABLE"] = "1"


def openmp_threads(job: SceneJob) -> int:
    """``OMP_NUM_THREADS`` for a scene's workers: its ``threads`` setting (default 2), in a pool
    worker and a Ray task alike. OpenBLAS and OpenMP read it when they load, and Whisper's
    features and CTranslate2 sum in another order with another count, which can change a
    decoded word (measured: a comma more or less on the es test clip with 1 vs 2), so a scene
    must see the same count wherever it runs for a pool and a Ray batch to give the same files."""
    return int(job.settings.get("threads") or 2)


@contextmanager
def _spawn_env(name: str, value: str):
    """``os.environ[name] = value`` while the block runs (processes spawned then inherit it)."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


def _pool(jobs: list[SceneJob], workers: int, progress: Progress) -> None:
    """At most ``workers`` scenes in flight. A worker that dies (killed, out of memory) breaks
    the pool: the scenes in flight then are failed, the rest go on in a new pool. Workers are
    spawned with :func:`openmp_threads` (the largest of the batch's scenes)."""
    with _spawn_env("OMP_NUM_THREADS", str(max((openmp_threads(j) for j in jobs), default=2))):
        _pool_run(jobs, workers, progress)


def _pool_run(jobs: list[SceneJob], workers: int, progress: Progress) -> None:
    queue = list(jobs)
    while queue:
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                                 initializer=_worker_init) as pool:
            running: dict = {}
            broken = False
            while (queue and not broken) or running:
                while queue and not broken and len(running) < workers:
                    job = queue.pop(0)
                    running[pool.submit(_run_one, job)] = job
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    job = running.pop(fut)
                    try:
                        progress(fut.result())
                    except BrokenProcessPool as exc:
                        broken = True
                        progress(failure(job, error_line(exc)))
                    except Exception as exc:  # noqa: BLE001 - e.g. a result that cannot be unpickled
                        progress(failure(job, error_line(exc)))


def _timed(group: Callable, job: SceneJob) -> float:
    """Run one stage group; return when it started (``time.time()``)."""
    t0 = time.time()
    group(job)
    return t0


def _render(job: SceneJob, analyze_started: float, separate_started: float) -> SceneResult:
    """The ``render`` group, timed from the earlier of the other two groups' starts."""
    from dubpreview.batch.scene import render_group

    return render_group(job, min(analyze_started, separate_started))


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Raise DubError unless something listens at ``HOST:PORT`` (Ray itself would retry for minutes)."""
    import socket

    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise DubError(f"the Ray address '{address}' is not HOST:PORT (e.g. 10.0.0.5:6379) or 'auto'")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise DubError(f"cannot start or reach the Ray cluster at {address}: {exc.strerror or exc}; "
                       "is `ray start --head` running there?") from None


def _ray(jobs: list[SceneJob], workers: int, progress: Progress, address: str | None) -> None:
    import logging
    import os

    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")  # Ray's C++ retry warnings would bury our one line
    try:
        import ray
    except ImportError:
        raise DubError("--ray needs the 'ray' package; pip install 'dubpreview[ray]'") from None
    from dubpreview.batch import scene as sc

    started_here = not ray.is_initialized()
    if started_here:
        if address and address != "auto":
            _check_reachable(address)
        try:
            if address:
                ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
            else:
                ray.init(num_cpus=workers, include_dashboard=False, _node_ip_address="127.0.0.1",
                         log_to_driver=False, logging_level=logging.WARNING,
                         runtime_env={"env_vars": {"TQDM_DISABLE": "1"}})
        except Exception as exc:  # noqa: BLE001 - ConnectionError and Ray's own errors
            where = f"the Ray cluster at {address}" if address else "a local Ray"
            raise DubError(f"cannot start or reach {where}: {' '.join(str(exc).split())[:200]}") from None

    try:
        timed, render = ray.remote(_timed), ray.remote(_render)
        refs = {}
        cpus = int(ray.cluster_resources().get("CPU", 1))
        for job in jobs:
            threads = min(int(job.settings.get("threads") or 2), cpus)  # never more than the cluster has
            # OpenMP threads as in a pool worker (Ray would set the task's num_cpus): see openmp_threads
            env = {"runtime_env": {"env_vars": {"TQDM_DISABLE": "1", "OMP_NUM_THREADS": str(openmp_threads(job))}}}
            a = timed.options(num_cpus=threads, max_retries=1, **env, **RAY_RESOURCES["analyze"]).remote(
                sc.analyze_group, job)
            s = timed.options(max_retries=1, **RAY_RESOURCES["separate"]).remote(sc.separate_group, job)
            r = render.options(num_cpus=threads, max_retries=1, **env, **RAY_RESOURCES["render"]).remote(job, a, s)
            refs[r] = job
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            job = refs[ready[0]]
            try:
                progress(ray.get(ready[0]))
            except Exception as exc:  # noqa: BLE001 - RayTaskError wrapping the scene's error
                progress(failure(job, error_line(exc)))
    finally:
        if started_here:
            ray.shutdown()


def run_jobs(jobs: list[SceneJob], mode: str = "pool", workers: int = 2, ray_address: str | None = None,
             progress: Progress | None = None) -> list[SceneResult]:
    """Run ``jobs`` (see the module docstring for ``mode``) with ``workers`` processes (pool)
    or CPUs (local Ray). Scenes done by an earlier run are skipped; scenes whose input is
    missing fail at once. ``progress`` is called once per scene as it ends, skipped ones
    first. Returns the results in the order of ``jobs``.

    Raises:
        DubError: unknown mode, workers < 1, Ray missing or unreachable.
    """
    if mode not in MODES:
        raise DubError(f"unknown batch mode '{mode}'; choose one of {', '.join(MODES)}")
    if workers < 1:
        raise DubError("--workers must be at least 1")
    results: dict[str, SceneResult] = {}
    report = progress or (lambda result: None)

    def record(result: SceneResult) -> None:
        results[result.name] = result
        report(result)

    todo = []
    for job in jobs:
        earlier = finished(job)
        if earlier is not None:
            record(earlier)
            continue
        try:
            scene_key(job)
        except DubError as exc:
            record(failure(job, str(exc)))
            continue
        todo.append(job)
    if todo:
        if mode == "serial":
            _serial(todo, workers, record)
        elif mode == "pool":
            _pool(todo, min(workers, len(todo)), record)
        else:
            _ray(todo, workers, record, ray_address)
    return [results[job.name] for job in jobs]


def default_workers(threads: int = 2) -> int:
    """Workers that fit this machine: its CPU count divided by threads per model, at least 1."""
    import os

    return max(1, (os.cpu_count() or 1) // max(1, threads))

