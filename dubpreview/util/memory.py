"""Peak memory of this process, for the benchmarks."""

from __future__ import annotations

import resource


def peak_rss_mb() -> float:
    """Peak resident set size of this process since it started (MiB).

    Read from ``VmHWM`` in ``/proc/self/status`` (Linux, proc(5)): it belongs to the
    process's own address space, so a child started with fork+exec does not inherit its
    parent's peak. ``getrusage().ru_maxrss`` does inherit it on Linux (the kernel keeps the
    maximum across ``execve``), which made a child of a big test process report the
    parent's peak. Falls back to ``ru_maxrss`` where ``/proc`` is missing.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
