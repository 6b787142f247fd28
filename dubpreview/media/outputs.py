"""Checks before a preview is written: the output is not an input, every track file is what
it claims, and the output folder exists and takes new files (created folders are removed
again when the write fails)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

from dubpreview.errors import DubError
from dubpreview.media.probe import MediaInfo, probe


def _same_file(a: Path, b: Path) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def refuse_overwriting_inputs(
    out: Path, src: Path, audio_tracks: Iterable, subtitle_tracks: Iterable
) -> None:
    """Raise DubError when ``out`` is the source, one of the track files, or a folder."""
    if out.is_dir():
        raise DubError(f"the output path {out} is a folder; give a file name such as {out / 'preview.mp4'}")
    if _same_file(out, src):
        raise DubError(f"the output path is the input file ({src}); choose another -o")
    for track in [*audio_tracks, *subtitle_tracks]:
        if track.path is not None and _same_file(out, Path(track.path)):
            raise DubError(f"the output path is the input file {track.path}; choose another -o")


def check_track_files(
    info: MediaInfo, audio_tracks: Sequence, subtitle_tracks: Sequence
) -> None:
    """Open every track file's headers (and check source streams) before ffmpeg runs.

    Raises:
        DubError: a dub file is missing or has no audio; a subtitle file is missing or
            not subtitles; a source track names an audio stream the source lacks.
    """
    for track in audio_tracks:
        if track.path is None:
            info.audio_stream(track.stream_index)
        else:
            probe(track.path, scan=False)
    for sub in subtitle_tracks:
        if not probe(sub.path, scan=False, require_audio=False).subtitles:
            raise DubError(f"{sub.path} is not a subtitle file; give an .srt file")


def prepare_output_folder(folder: Path) -> list[Path]:
    """Make sure ``folder`` exists and takes new files; return the folders created (deepest last).

    Raises:
        DubError: naming the folder, when a part of its path is a file or it is not writable.
    """
    folder = folder if str(folder) else Path(".")
    missing: list[Path] = []
    probe_dir = folder
    while not probe_dir.exists():
        missing.append(probe_dir)
        probe_dir = probe_dir.parent
    if not probe_dir.is_dir():
        raise DubError(f"cannot write into the folder {folder}: {probe_dir} is a file, not a folder; choose another -o")
    _check_writable(probe_dir, folder)
    created: list[Path] = []
    for d in reversed(missing):
        try:
            d.mkdir()
        except OSError as exc:
            remove_dirs(created)
            raise DubError(f"cannot create the output folder {folder} ({exc.strerror}); choose another -o") from None
        created.append(d)
    return created


def _check_writable(existing: Path, folder: Path) -> None:
    """Create and delete a scratch file in ``existing`` (works for root, read-only mounts, ACLs)."""
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise DubError(f"the output folder {folder} is not writable ({exc.strerror}); choose another -o") from None


def remove_dirs(created: list[Path]) -> None:
    """Remove the folders :func:`_prepare_output_folder` made, deepest first, if empty."""
    for d in reversed(created):
        try:
            d.rmdir()
        except OSError:
            pass


# --- the ffmpeg graph -----------------------------------------------------------------
