"""Per-document info for the document list: title, kind, pages or words, sections."""

from __future__ import annotations

from conftest import SMALL_CORPUS, write_seeds
from format_fixtures import tiny_pdf

import rag
from rag.embed.model import HashEmbedder
from rag.ingest.parse import parse
from ui.catalog import catalog, name_in_words


def test_titles_kinds_and_sizes_come_from_the_index(make_seeds, build_hash_index, tmp_path):
    files = dict(SMALL_CORPUS)
    files["notes/field-guide.md"] = ("# Field Guide\n\n## Owls\n\nBarn owls hunt at night over open fields and "
                                     "meadows, listening for voles in the grass.\n")
    files["untitled_list.txt"] = "the harbour grew in 2023 because more ships called there than in any year before.\n"
    seeds = make_seeds(files)
    index = build_hash_index(seeds)
    found = {info.source: info for info in catalog(index)}
    assert set(found) == set(index.sources)
    for source, info in found.items():
        text = index.text_of(source)
        assert info.words == sum(any(ch.isalnum() for ch in w) for w in text.split())  # "#" marks are not words
        assert info.pages is None and info.size == f"{info.words:,} words"
        assert info.passages == sum(p.citation.source == source for p in index.passages)
        assert info.title == (parse(text, source).title or name_in_words(source))  # what ingestion reads
    assert found["ports.txt"].title == "Harbour Report" and found["ports.txt"].kind == "text"
    assert found["notes/field-guide.md"].title == "Field Guide" and found["notes/field-guide.md"].kind == "markdown"
    assert found["notes/field-guide.md"].kind_name == "Markdown"
    assert [s for s, _ in found["notes/field-guide.md"].sections] == ["Owls"]
    # Sections in document order, each with the passages under it.
    ports = found["ports.txt"].sections
    assert [s for s, _ in ports] == list(dict.fromkeys(p.citation.section for p in index.passages
                                                       if p.citation.source == "ports.txt" and p.citation.section))
    assert sum(n for _, n in ports) <= found["ports.txt"].passages


def test_a_pdf_counts_pages(tmp_path):
    seeds = write_seeds(tmp_path / "seeds", {"a.txt": SMALL_CORPUS["bees.txt"]})
    (seeds / "report.pdf").write_bytes(tiny_pdf(["The harbour was quiet at dawn and the fleet stayed in port.",
                                                 "The fleet sailed at noon when the wind turned to the west."]))
    index = rag.build_index(seeds, tmp_path / "index", embedder=HashEmbedder(), log=lambda line: None)
    info = next(i for i in catalog(index) if i.source == "report.pdf")
    assert info.kind == "pdf" and info.kind_name == "PDF"
    assert info.pages == 2 and info.size == "2 pages"


def test_a_file_name_in_words():
    assert name_in_words("reports/ssh-manual_v2.txt") == "ssh manual v2"


def test_a_man_page_is_listed_by_its_name_line(make_seeds, build_hash_index):
    page = ("GIT-STASH(1)\t\t\t  Git Manual\t\t\t  GIT-STASH(1)\n\nNAME\n       git-stash - Stash the changes in a dirty "
            "working directory away\n\nDESCRIPTION\n       Use git stash when you want to record the current state of "
            "the working directory and the index, but want to go back to a clean working directory.\n")
    index = build_hash_index(make_seeds({"git-stash.txt": page, **SMALL_CORPUS}))
    found = {info.source: info for info in catalog(index)}
    assert found["git-stash.txt"].title == "git-stash - Stash the changes in a dirty working directory away"
    assert parse(page, "git-stash.txt").title == "GIT-STASH(1) Git Manual GIT-STASH(1)"  # search's label is unchanged
