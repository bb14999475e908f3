"""One `rag` command for every maintained task: --version, "did you mean", and the evaluation extra.

The extra is checked twice: the installed package's own requirement tree
(without extras) must not reach ranx or matplotlib, and the evaluation
commands must name the extra when ranx cannot be imported.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, distribution, version

import pytest

from rag.cli import main

EVAL_ONLY = {"ranx", "matplotlib"}


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _reachable(name: str, seen: set[str]) -> set[str]:
    """Names of every distribution `name` requires, at any depth, extras left out (installed ones only)."""
    try:
        requires = distribution(name).requires or []
    except PackageNotFoundError:
        return seen
    for requirement in requires:
        if "extra ==" in requirement or "extra==" in requirement:
            continue
        child = _name(requirement)
        if child not in seen:
            seen.add(child)
            _reachable(child, seen)
    return seen


def test_rag_without_extras_does_not_pull_the_evaluation_libraries():
    reachable = _reachable("rag", set())
    assert "numpy" in reachable and "faiss-cpu" in reachable  # the walk really follows requirements
    assert not reachable & EVAL_ONLY, sorted(reachable & EVAL_ONLY)


def test_version_prints_the_installed_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"rag {version('rag')}"


@pytest.mark.parametrize(("argv", "hint"), [
    (["buld"], "did you mean 'build'?"),
    (["calibrat"], "did you mean 'calibrate'?"),
    (["build", "--sedes", "x"], "did you mean '--seeds'?"),
    (["ask", "--jsn", "a question"], "did you mean '--json'?"),
    (["feedback", "exprt", "log.jsonl"], "did you mean 'export'?"),
])
def test_a_mistyped_subcommand_or_option_gets_a_suggestion(argv, hint, capsys):
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 2
    assert hint in capsys.readouterr().err


def test_nothing_close_gets_no_suggestion(capsys):
    with pytest.raises(SystemExit):
        main(["zzzz"])
    assert "did you mean" not in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["eval", "tests/gold/ssh-manual.jsonl", "--seeds", "tests/gold/docs"],
    ["followups", "tests/gold/followups/conversations.jsonl", "--seeds", "tests/gold/docs", "--index", "x"],
    ["calibrate", "--dry-run"],
])
def test_evaluation_commands_name_the_extra_when_it_is_missing(argv, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ranx", None)  # `import ranx` now raises ImportError
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("rag: error:") and "pip install 'rag[eval]'" in err and len(err.splitlines()) == 1


def test_the_library_builds_and_answers_with_the_evaluation_libraries_absent(tmp_path):
    """As after `pip install .` without extras: ranx and matplotlib cannot be imported, and nothing asks for them."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "owls.txt").write_text("Owls\n\nBarn owls hunt at night over open fields, listening for voles.\n", "utf-8")
    script = f"""
import sys
sys.modules["ranx"] = None          # `import ranx` raises ImportError, as when it is not installed
sys.modules["matplotlib"] = None
import rag
from rag.embed.model import HashEmbedder
index = rag.build_index({str(seeds)!r}, {str(tmp_path / "index")!r}, embedder=HashEmbedder(), log=lambda line: None)
answer = index.answer("When do barn owls hunt?")
assert answer.passages, answer
print("answered", answer.abstained)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("answered")
