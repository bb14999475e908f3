"""The README's first Python example runs as written, from the repo root."""

from __future__ import annotations

import contextlib
import io
import re

import pytest
from conftest import REPO

README = REPO / "README.md"


def _first_python_block() -> str | None:
    if not README.is_file():
        return None
    match = re.search(r"^```python[^\n]*\n(.*?)^```", README.read_text("utf-8"), re.MULTILINE | re.DOTALL)
    return match.group(1) if match else None


@pytest.mark.model
def test_readme_first_python_example_runs(monkeypatch) -> None:
    code = _first_python_block()
    if code is None:
        pytest.skip("README.md has no ```python block yet" if README.is_file() else "README.md does not exist yet")
    # The example uses the default index (seeds/ -> index/), relative to the repo root.
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("RAG_SEEDS", raising=False)
    monkeypatch.delenv("RAG_INDEX", raising=False)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})
    assert out.getvalue().strip()  # the example prints its results
