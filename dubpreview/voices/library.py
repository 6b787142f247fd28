"""Saved actor profiles: ``voices/profiles/<id>.json`` + ``<id>.npy`` (the embedding).

A profile saved from one scene is offered for the same actor in the next: a new speaker
whose GE2E embedding is within :data:`REUSE_COSINE` of a saved profile's takes that
profile (its voices, gender and label), and the project records which one and how close,
so the user can confirm it or override it (``project.json`` ``speakers``).
The folder is ``voices/profiles`` beside the package, or ``$DUBPREVIEW_VOICES/profiles``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dubpreview.errors import DubError
from dubpreview.util.files import atomic_path, atomic_write_json, atomic_write_text
from dubpreview.voices.profile import VoiceProfile

REUSE_COSINE = 0.80
"""GE2E cosine above which a speaker is taken to be a saved actor. Measured here: the same
fillets-ng actor across two levels (other recordings) 0.90-0.94; the two different actors
0.63-0.65; AMI meeting speakers against the fillets-ng profiles 0.55-0.71. The encoder's
different real speakers reach 0.85 at worst (``../shared/models.md``), so the project records
every reuse and its cosine for the user to confirm or override."""

LICENCE_NOTE = """# voices/profiles — saved actor profiles

Each `<id>.json` (F0 statistics, gender, the chosen Kokoro voice blend and WORLD pitch/formant
settings per dub language) and `<id>.npy` (a 256-dim GE2E speaker embedding, float32) was measured
by dubpreview from a scene's audio. They hold no audio and no model weights; the voices they name
are blends of Kokoro-82M's voice packs (Apache-2.0). A profile describes a real person's voice:
keep it only with the rights to the recording it came from, and delete it on request.
The data files themselves are released with dubpreview under the Apache License 2.0.
"""


def library_dir(folder: str | Path | None = None) -> Path:
    """The profiles folder: ``folder`` if given, else ``voices_dir()/profiles``."""
    from dubpreview.tts.voices import voices_dir

    return Path(folder) if folder else voices_dir() / "profiles"


def save(profile: VoiceProfile, folder: str | Path | None = None) -> Path:
    """Write ``profile`` as ``<id>.json`` + ``<id>.npy`` (atomically, with the folder's
    licence note); returns the JSON path.

    Raises:
        DubError: the folder cannot be written.
    """
    root = library_dir(folder)
    try:
        root.mkdir(parents=True, exist_ok=True)
        with atomic_path(root / f"{profile.id}.npy") as tmp, open(tmp, "wb") as f:
            np.save(f, np.asarray(profile.embedding, np.float32))
        atomic_write_json(root / f"{profile.id}.json", {"schema_version": 1, "kind": "dubpreview-voice-profile",
                                                        "embedding": f"{profile.id}.npy", **profile.to_dict()})
        if not (root / "LICENSE.md").exists():
            atomic_write_text(root / "LICENSE.md", LICENCE_NOTE)
    except OSError as exc:
        raise DubError(f"cannot save the voice profile in {root}: {exc.strerror}") from None
    return root / f"{profile.id}.json"


def load(path: str | Path) -> VoiceProfile:
    """The profile saved at ``path`` (its ``.json``).

    Raises:
        DubError: missing or malformed files.
    """
    path = Path(path)
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        emb = np.load(path.with_name(d.get("embedding", path.stem + ".npy")))
        return VoiceProfile.from_dict(d, emb)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DubError(f"{path} is not a readable voice profile ({type(exc).__name__}: {exc})") from None


def load_all(folder: str | Path | None = None) -> list[VoiceProfile]:
    """Every profile in the library (none if the folder does not exist); unreadable files
    are skipped."""
    root = library_dir(folder)
    out = []
    for p in sorted(root.glob("*.json")) if root.is_dir() else []:
        try:
            out.append(load(p))
        except DubError:
            continue
    return out


def find(embedding: np.ndarray, profiles: list[VoiceProfile],
         threshold: float = REUSE_COSINE) -> tuple[VoiceProfile | None, float]:
    """The saved profile closest to ``embedding`` ``(256,)`` and its cosine; the profile is
    None when the best cosine is under ``threshold``."""
    if not profiles:
        return None, 0.0
    e = np.asarray(embedding, np.float32)
    e = e / (np.linalg.norm(e) + 1e-9)
    sims = np.array([float(p.embedding @ e) for p in profiles])
    i = int(np.argmax(sims))
    return (profiles[i] if sims[i] >= threshold else None), float(sims[i])


def match_unique(embeddings: dict[str, np.ndarray], profiles: list[VoiceProfile],
                 threshold: float = REUSE_COSINE) -> dict[str, tuple[VoiceProfile | None, float]]:
    """Like :func:`find` for several speakers at once, never giving one saved profile to
    two speakers (the closer speaker keeps it)."""
    out = {k: find(e, profiles, threshold) for k, e in embeddings.items()}
    taken: dict[str, tuple[str, float]] = {}
    for spk, (prof, sim) in sorted(out.items(), key=lambda kv: -kv[1][1]):
        if prof is None:
            continue
        if prof.id in taken:
            out[spk] = (None, sim)
        else:
            taken[prof.id] = (spk, sim)
    return out
