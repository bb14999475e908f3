"""The Milvus store, on milvus-lite in a temporary folder: same answers as the index folder, quotes verbatim
against the text Milvus holds, source filters, and one-line errors."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from conftest import SMALL_CORPUS, quiet, write_seeds

import rag
from rag.answers.pipeline import CHANGED_MESSAGE, explain
from rag.cli import main
from rag.embed.model import HashEmbedder
from rag.stores.milvus_build import upload

GOLD = Path(__file__).parent.parent / "gold"
DOCS = ("python-json-module.txt", "valgrind-faq.txt")


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[rag.Index, rag.Index, str]:
    """SMALL_CORPUS and two development documents, as an index folder and as a milvus-lite store."""
    root = tmp_path_factory.mktemp("milvus")
    seeds = write_seeds(root / "seeds", SMALL_CORPUS)
    for name in DOCS:
        shutil.copy(GOLD / "docs" / name, seeds / name)
    files = rag.build_index(seeds, root / "index", embedder=HashEmbedder(), log=quiet)
    uri = f"milvus-lite:{root}/store.db/docs"
    upload(files.store, uri, log=quiet)  # type: ignore[arg-type]
    return files, rag.open_store(uri, embedder=HashEmbedder()), uri


def _questions() -> list[str]:
    asked = ["Which city connected its container terminals to shore power?", "Why paint hives white?",
             "What does the Sicilian Defence give up?", "Who won the 1998 world cup?"]
    for name in DOCS:
        lines = (GOLD / name.replace(".txt", ".jsonl")).read_text("utf-8").splitlines()
        asked += [json.loads(line)["question"] for line in lines[:12] if line.strip()]
    return asked


def test_milvus_gives_the_same_answers_as_the_index_folder(stores) -> None:
    files, milvus, _ = stores
    assert milvus.sources == files.sources and len(milvus.chunks) == len(files.chunks)
    for question in _questions():
        ours, theirs = explain(milvus, question), explain(files, question)
        assert asdict(ours[0]) == asdict(theirs[0]), question
        assert ours[1].values() == pytest.approx(theirs[1].values(), abs=1e-2), question  # a tie at the pool edge
        assert [p.id for p in milvus.retrieve(question, k=8)] == [p.id for p in files.retrieve(question, k=8)]


def test_quotes_are_verbatim_against_the_text_milvus_holds(stores, tmp_path: Path) -> None:
    _, milvus, _ = stores
    seeds = Path(milvus.manifest.seeds_dir)
    moved = tmp_path / "away"
    seeds.rename(moved)  # no seeds folder: quotes are checked against Milvus's copy alone
    try:
        answer = milvus.answer("Which city connected its container terminals to shore power?")
        assert answer.quotes and not answer.abstained
        for quote in answer.quotes:
            held = milvus.store._blob("doc:" + quote.citation.source)["text"]  # type: ignore[attr-defined]
            assert held[quote.citation.start : quote.citation.end] == quote.text
            assert milvus.verify(quote.citation, quote.text)
        assert "Rotterdam" in answer.quotes[0].text
    finally:
        moved.rename(seeds)


def test_a_file_edited_after_the_upload_is_not_quoted(stores) -> None:
    _, milvus, _ = stores
    path = Path(milvus.manifest.seeds_dir) / "bees.txt"
    original = path.read_bytes()
    path.write_text(SMALL_CORPUS["bees.txt"].replace("white", "green"), "utf-8")
    try:
        answer = milvus.answer("Why do beekeepers paint the boxes white?", sources=["bees.txt"])
        assert answer.abstained and answer.message == CHANGED_MESSAGE
    finally:
        path.write_bytes(original)
    assert not milvus.answer("Why do beekeepers paint the boxes white?", sources=["bees.txt"]).abstained


def test_source_filters_keep_to_the_documents_named(stores) -> None:
    files, milvus, _ = stores
    question = "What does the FAQ say about memory leaks and pawns?"
    for sources in (["chess.txt"], ["valgrind-faq.txt", "bees.txt"]):
        passages = milvus.retrieve(question, k=5, sources=sources)
        assert passages and {p.citation.source for p in passages} <= set(sources)
        assert [p.id for p in passages] == [p.id for p in files.retrieve(question, k=5, sources=sources)]
    with pytest.raises(rag.InputError, match="unknown document"):
        milvus.answer(question, sources=["nowhere.txt"])


def test_errors_are_one_line_and_say_what_to_do(stores) -> None:
    _, _, uri = stores
    with pytest.raises(rag.IndexStateError, match=r"cannot reach Milvus at milvus://127\.0\.0\.1:1/x") as err:
        rag.open_store("milvus://127.0.0.1:1/x", embedder=HashEmbedder())
    assert "\n" not in str(err.value)
    missing = uri.rsplit("/", 1)[0] + "/absent"
    with pytest.raises(rag.IndexStateError, match=r"collection 'absent' does not exist.*rag build --store"):
        rag.open_store(missing, embedder=HashEmbedder())
    with pytest.raises(rag.ModelError, match=r"128-dimensional vectors but the index in .* holds 64"):
        rag.open_store(uri, embedder=HashEmbedder(dimension=128))
    with pytest.raises(rag.InputError, match="milvus://HOST:PORT/COLLECTION"):
        rag.open_store("milvus:/nothing")


def test_the_command_line_answers_from_a_store(stores, capsys) -> None:
    _, _, uri = stores
    assert main(["ask", "Why do beekeepers paint the boxes white?", "--store", uri, "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["quotes"] and answer["quotes"][0]["citation"]["source"] == "bees.txt"
    assert main(["ask", "Why paint hives white?", "--store", uri.rsplit("/", 1)[0] + "/absent"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rag: error: no index in") and err.count("\n") == 1


def test_rag_build_store_uploads_an_index_that_answers_without_its_folder(make_seeds, tmp_path: Path, capsys) -> None:
    seeds = make_seeds(SMALL_CORPUS)
    uri = f"milvus-lite:{tmp_path}/built.db/small"
    assert main(["build", "--seeds", str(seeds), "--store", uri, "--model", "hash-embedder"]) == 0
    assert f"into {uri}" in capsys.readouterr().out
    assert not any(tmp_path.glob("**/passages-*.jsonl"))  # the folder index it was built in is gone
    index = rag.open_store(uri)
    assert index.sources == sorted(SMALL_CORPUS) and index.index_dir is None
    answer = index.answer("Which city connected its container terminals to shore power?")
    assert answer.quotes and answer.quotes[0].text in SMALL_CORPUS["ports.txt"]
    assert main(["build", "--seeds", str(seeds), "--store", "milvus://127.0.0.1:1/x"]) == 1
    assert capsys.readouterr().err.startswith("rag: error: cannot reach Milvus at milvus://127.0.0.1:1/x")


def test_a_filter_on_names_with_accents_and_quotes_searches_only_them(tmp_path: Path) -> None:
    seeds = write_seeds(tmp_path / "seeds", {"résumé.txt": SMALL_CORPUS["bees.txt"],
                                             'quote"d.txt': SMALL_CORPUS["chess.txt"],
                                             "plain.txt": SMALL_CORPUS["ports.txt"]})
    files = rag.build_index(seeds, tmp_path / "index", embedder=HashEmbedder(), log=quiet)
    uri = f"milvus-lite:{tmp_path}/names.db/names"
    upload(files.store, uri, log=quiet)  # type: ignore[arg-type]
    milvus = rag.open_store(uri, embedder=HashEmbedder())
    for sources in (["résumé.txt"], ['quote"d.txt', "résumé.txt"]):
        passages = milvus.retrieve("Why paint hives white?", k=3, sources=sources)
        assert passages and {p.citation.source for p in passages} <= set(sources)
        assert [p.id for p in passages] == [p.id for p in files.retrieve("Why paint hives white?", k=3,
                                                                          sources=sources)]


def test_an_upload_replaces_the_store_under_a_server_answering_from_it(tmp_path: Path, monkeypatch) -> None:
    from pymilvus import MilvusClient

    import rag.stores.milvus_build as milvus_build

    first = write_seeds(tmp_path / "first", {"bees.txt": SMALL_CORPUS["bees.txt"]})
    second = write_seeds(tmp_path / "second", {"ports.txt": SMALL_CORPUS["ports.txt"]})
    uri = f"milvus-lite:{tmp_path}/swap.db/live"
    upload(rag.build_index(first, tmp_path / "i1", embedder=HashEmbedder(), log=quiet).store, uri,  # type: ignore[arg-type]
           log=quiet)
    serving = rag.open_store(uri, embedder=HashEmbedder())
    assert serving.sources == ["bees.txt"]
    new = rag.build_index(second, tmp_path / "i2", embedder=HashEmbedder(), log=quiet).store

    def broken(*args, **kwargs):  # an upload that fails half-way leaves the store as it was
        milvus_build._create(*args[:2], 384)
        raise OSError("disk full")

    monkeypatch.setattr(milvus_build, "_write", broken)
    with pytest.raises(OSError):
        upload(new, uri, log=quiet)  # type: ignore[arg-type]
    monkeypatch.undo()
    client = MilvusClient(f"{tmp_path}/swap.db")
    assert len(client.list_collections()) == 2  # the serving pair only
    assert serving.answer("Why paint hives white?").quotes
    upload(new, uri, log=quiet)  # type: ignore[arg-type]
    collections = client.list_collections()
    assert len(collections) == 2 and all(c.startswith("live_") for c in collections)  # the old pair is gone
    answer = serving.answer("Which city connected its container terminals to shore power?")
    assert serving.sources == ["ports.txt"]
    assert answer.quotes and answer.quotes[0].text in SMALL_CORPUS["ports.txt"]


def test_a_store_uploaded_before_aliases_is_replaced_by_one(tmp_path: Path) -> None:
    from pymilvus import MilvusClient

    import rag.stores.milvus_build as milvus_build

    seeds = write_seeds(tmp_path / "seeds", {"bees.txt": SMALL_CORPUS["bees.txt"]})
    files = rag.build_index(seeds, tmp_path / "index", embedder=HashEmbedder(), log=quiet).store
    client = MilvusClient(f"{tmp_path}/old.db")
    milvus_build._write(client, "docs", files, "old", quiet)  # the layout of a store named by its collection
    assert rag.open_store(f"milvus-lite:{tmp_path}/old.db/docs", embedder=HashEmbedder()).sources == ["bees.txt"]
    said: list[str] = []
    upload(files, f"milvus-lite:{tmp_path}/old.db/docs", log=said.append)  # type: ignore[arg-type]
    assert any(line.startswith("dropped collection docs ") for line in said)
    assert client.describe_alias("docs")["collection_name"].startswith("docs_")
    index = rag.open_store(f"milvus-lite:{tmp_path}/old.db/docs", embedder=HashEmbedder())
    assert index.answer("Why paint hives white?").quotes
