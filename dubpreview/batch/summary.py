"""The batch summary: one row per scene and language, printed as a table and written as CSV and JSON.

Columns (:data:`COLUMNS`): scene, language, status (done / skipped / failed), duration of
the scene (s), wall seconds of its run, real-time factor (wall seconds per scene second;
below 1 is faster than real time), lines dubbed, lines above the accepted speed, lines
overrunning their slot, translation route (a pivot through English shows two hops), error.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from dubpreview.batch.scene import SceneResult
from dubpreview.util.files import atomic_write_json, atomic_write_text

COLUMNS = ("scene", "language", "status", "duration_s", "seconds", "rtf", "lines", "above_accepted_speed",
           "overruns", "route", "error", "preview", "input")
"""Columns of the CSV (the printed table leaves out ``preview`` and ``input``)."""


def rows(results: list[SceneResult]) -> list[dict[str, Any]]:
    """All summary rows of ``results``, scene by scene."""
    return [dict(r) for res in results for r in res.rows]


def totals(results: list[SceneResult], wall_s: float) -> dict[str, Any]:
    """Counts per status, scene-seconds dubbed this run, wall seconds and throughput
    (scene-seconds dubbed per wall second; skipped scenes do not count)."""
    dubbed = sum(r.duration for r in results if r.status == "done")
    return {"scenes": len(results), **{s: sum(r.status == s for r in results) for s in ("done", "skipped", "failed")},
            "scene_seconds_dubbed": round(dubbed, 2), "wall_s": round(wall_s, 2),
            "throughput": round(dubbed / wall_s, 3) if wall_s > 0 else None}


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def format_table(results: list[SceneResult], wall_s: float) -> str:
    """A fixed-width text table of the rows, then one line of totals."""
    cols = [c for c in COLUMNS if c not in ("preview", "input")]
    heads = {"duration_s": "dur s", "seconds": "wall s", "above_accepted_speed": ">accepted", "language": "lang"}
    table = [[heads.get(c, c) for c in cols]] + [[_cell(r.get(c)) for c in cols] for r in rows(results)]
    widths = [max(len(row[i]) for row in table) for i in range(len(cols))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table]
    t = totals(results, wall_s)
    lines.append(f"{t['scenes']} scenes: {t['done']} done, {t['skipped']} skipped (done before), {t['failed']} failed; "
                 f"{t['scene_seconds_dubbed']:.1f} scene-seconds dubbed in {t['wall_s']:.1f} s"
                 + (f" ({t['throughput']:.3f} scene-s per s)" if t["throughput"] is not None else ""))
    return "\n".join(lines)


def write(results: list[SceneResult], wall_s: float, folder: Path, mode: str) -> tuple[Path, Path]:
    """Write ``batch-summary.csv`` and ``batch-summary.json`` (rows and totals) into
    ``folder`` atomically; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(COLUMNS), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows(results))
    csv_path, json_path = folder / "batch-summary.csv", folder / "batch-summary.json"
    atomic_write_text(csv_path, buf.getvalue())
    atomic_write_json(json_path, {"mode": mode, "totals": totals(results, wall_s), "rows": rows(results)})
    return csv_path, json_path
