"""Every example in README.md and docs/*.md runs, and every relative link resolves.

Each fenced block is one of (docs/development.md says the same to writers):
* ```python: run in a temporary workspace (seeds/ holding the report, index/
  built from it with the HashEmbedder, tests/gold/japan-nato-alignment.jsonl);
  after `<!-- run: repo -->`, run from the repo root with the default index and
  the packaged model instead (marked `model`).
* ```console, ```sh or ```text of `rag ...` or
  `.venv/bin/rag ...` commands (the `$ ` lines when there are any, else every
  line but comments): each run as `python -m rag.cli ...` in the
  workspace, `rag build` with the HashEmbedder unless it names a model; exit 0,
  or N after `<!-- exit: N -->`.
* after `<!-- synopsis -->`: `rag SUBCOMMAND [options]` lines, each option
  checked against that subcommand's --help.
* after `<!-- output -->`: output or a data sample (no command lines in it).
* after `<!-- not run: REASON -->`: cannot run in a test; the reason is required.
Anything else fails `test_every_block_is_run_or_marked`. This file does not
check that printed output matches what a page shows: only that it runs.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO, REPORT, REPORT_NAME, quiet

import rag
from rag.embed.model import HashEmbedder

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
GOLD = REPO / "tests" / "gold" / "japan-nato-alignment.jsonl"
SHELL_LANGS = {"console", "sh", "shell", "bash", "text", ""}
NOTE = re.compile(r"^<!--\s*(.*?)\s*-->$")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    body: str
    note: str  # the HTML comment on the line before the fence (blank lines skipped), or ""

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


def _blocks(page: Path) -> list[Block]:
    lines = page.read_text("utf-8").split("\n")
    found, i = [], 0
    while i < len(lines):
        if lines[i].startswith("```"):
            lang, start = lines[i][3:].strip().lower(), i
            j = i - 1
            while j >= 0 and not lines[j].strip():
                j -= 1
            match = NOTE.match(lines[j].strip()) if j >= 0 else None
            i += 1
            body = []
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            found.append(Block(page, start + 1, lang, "\n".join(body), match.group(1) if match else ""))
        i += 1
    return found


BLOCKS = [block for page in PAGES for block in _blocks(page)]


def _is_rag(command: str) -> bool:
    return command.startswith(("rag ", ".venv/bin/rag "))


def _command_lines(block: Block) -> list[str]:
    """The lines a shell block would run: `$ ` lines in console, every non-comment line otherwise."""
    if block.lang == "console" or any(line.startswith("$ ") for line in block.body.split("\n")):
        return [line[2:].strip() for line in block.body.split("\n") if line.startswith("$ ")]
    return [line.strip() for line in block.body.split("\n") if line.strip() and not line.lstrip().startswith("#")]


def _kind(block: Block) -> str:
    """What the test does with `block`; "unmarked: WHY" when it can neither run nor is marked."""
    note = block.note
    if note.startswith("not run"):
        return "not run" if note.partition(":")[2].strip() else "unmarked: `not run` without a reason"
    if note == "output":
        if any(_is_rag(line.lstrip("$ ")) for line in block.body.split("\n")):
            return "unmarked: an output block holding a rag command; run it or say why not"
        return "output"
    if note == "synopsis":
        return "synopsis"
    if block.lang == "python":
        return "python repo" if note == "run: repo" else "python"
    if block.lang in SHELL_LANGS:
        commands = _command_lines(block)
        if commands and all(_is_rag(c) for c in commands):
            return "commands"
        if commands and any(not _is_rag(c) for c in commands):
            return "unmarked: runs something other than rag; add <!-- not run: REASON -->"
    return "unmarked: not runnable; mark it <!-- output --> or <!-- not run: REASON -->"


def _ids(blocks: list[Block]) -> list[str]:
    return [block.where for block in blocks]


def _of(kind: str) -> list[Block]:
    return [block for block in BLOCKS if _kind(block) == kind]


def test_every_block_is_run_or_marked() -> None:
    unmarked = [f"{block.where}: {kind[len('unmarked: '):]}" for block in BLOCKS
                if (kind := _kind(block)).startswith("unmarked")]
    assert not unmarked, "\n".join(unmarked)
    assert _of("python repo") and _of("python") and _of("commands") and _of("synopsis")


def test_an_unmarked_example_is_caught() -> None:
    page = REPO / "README.md"
    assert _kind(Block(page, 1, "sh", "pip install rag", "")).startswith("unmarked")
    assert _kind(Block(page, 1, "text", "some output", "")).startswith("unmarked")
    assert _kind(Block(page, 1, "sh", "rag serve", "not run:")).startswith("unmarked")
    assert _kind(Block(page, 1, "text", "$ rag ask x", "output")).startswith("unmarked")
    assert _kind(Block(page, 1, "console", "$ rag ask x\n> quote", "")) == "commands"


# --- the workspace the examples run in --------------------------------------------------------------


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """seeds/ (the report) with index/ built by the HashEmbedder, and one gold set, in a temp folder."""
    root = tmp_path_factory.mktemp("docs-workspace")
    (root / "seeds").mkdir()
    shutil.copy(REPORT, root / "seeds" / REPORT_NAME)
    (root / "tests" / "gold").mkdir(parents=True)
    shutil.copy(GOLD, root / "tests" / "gold" / GOLD.name)
    rag.build_index(root / "seeds", root / "index", embedder=HashEmbedder(), log=quiet)
    return root


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RAG_SEEDS", "RAG_INDEX")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    return env


def _rag(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rag.cli", *argv], capture_output=True, text=True, cwd=cwd,
                          env=_env(), timeout=600)


def _argv(command: str) -> list[str]:
    words = shlex.split(command, comments=True)
    assert words[0] in ("rag", ".venv/bin/rag"), command
    argv = words[1:]
    if argv[:1] == ["build"] and "--model" not in argv:
        argv += ["--model", "hash-embedder"]  # the real model is not what these examples show
    return argv


def _exec(block: Block) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block.body, block.where, "exec"), {"__name__": "__doc_example__"})
    return out.getvalue()


@pytest.mark.parametrize("block", _of("python"), ids=_ids(_of("python")))
def test_python_example_runs(block: Block, workspace: Path, monkeypatch) -> None:
    monkeypatch.chdir(workspace)
    monkeypatch.delenv("RAG_SEEDS", raising=False)
    monkeypatch.delenv("RAG_INDEX", raising=False)
    _exec(block)


@pytest.mark.model
@pytest.mark.parametrize("block", _of("python repo"), ids=_ids(_of("python repo")))
def test_python_example_runs_from_the_repo_root(block: Block, monkeypatch) -> None:
    # The default index (seeds/ -> index/), relative to the repo root, built with the packaged model.
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("RAG_SEEDS", raising=False)
    monkeypatch.delenv("RAG_INDEX", raising=False)
    from rag.service.default import default_index

    default_index()  # a page's later example may load index/ by name
    assert _exec(block).strip()  # every such example prints its results


@pytest.mark.parametrize("block", _of("commands"), ids=_ids(_of("commands")))
def test_command_example_runs(block: Block, workspace: Path) -> None:
    expected = int(block.note.partition(":")[2]) if block.note.startswith("exit:") else 0
    for command in _command_lines(block):
        done = _rag(_argv(command), workspace)
        assert done.returncode == expected, f"{block.where}: {command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        if expected == 0:
            assert done.stdout.strip(), f"{block.where}: {command} printed nothing"
        else:  # an error is one line on stderr
            assert done.stderr.startswith("rag: error: ") and done.stderr.count("\n") == 1, done.stderr


def _synopsis_lines(block: Block) -> list[str]:
    """Each `rag ...` line with its indented continuation lines joined, comments dropped."""
    lines: list[str] = []
    for line in block.body.split("\n"):
        text = line.split("#", 1)[0].rstrip()
        if line[:1].isspace() and lines:
            lines[-1] += " " + text.strip()
        elif text:
            lines.append(text)
    return lines


@pytest.mark.parametrize("block", _of("synopsis"), ids=_ids(_of("synopsis")))
def test_synopsis_options_exist(block: Block) -> None:
    for line in _synopsis_lines(block):
        words = line.split()
        assert _is_rag(line), f"{block.where}: {line!r} is not a rag command"
        command = []
        for word in words[1:]:
            if not re.fullmatch(r"[a-z]+", word):
                break
            command.append(word)
        done = _rag([*command, "--help"], REPO)
        assert done.returncode == 0, f"{block.where}: rag {' '.join(command)} --help\n{done.stderr}"
        for option in set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", line)):
            assert re.search(rf"(?<![\w-]){re.escape(option)}\b", done.stdout), \
                f"{block.where}: `rag {' '.join(command)}` has no option {option}"


# --- links -----------------------------------------------------------------------------------------------

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors for the page's headings."""
    anchors = set()
    for line in page.read_text("utf-8").split("\n"):
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", title)))
    return anchors


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(REPO)) for p in PAGES])
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in LINK.findall(page.read_text("utf-8")):
        if re.match(r"[a-z]+:", target):
            continue  # http://, https://, mailto:
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(f"{target}: no heading with that anchor")
    assert not broken, f"{page.relative_to(REPO)}: " + "; ".join(broken)


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = {(REPO / t.partition("#")[0]).resolve() for t in LINK.findall((REPO / "README.md").read_text("utf-8"))}
    missing = [p.name for p in PAGES[1:] if p.resolve() not in linked]
    assert not missing, f"README.md links no page for: {missing}"
