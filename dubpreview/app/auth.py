"""Sign-in for the review studio and the rule that guards a public share.

Credentials come from ``--auth USER:PASS`` (repeatable), ``--auth-file FILE`` (one
``USER:PASS`` per line, ``#`` comments) or ``$DUBPREVIEW_AUTH`` (``USER:PASS``, several
separated by commas). A public share (``--share``) without any of them is refused unless
``--insecure-share`` says the user means it.
"""

from __future__ import annotations

import hmac
import os
from pathlib import Path

from dubpreview.errors import DubError

ENV_VAR = "DUBPREVIEW_AUTH"


def parse_pair(text: str, where: str) -> tuple[str, str]:
    """``"USER:PASS"`` -> ``(user, pass)``; DubError naming ``where`` when malformed."""
    user, sep, password = text.strip().partition(":")
    if not sep or not user.strip() or not password:
        raise DubError(f"{where}: credentials must be USER:PASS with a non-empty user and password")
    return user.strip(), password


def load_credentials(pairs: list[str] | None = None, file: str | os.PathLike | None = None,
                     env: dict[str, str] | None = None) -> dict[str, str]:
    """All credentials given (user -> password) from the flags, the file and the environment."""
    env = os.environ if env is None else env
    creds: dict[str, str] = {}
    for text in pairs or []:
        user, password = parse_pair(text, "--auth")
        creds[user] = password
    if file:
        path = Path(file).expanduser()
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise DubError(f"cannot read the credentials file {path} ({exc.strerror})") from None
        for n, line in enumerate(lines, 1):
            if line.strip() and not line.lstrip().startswith("#"):
                user, password = parse_pair(line, f"{path}:{n}")
                creds[user] = password
    for text in (env.get(ENV_VAR) or "").split(","):
        if text.strip():
            user, password = parse_pair(text, f"${ENV_VAR}")
            creds[user] = password
    return creds


def check_share(share: bool, creds: dict[str, str], insecure_share: bool) -> None:
    """Refuse a public share link without sign-in, unless explicitly allowed."""
    if share and not creds and not insecure_share:
        raise DubError("--share makes a public link: give --auth USER:PASS (or --auth-file, or "
                       f"${ENV_VAR}); --insecure-share starts it without sign-in")


def checker(creds: dict[str, str]):
    """Gradio's ``auth`` callable: constant-time comparison of the password."""
    def check(user: str, password: str) -> bool:
        expected = creds.get(user)
        return expected is not None and hmac.compare_digest(expected.encode("utf-8"), str(password).encode("utf-8"))
    return check
