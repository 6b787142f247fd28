"""Running the ffmpeg binary that ships with ``imageio-ffmpeg``.

Graphs are built with ``ffmpeg-python`` and run with the static binary from
``imageio-ffmpeg`` (there is no ``ffprobe`` beside it: probing goes through PyAV,
see :mod:`dubpreview.media.probe`). ``$DUBPREVIEW_FFMPEG`` points at another binary.

A failing ffmpeg run becomes one :class:`~dubpreview.errors.DubError` whose message
is ``could not <what>: <reason>``, the reason being ffmpeg's last meaningful stderr
line (the generic "Conversion failed!" / "Error opening output files" lines are
skipped in favour of the line that says what went wrong).
"""

from __future__ import annotations

import os
import re
from typing import Any

import ffmpeg as ffmpeg_python
import imageio_ffmpeg

from dubpreview.errors import DubError

ENV_VAR = "DUBPREVIEW_FFMPEG"

# ffmpeg's closing lines that only say *that* it failed, not *why*.
_GENERIC = re.compile(
    r"^(conversion failed|error opening (input|output) files?|error opening (input|output) file |"
    r"error parsing options for|failed to set value|to ignore this, add a trailing|error selecting an encoder|"
    r"error while (opening encoder|filtering|decoding|processing)|"
    r"could not write header|nothing was written|exiting normally|"
    r"error (initializing|configuring) (output stream|filter|the filter)|"
    r"task finished with error|terminating thread with return code|"
    r"error sending frames to consumers|"
    r"\d+ frames? successfully decoded)",
    re.IGNORECASE,
)
_PREFIX = re.compile(r"^(\[[^\]]*\]\s*)+")  # "[mp4 @ 0x55d…] " / "[out#0/mp4 @ …] "


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary: ``$DUBPREVIEW_FFMPEG`` if set, else imageio-ffmpeg's static build.

    Raises:
        DubError: ``$DUBPREVIEW_FFMPEG`` names a file that does not exist, or
            imageio-ffmpeg has no binary for this platform.
    """
    override = os.environ.get(ENV_VAR, "").strip()
    if override:
        if not os.path.isfile(override):
            raise DubError(f"${ENV_VAR} is set to '{override}', which is not a file; unset it or point it at an ffmpeg binary")
        return override
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:  # imageio-ffmpeg raises RuntimeError when it has no binary
        raise DubError(f"no ffmpeg binary found ({exc}); reinstall imageio-ffmpeg or set ${ENV_VAR}") from exc


def summarize_stderr(stderr: bytes | str | None) -> str:
    """One line explaining an ffmpeg failure, taken from its stderr.

    The last line that is not a generic closing line wins, with the ``[muxer @ 0x…]``
    prefixes removed; ``"ffmpeg gave no reason"`` when stderr is empty.
    """
    if isinstance(stderr, bytes):
        stderr = stderr.decode("utf-8", errors="replace")
    lines = [_PREFIX.sub("", ln).strip() for ln in (stderr or "").splitlines()]
    lines = [ln for ln in lines if ln]
    if not lines:
        return "ffmpeg gave no reason"
    for line in reversed(lines):
        if not _GENERIC.match(line):
            return line
    return lines[-1]


def run(stream_spec: Any, what: str, *, capture_stdout: bool = False) -> bytes:
    """Run an ffmpeg-python graph quietly with :func:`ffmpeg_exe` and overwrite its output.

    Args:
        stream_spec: an ffmpeg-python output node (``ffmpeg.input(...).output(...)``).
        what: what the run does, for the error message (``"remux the preview"``).
        capture_stdout: return what ffmpeg writes to stdout (for ``pipe:`` outputs).

    Returns:
        ffmpeg's stdout (empty bytes unless ``capture_stdout``).

    Raises:
        DubError: ``could not <what>: <reason>`` when ffmpeg exits non-zero or cannot start.
    """
    spec = stream_spec.global_args("-hide_banner", "-nostdin", "-loglevel", "error")
    try:
        out, _err = ffmpeg_python.run(
            spec, cmd=ffmpeg_exe(), capture_stdout=capture_stdout, capture_stderr=True, overwrite_output=True
        )
    except ffmpeg_python.Error as exc:
        raise DubError(f"could not {what}: {summarize_stderr(exc.stderr)}") from None
    except OSError as exc:  # the binary itself cannot be executed
        raise DubError(f"could not {what}: cannot run ffmpeg ({exc.strerror or exc})") from None
    return out or b""


def _piped(stream_spec: Any, what: str):
    """Start an ffmpeg-python graph writing to ``pipe:``, its stderr drained by a thread (a
    chatty ffmpeg cannot block). Returns (process, finish): ``finish()`` closes stdout, waits,
    and gives the one-line error (``could not <what>: <reason>``) or None.

    Raises:
        DubError: ffmpeg cannot start.
    """
    import threading

    spec = stream_spec.global_args("-hide_banner", "-nostdin", "-loglevel", "error")
    try:
        proc = ffmpeg_python.run_async(spec, cmd=ffmpeg_exe(), pipe_stdout=True, pipe_stderr=True,
                                       overwrite_output=True)
    except OSError as exc:
        raise DubError(f"could not {what}: cannot run ffmpeg ({exc.strerror or exc})") from None
    err: list[bytes] = []
    drain = threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True)
    drain.start()

    def finish() -> str | None:
        proc.stdout.close()
        code = proc.wait()
        drain.join()
        return f"could not {what}: {summarize_stderr(b''.join(err))}" if code != 0 else None

    return proc, finish


def run_to_array(stream_spec: Any, what: str, dtype: str = "<f4", expected_items: int = 0,
                 chunk_bytes: int = 1 << 22):
    """Run an ffmpeg-python graph whose output is raw samples on ``pipe:`` and read them
    straight into a numpy array of ``dtype`` (1-D, as many items as ffmpeg wrote).

    ffmpeg's stdout is read in ``chunk_bytes`` pieces into an array allocated for
    ``expected_items`` (e.g. from the probed duration; grown by half when ffmpeg writes more,
    cut when it writes less), so decoding an hour of audio holds the samples once, not the
    bytes of a whole pipe plus their copy (``subprocess.communicate`` then ``np.frombuffer``).
    stderr is drained by a thread so a chatty ffmpeg cannot block.

    Raises:
        DubError: ``could not <what>: <reason>`` when ffmpeg exits non-zero or cannot start.
    """
    import numpy as np

    proc, finish = _piped(stream_spec, what)
    item = np.dtype(dtype).itemsize
    out = np.empty(max(int(expected_items), chunk_bytes // item), dtype=dtype)
    filled = 0  # bytes
    try:
        while True:
            view = memoryview(out).cast("B")
            if filled + chunk_bytes > len(view):
                view.release()
                out = np.resize(out, len(out) + len(out) // 2 + chunk_bytes // item)
                view = memoryview(out).cast("B")
            got = proc.stdout.readinto(view[filled:filled + chunk_bytes])
            view.release()
            if not got:
                break
            filled += got
    finally:
        failure = finish()
    if failure:
        raise DubError(failure)
    n = filled // item
    return out[:n] if n >= len(out) // 2 else out[:n].copy()  # a view wastes at most the 1 % margin


def run_to_blocks(stream_spec: Any, what: str, dtype: str = "<f4", columns: int = 1,
                  block_items: int = 1 << 20):
    """Run an ffmpeg-python graph whose output is raw samples on ``pipe:`` and yield them as
    numpy arrays ``(m, columns)`` of ``dtype``, at most ``block_items`` rows each, as ffmpeg
    writes them: a decode of any length held one block at a time. stderr is drained by a
    thread so a chatty ffmpeg cannot block.

    Raises:
        DubError: ``could not <what>: <reason>`` when ffmpeg exits non-zero or cannot start
            (raised after the last block).
    """
    import numpy as np

    proc, finish = _piped(stream_spec, what)
    row = np.dtype(dtype).itemsize * columns
    buf = bytearray(block_items * row)
    try:
        while True:
            filled = 0
            view = memoryview(buf)
            while filled < len(buf):
                got = proc.stdout.readinto(view[filled:])
                if not got:
                    break
                filled += got
            view.release()
            rows = filled // row
            if rows:
                yield np.frombuffer(bytes(buf[: rows * row]), dtype=dtype).reshape(rows, columns)
            if filled < len(buf):
                break
    finally:
        failure = finish()
    if failure:
        raise DubError(failure)
