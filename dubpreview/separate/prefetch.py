"""Separation started early: the scene's stems computed in a background thread while the
transcription runs, so that the render finds them made.

Why a thread pays: spleeter runs on one torch thread (see
:class:`~dubpreview.separate.spleeter.SpleeterSeparator`) and Whisper's decoding
(CTranslate2) does not keep two cores busy (1.4 of 2 on the demo scene), so on the 2-core
build machine the separation fits in the cores the transcription leaves idle.

Why it is joined before the speaker stage: torch's thread count is process-wide and
spleeter sets it to 1 while it runs; diarization and the voice profiles run on torch, and
their numbers must not depend on whether the separation was still running. The
transcription (CTranslate2) and the VAD (onnxruntime) do not use torch's threads.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from dubpreview.separate.cache import SceneFiles, scene_audio_file, separate_scene_file


class SeparationPrefetch:
    """Run :func:`~dubpreview.separate.cache.scene_audio_file` and
    :func:`~dubpreview.separate.cache.separate_scene_file` for ``project`` in a daemon
    thread from construction on; :meth:`result` waits for them.

    ``rate`` is the mix rate (Hz), ``method`` the requested separation (``auto``,
    ``spleeter``, ``centre``, ``none``), ``stream_index`` the dialogue stream (None: the
    first). The project's cache writes are atomic files of their own, so nothing else the
    run writes meanwhile is touched.
    """

    def __init__(self, project, src: Path, info, rate: int, method: str, stream_index: int | None = None):
        self._args = (project, src, info, rate, method, stream_index)
        self._result: tuple[Path, SceneFiles] | None = None
        self._error: BaseException | None = None
        self.seconds = 0.0
        """Wall seconds the background work took (0 until it is done)."""
        self._thread = threading.Thread(target=self._run, name="separation-prefetch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        project, src, info, rate, method, stream_index = self._args
        t0 = time.perf_counter()
        try:
            scene = scene_audio_file(project, src, info, rate, stream_index)
            self._result = scene, separate_scene_file(project, scene, rate, method)
        except BaseException as exc:  # re-raised in the caller's thread by result()
            self._error = exc
        self.seconds = time.perf_counter() - t0

    def wait(self) -> None:
        """Block until the background work is done (its error, if any, is kept for :meth:`result`)."""
        self._thread.join()

    def result(self) -> tuple[Path, SceneFiles]:
        """``(scene WAV, SceneFiles)`` once done. Raises whatever the separation raised
        (e.g. :class:`~dubpreview.errors.DubError` for an unknown method)."""
        self.wait()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result
