"""The review studio: a Gradio app to run, edit, re-render and share a dub (``dubpreview app``).

Modules: :mod:`.server` (launch, limits), :mod:`.auth` (sign-in, the share rule),
:mod:`.layout` (the page and its API endpoints), :mod:`.callbacks` (per-session project,
error handling), :mod:`.service` (the operations, framework-free), :mod:`.projects`
(projects on disk, archives).
"""

from .server import launch

__all__ = ["launch"]
