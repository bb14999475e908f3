"""An index is mapped, not decoded, on load: passages are read as questions reach them, and a build that re-uses
an earlier index copies its passages without decoding them and never reads its BM25."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import SMALL_CORPUS, quiet

import rag
import rag.storage.index_folder as store
import rag.storage.passages
from rag.embed.model import HashEmbedder
from rag.errors import IndexStateError
from rag.ingest.text import word_set
from rag.service.loading import open_index

QUESTIONS = ("Why do beekeepers paint hives?", "What does Rotterdam connect to shore power?",
             "How does a knight move in chess?", "What is the zorblax?")
EDITED = SMALL_CORPUS["bees.txt"].replace("white to reflect sunlight", "pale blue so that bees find home")


def build(seeds: Path, index_dir: Path) -> rag.Index:
    return rag.build_index(seeds, index_dir, embedder=HashEmbedder(), log=quiet)


def data_file(index_dir: Path, key: str) -> Path:
    return index_dir / json.loads((index_dir / "manifest.json").read_text("utf-8"))["files"][key]


def eager_chunks(index_dir: Path) -> list:
    """The passages file parsed line by line, as a reader with no row table would."""
    return [rag.storage.passages.decode(line) for line in data_file(index_dir, "passages").read_bytes().splitlines()]


def decodes(monkeypatch) -> list[int]:
    """A list that grows by one for every passage decoded from a passages file."""
    seen: list[int] = []
    original = rag.storage.passages.decode

    def counting(line: bytes):
        seen.append(1)
        return original(line)

    monkeypatch.setattr(rag.storage.passages, "decode", counting)
    return seen


def test_loading_decodes_no_passage_and_a_question_only_a_few(make_seeds, tmp_path: Path, monkeypatch) -> None:
    seeds = make_seeds({**SMALL_CORPUS, **{f"extra{n}.txt": f"Extra Notes {n}\n\n" + " ".join(
        f"Paragraph {m} of note {n} talks about lanterns, ropes and harbour number {m}." for m in range(3))
        + "\n\n" + "\n\n".join(f"The harbour keeps {m} boats for note {n} in a dry shed." for m in range(20))
        for n in range(6)}})
    build(seeds, tmp_path / "index")
    seen = decodes(monkeypatch)
    index = rag.load_index(tmp_path / "index", embedder=HashEmbedder())
    assert seen == []
    assert len(index.passages) == len(eager_chunks(tmp_path / "index")) > 100
    seen.clear()
    answer = index.answer("Why do beekeepers paint hives?")
    assert answer.quotes and answer.quotes[0].citation.source == "bees.txt"
    assert 0 < len(seen) < len(index.passages) / 2


def test_a_mapped_index_answers_as_its_passages_parsed_eagerly(hash_index) -> None:
    stored = store.read(hash_index.index_dir)
    eager = eager_chunks(hash_index.index_dir)
    assert list(stored.chunks) == eager and stored.chunks == eager
    assert [stored.chunks[i] for i in range(-1, -len(eager) - 1, -1)] == eager[::-1]
    assert stored.chunks[2:5] == eager[2:5]
    with pytest.raises(IndexError):
        stored.chunks[len(eager)]
    # Each passage's first sentence and context, stored, are what walking the passages gives.
    from rag.ingest.context import context_ids

    rows = np.asarray(stored.passage_rows)
    np.testing.assert_array_equal(rows[:, 1], np.cumsum([0] + [len(c.sentences) for c in eager]))
    np.testing.assert_array_equal(rows[:-1, 2], context_ids(eager)[0])
    again = rag.load_index(hash_index.index_dir, embedder=HashEmbedder())
    for q in QUESTIONS:
        a, b = hash_index.answer(q), again.answer(q)
        assert (a.abstained, [(x.text, x.citation) for x in a.quotes]) == \
            (b.abstained, [(x.text, x.citation) for x in b.quotes])
        assert [(p.id, p.score) for p in hash_index.retrieve(q, 5)] == [(p.id, p.score) for p in again.retrieve(q, 5)]


def test_each_documents_passages_come_from_its_stored_rows(hash_index) -> None:
    for source in hash_index.sources:
        assert hash_index.passages_of(source) == [p for p in hash_index.passages if p.citation.source == source]
    assert hash_index.passages_of("no-such.txt") == []
    ranges = hash_index.manifest.ranges
    assert list(ranges) == list(dict.fromkeys(p.citation.source for p in hash_index.passages))


def test_word_counts_are_kept_right_by_an_incremental_build(make_seeds, tmp_path: Path) -> None:
    seeds = make_seeds(SMALL_CORPUS)
    build(seeds, tmp_path / "index")
    (seeds / "bees.txt").write_text(EDITED, "utf-8")
    (seeds / "chess.txt").unlink()
    (seeds / "kites.txt").write_text("Kites\n\nA kite flies on the wind above the dunes.\n", "utf-8")
    build(seeds, tmp_path / "index")
    build(seeds, tmp_path / "fresh")
    assert store.raw_manifest(tmp_path / "index")["build"]["reused"] > 0
    one, two = store.read(tmp_path / "index"), store.read(tmp_path / "fresh")
    counted = Counter(w for c in two.chunks for w in word_set(c.search_text))
    assert one.bm25.frequencies() == two.bm25.frequencies() == dict(counted)  # type: ignore[union-attr]
    assert one.manifest.ranges == two.manifest.ranges
    assert data_file(tmp_path / "index", "passages").read_bytes() == data_file(tmp_path / "fresh", "passages").read_bytes()


def test_a_build_reusing_an_index_decodes_none_of_its_passages(make_seeds, tmp_path: Path, monkeypatch) -> None:
    seeds = make_seeds(SMALL_CORPUS)
    build(seeds, tmp_path / "index")
    old = rag.load_index(tmp_path / "index", embedder=HashEmbedder())
    (seeds / "bees.txt").write_text(EDITED, "utf-8")
    seen = decodes(monkeypatch)
    build(seeds, tmp_path / "index")
    assert store.raw_manifest(tmp_path / "index")["build"] == {"reused": len(SMALL_CORPUS) - 1, "embedded": 1}
    # Unchanged documents' lines are copied as bytes and their BM25 rows re-used; the edited one's are dropped unread.
    assert seen == [] and len(old.passages_of("bees.txt")) > 0


@pytest.mark.parametrize("damage", ["truncated", "grown", "table"])
def test_a_damaged_passages_file_or_table_is_refused_with_a_rebuild_line(hash_index, damage: str) -> None:
    passages = data_file(hash_index.index_dir, "passages")
    if damage == "truncated":
        passages.write_bytes(passages.read_bytes()[:-40])
    elif damage == "grown":
        with open(passages, "ab") as handle:
            handle.write(b'{"id": "x"}\n')
    else:
        table = data_file(hash_index.index_dir, "passage_rows")
        rows = np.load(table)
        rows[[1, 2]] = rows[[2, 1]]
        np.save(table, rows)
    with pytest.raises(IndexStateError, match=r"(has size|checksum).*rebuild") as info:
        rag.load_index(hash_index.index_dir, embedder=HashEmbedder())
    assert "\n" not in str(info.value)


def test_document_rows_that_do_not_cover_the_passages_are_refused(hash_index) -> None:
    path = hash_index.index_dir / "manifest.json"
    data = json.loads(path.read_text("utf-8"))
    first = next(iter(data["ranges"]))
    data["ranges"][first][1] += 1
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(IndexStateError, match=re.escape("document rows in its manifest that do not cover")):
        rag.load_index(hash_index.index_dir, embedder=HashEmbedder())


def test_an_index_of_the_previous_format_is_refused_and_the_default_one_rebuilt(hash_index, capsys) -> None:
    path = hash_index.index_dir / "manifest.json"
    data = json.loads(path.read_text("utf-8"))
    path.write_text(json.dumps({**data, "format": "rag-index v6"}), encoding="utf-8")
    with pytest.raises(IndexStateError, match=r"format 'rag-index v6'.*rebuild"):
        rag.load_index(hash_index.index_dir, embedder=HashEmbedder())
    index = open_index(hash_index.manifest.seeds_dir, hash_index.index_dir, model="hash-embedder", progress=False)
    assert "older format" in capsys.readouterr().err
    assert index.manifest.format == store.FORMAT == "rag-index v8"


def test_row_ranges_copied_from_a_mapped_file_or_an_array_are_the_rows(tmp_path: Path) -> None:
    from rag.storage.rowfile import RowFile

    rows = np.arange(9 * 4, dtype=np.float32).reshape(9, 4)
    np.save(tmp_path / "old.npy", rows)
    mapped = np.load(tmp_path / "old.npy", mmap_mode="r")
    fresh = rows[::-1] + 100
    out = RowFile(tmp_path / "new.npy", np.float32, 4)
    for source, start, end in ((mapped, 0, 2), (mapped, 2, 5), (fresh, 1, 3), (mapped, 7, 9), (mapped, 5, 5),
                               (fresh, 3, 4), (mapped, 5, 6)):
        out.extend(source, start, end, 2)
    assert out.rows == 2 + 3 + 2 + 2 + 1 + 1
    np.testing.assert_array_equal(out.load(), np.concatenate([rows[0:5], fresh[1:3], rows[7:9], fresh[3:4],
                                                              rows[5:6]]))
