"""Shared fixtures for the library tests.

* `real_index`: the repo's seeds/ indexed once per session with the real,
  packaged embedding model (tests using it are marked `model`).
* `dev_index`: the development corpus (tests/gold/docs) indexed once per
  session with the real model, shared by the gold-set gates.
* `make_seeds` / `hash_index`: small seed folders written into tmp_path and
  indexed with the fast, deterministic `HashEmbedder` (no model load).
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import rag
from rag.embed.model import HashEmbedder

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
REPORT_NAME = "japan-nato-alignment.txt"
REPORT = SEEDS / REPORT_NAME


def write_seeds(folder: Path, files: dict[str, str | bytes]) -> Path:
    """Write `files` (relative name -> text or raw bytes) into `folder`; return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            # newline="" so the bytes on disk are exactly the string we wrote.
            with open(path, "w", encoding="utf-8", newline="") as handle:
                handle.write(content)
    return folder


def quiet(_line: str) -> None:
    """A `log=` callable for build_index that swallows its report lines."""


# A small corpus on distinct topics: no two paragraphs are near-duplicates.
SMALL_CORPUS = {
    "ports.txt": (
        "Harbour Report\n\n"
        "Port cities are rebuilding their grids to handle electric ships. The costs are falling faster than "
        "planners expected.\n\n"
        "Shore Power\n\n"
        "Rotterdam has connected its container terminals to shore power. Ships at berth no longer burn diesel "
        "fuel while they unload cargo.\n\n"
        "Smaller harbours face a harder choice. They must pay for substations before shipping lines commit to "
        "using them.\n"
    ),
    "bees.txt": (
        "Garden Notes\n\n"
        "Honey bees visit clover and lavender in early summer. A single colony can gather pollen from thousands "
        "of flowers each day.\n\n"
        "Hives need shade in hot weather. Beekeepers often paint the boxes white to reflect sunlight.\n"
    ),
    "chess.txt": (
        "Opening Theory\n\n"
        "The Sicilian Defence answers the king pawn with a flank pawn. Black gives up central control for "
        "counterattacking chances on the queen side.\n\n"
        "Endgames reward patience. A passed pawn supported by its king often decides the game.\n"
    ),
}


@pytest.fixture
def make_seeds(tmp_path: Path) -> Callable[..., Path]:
    """Write a seed folder under tmp_path: make_seeds({"a.txt": "..."}, name="seeds")."""

    def make(files: dict[str, str | bytes], name: str = "seeds") -> Path:
        return write_seeds(tmp_path / name, files)

    return make


@pytest.fixture
def build_hash_index(tmp_path: Path) -> Callable[..., rag.Index]:
    """Build an index with the fake HashEmbedder: build_hash_index(seeds_dir, index_dir=None, **kw)."""

    def build(seeds: Path, index_dir: Path | None = None, **kwargs) -> rag.Index:
        kwargs.setdefault("embedder", HashEmbedder())
        kwargs.setdefault("log", quiet)
        return rag.build_index(seeds, index_dir or tmp_path / "index", **kwargs)

    return build


@pytest.fixture
def hash_index(make_seeds, build_hash_index) -> rag.Index:
    """SMALL_CORPUS indexed with the HashEmbedder."""
    return build_hash_index(make_seeds(SMALL_CORPUS))


@pytest.fixture(scope="session")
def real_index(tmp_path_factory: pytest.TempPathFactory) -> rag.Index:
    """The repo's seeds indexed with the real packaged model, once per session."""
    target = tmp_path_factory.mktemp("real-index")
    return rag.build_index(SEEDS, target, log=quiet)


@pytest.fixture(scope="session")
def dev_index(tmp_path_factory: pytest.TempPathFactory) -> rag.Index:
    """tests/gold/docs indexed with the real packaged model, once per session."""
    target = tmp_path_factory.mktemp("dev-index") / "index"
    return rag.build_index(Path(__file__).parent / "gold" / "docs", target, log=quiet)


def report_and(tmp_path_factory: pytest.TempPathFactory, name: str, text: str) -> rag.Index:
    """The report plus one more document, indexed with the real model (for the web-app tests)."""
    seeds = tmp_path_factory.mktemp("seeds")
    shutil.copy(REPORT, seeds / REPORT_NAME)
    (seeds / name).write_text(text, encoding="utf-8")
    return rag.build_index(seeds, tmp_path_factory.mktemp("idx") / "index", log=quiet)


@contextlib.contextmanager
def serving(index: rag.Index) -> Iterator[str]:
    """The web app on a free 127.0.0.1 port for the duration of the block; yields its URL."""
    from ui.server import start

    demo, url = start(index, host="127.0.0.1", port=None)
    try:
        yield url
    finally:
        demo.close()
