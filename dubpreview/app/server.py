"""Starting the review studio: checks first (share needs sign-in), then Gradio's server.

The heavy operations run in Gradio's queue under one concurrency group (``heavy``,
``--jobs`` at a time, default 1), the rest under ``light``; uploads are capped by
Gradio (``max_file_size``) and probed again by the app. No path of the machine is an
allowed path: files reach browsers only through Gradio's cache (see
:mod:`dubpreview.app.callbacks`), and the projects root is explicitly blocked.
"""

from __future__ import annotations

import logging
import os
import re

from dubpreview.errors import DubError

from .auth import check_share, checker, load_credentials
from .callbacks import AppConfig

SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?)b?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``"500mb"``, ``"2gb"``, ``"800k"`` or a number of bytes -> bytes (decimal units)."""
    m = SIZE.match(str(text))
    if not m:
        raise DubError(f"upload limit '{text}' is not a size; write e.g. 500mb or 2gb")
    return int(float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[m.group(2).lower()])


def launch(host: str = "127.0.0.1", port: int = 7860, *, share: bool = False, auth: list[str] | None = None,
           auth_file: str | None = None, insecure_share: bool = False, projects: str | None = None,
           max_upload: str = "500mb", jobs: int = 1, threads: int = 2, queue: int = 32, block: bool = True,
           quiet: bool = False):
    """Build and start the studio; returns the launched :class:`gradio.Blocks`.

    Raises DubError before anything starts when ``share`` has no credentials (and
    ``insecure_share`` is not set), a credential is malformed, or a limit is invalid.
    ``queue``: requests that may wait; beyond it Gradio answers "queue is full" at once.
    ``block=False`` returns at once with the server running in a thread (tests, scripts).
    """
    creds = load_credentials(auth, auth_file)
    check_share(share, creds, insecure_share)
    if jobs < 1 or threads < 1 or queue < 1:
        raise DubError("--jobs, --threads and --queue must be at least 1")
    max_bytes = parse_size(max_upload)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from .layout import CSS, HEAD, build_app

    logging.getLogger("dubpreview.app").setLevel(logging.INFO)
    demo = build_app(AppConfig(projects=projects, threads=threads, max_upload_bytes=max_bytes,
                               heavy_concurrency=jobs))
    demo.queue(default_concurrency_limit=1, max_size=queue)
    try:
        demo.launch(server_name=host, server_port=port, share=share,
                    auth=checker(creds) if creds else None, auth_message="dubpreview studio: sign in",
                    max_file_size=max_bytes, allowed_paths=[], blocked_paths=[str(demo.studio.store.root)],
                    prevent_thread_lock=not block, quiet=quiet, show_error=False, css=CSS, head=HEAD,
                    footer_links=["api"], ssr_mode=False, pwa=False, mcp_server=False)
    except OSError as exc:
        raise DubError(f"cannot start the server on {host}:{port} ({exc}); choose another --port") from None
    return demo
