"""Long-running callers never answer from documents edited under them."""

from __future__ import annotations

import os
import time

import pytest
from conftest import SMALL_CORPUS

from rag.service.default import DefaultIndex


def _touch_edit(path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new), "utf-8")
    later = time.time_ns() + 10_000_000  # a distinct mtime even on coarse clocks
    os.utime(path, ns=(later, later))


def test_quote_from_an_edited_file_fails_verification(make_seeds, build_hash_index):
    seeds = make_seeds(SMALL_CORPUS)
    index = build_hash_index(seeds)
    passage = next(p for p in index.passages if "Rotterdam" in p.text)
    assert index.verify(passage.citation, passage.text)
    _touch_edit(seeds / "ports.txt", "Port cities are", "Harbour towns are")  # shifts every later offset
    assert not index.verify(passage.citation, passage.text)


@pytest.fixture
def default_seeds(make_seeds, build_hash_index, monkeypatch, tmp_path):
    """SMALL_CORPUS indexed into tmp_path/index, both made the default ($RAG_SEEDS, $RAG_INDEX); the seeds folder."""
    seeds = make_seeds(SMALL_CORPUS)
    build_hash_index(seeds, tmp_path / "index")
    monkeypatch.setenv("RAG_SEEDS", str(seeds))
    monkeypatch.setenv("RAG_INDEX", str(tmp_path / "index"))
    return seeds


def test_live_default_index_rebuilds_when_a_seed_changes(default_seeds):
    seeds = default_seeds
    live = DefaultIndex()
    assert not any("Vienna" in p.text for p in live.retrieve("Vienna opera", k=3))
    (seeds / "music.txt").write_text(
        "Concert Notes\n\nThe Vienna State Opera stages a different production almost every night of the season.\n",
        "utf-8",
    )
    live.refresh()  # what the watcher thread does every couple of seconds
    assert live.wait(60).state == "ready"
    found = live.retrieve("Vienna opera", k=3)
    assert any("Vienna State Opera" in p.text for p in found)
    assert "music.txt" in live.sources


def test_the_default_index_offers_what_a_live_index_does(default_seeds, tmp_path):
    """Every public name of a LiveIndex is there on the default index too, and means the same folder."""
    from rag.service.live import LiveIndex

    seeds = default_seeds
    default = DefaultIndex()
    public = {name for name in dir(LiveIndex) if not name.startswith("_")} | {"seeds", "index_dir"}
    missing = sorted(name for name in public if not hasattr(DefaultIndex, name))
    assert not missing, missing
    assert default.index_dir == tmp_path / "index" and default.seeds == seeds
