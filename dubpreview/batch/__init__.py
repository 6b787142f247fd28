"""Many scenes, many languages: ``dubpreview batch MANIFEST``.

- :mod:`~dubpreview.batch.manifest` reads and checks the manifest (YAML or CSV);
- :mod:`~dubpreview.batch.scene` runs one scene's stage groups and records it as done or failed;
- :mod:`~dubpreview.batch.runner` runs the scenes serially, in a process pool, or on Ray;
- :mod:`~dubpreview.batch.summary` prints and writes the per-scene, per-language table.
"""
