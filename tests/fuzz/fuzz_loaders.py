"""Coverage-guided fuzzing (atheris, libFuzzer) of the loaders of files from outside:
batch manifests (YAML and CSV) and ``project.json``. Any exception other than DubError is a
crash. Run by tests/test_project_schema.py for a bounded time:

    python tests/fuzz/fuzz_loaders.py -max_total_time=20 -seed=1
"""

import json
import sys
import tempfile
from pathlib import Path

import atheris
import pydantic  # noqa: F401 - imported first: only dubpreview's own loaders are instrumented
import yaml  # noqa: F401

import dubpreview.mix.duck  # noqa: F401
import dubpreview.timing.fit  # noqa: F401

with atheris.instrument_imports():
    from dubpreview.batch.manifest import load_manifest
    from dubpreview.errors import DubError
    from dubpreview.project.schema import load_state

WORK = Path(tempfile.mkdtemp(prefix="dubpreview-fuzz-"))
OUT = WORK / "out"


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    kind = fdp.ConsumeIntInRange(0, 2)
    body = fdp.ConsumeBytes(fdp.remaining_bytes())
    name = ("m.yaml", "m.csv", "project.json")[kind]
    (WORK / name).write_bytes(body)
    try:
        if kind < 2:
            for job in load_manifest(WORK / name, OUT):
                assert OUT in job.project.parents, job.project  # never a folder outside the output
        else:
            load_state(WORK)
    except DubError as exc:
        assert "\n" not in str(exc), str(exc)


if __name__ == "__main__":
    seeds = [b"\x00version: 1\nscenes: [{input: a.wav, to: pt, output: x}]\n",
             b"\x01input,to,output\na.wav,pt,x\n",
             b"\x02" + json.dumps({"schema_version": 1, "source": {"path": "a", "sha256": "0" * 64},
                                   "segments": [{"id": 0, "start": 0, "end": 1, "text": "x"}]}).encode()]
    corpus = WORK / "corpus"
    corpus.mkdir()
    for i, seed in enumerate(seeds):
        (corpus / f"seed{i}").write_bytes(seed)
    atheris.Setup([*sys.argv, str(corpus)], one_input)
    atheris.Fuzz()
