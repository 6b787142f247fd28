"""Atomic file writes: write to a temporary name in the same folder, then rename.

A crash mid-write never leaves a half-written file under the final name, so the
project folder stays loadable and a re-run resumes from what is complete.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


def fault_point(event: str, target: str | os.PathLike | None = None) -> None:
    """Fault injection for the reliability tests: when ``$DUBPREVIEW_FAULT`` names this
    ``event`` (``rename``: just before an atomic write's rename, the new bytes in a temporary
    file; ``stage:NAME``: at the start of the stage whose name begins with NAME, see
    :mod:`dubpreview.pipeline`) and ``$DUBPREVIEW_FAULT_SKIP`` (default 0) such events have
    passed, the process kills itself with SIGKILL, as a crash or an OOM kill would. Unset, it
    costs one dictionary lookup."""
    want = os.environ.get("DUBPREVIEW_FAULT")
    if not want or not (event == want or (want.startswith("stage:") and event.startswith(want))):
        return
    skip = int(os.environ.get("DUBPREVIEW_FAULT_SKIP", "0"))
    if skip > 0:
        os.environ["DUBPREVIEW_FAULT_SKIP"] = str(skip - 1)
        return
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


@contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it onto ``target``.

    The temporary file keeps ``target``'s suffix so that tools which pick a format
    by extension (ffmpeg, soundfile) still work. On any exception the temporary file
    is removed and ``target`` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}.{os.getpid()}.", suffix=f".part{target.suffix}",
                                dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the final file the usual mode
    try:
        yield tmp
        fault_point("rename", target)
        with open(tmp, "rb+") as f:  # the bytes reach the disk before the name does
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


_TEMP = re.compile(r"^\..*\.(\d+)\.[^.]+\.part(\.[^.]*)?$")


def remove_stale_temps(folder: str | os.PathLike) -> int:
    """Delete the temporary files of :func:`atomic_path` under ``folder`` whose writing
    process is gone (killed mid-write); a live process's are left alone. Returns how many."""
    removed = 0
    for path in Path(folder).rglob(".*.part*"):
        m = _TEMP.match(path.name)
        if not m or not path.is_file():
            continue
        try:
            os.kill(int(m.group(1)), 0)
            continue  # its writer still runs
        except ProcessLookupError:
            pass
        except (PermissionError, OverflowError, ValueError):
            continue
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def atomic_write_bytes(target: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: str | os.PathLike, text: str) -> None:
    """Write UTF-8 ``text`` to ``target`` atomically."""
    atomic_write_bytes(target, text.encode("utf-8"))


def atomic_write_json(target: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented UTF-8 JSON to ``target`` atomically."""
    atomic_write_text(target, json.dumps(obj, ensure_ascii=False, indent=2) + "\n")
