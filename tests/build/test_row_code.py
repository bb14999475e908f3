"""The digest of the code that makes rows reads every module it names: a moved module cannot drop out of it."""

from __future__ import annotations

from pathlib import Path

import rag
from rag.build.reuse import ROW_CODE

ROOT = Path(rag.__file__).parent


def test_every_row_code_pattern_names_modules_that_exist():
    for pattern in ROW_CODE:
        assert list(ROOT.glob(f"{pattern}.py")), f"{pattern}.py matches no module under rag/"


def test_the_readers_chunking_and_model_code_are_all_in_the_digest():
    named = {p for pattern in ROW_CODE for p in ROOT.glob(f"{pattern}.py")}
    for needed in ("readers/pdf.py", "ingest/parse.py", "ingest/chunk.py", "embed/model.py", "build/vectors.py"):
        assert ROOT / needed in named, needed
