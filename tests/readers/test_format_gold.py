"""The report's gold set holds on the report as a PDF (one and two columns), a saved web page and a Word file.

Each version is indexed on its own with the real model and scored with the
report's gold set (evidence located in the extracted text up to whitespace
and line-break hyphens). Its figures must come within 0.03 MRR@10 and 0.05
of evidence in the first three quotes of the plain-text version's, every
quote must be its document's text at its offsets, and for a PDF the cited
page must hold the start of the quote (a quote running over a page break
starts on the cited page and goes on at the start of the next).
"""

from __future__ import annotations

import html
import io
import json
import re
from pathlib import Path

import pytest
from conftest import quiet
from format_fixtures import FURNITURE, is_heading, print_pdf, report_html, report_paragraphs

import rag
from rag.eval.evaluate import evaluate
from rag.eval.gold import load_gold
from rag.search.tuning import shipped

GOLD = Path(__file__).parent.parent / "gold" / "japan-nato-alignment.jsonl"
NAME = "japan-nato-alignment"


def report_page() -> str:
    """The whole report as a saved web page: navigation, cookie banner, share bar and footer around it."""
    body = "".join(f"<h2>{html.escape(p)}</h2>" if is_heading(p) else f"<p>{html.escape(p)}</p>"
                   for p in report_paragraphs())
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Japan-NATO Alignment</title></head>"
            f"<body><header><nav><a href='/'>{FURNITURE['nav']}</a></nav></header>"
            f"<div class=cookie-banner><p>{FURNITURE['cookie']}</p></div><main><article>{body}"
            f"<div class=share>{FURNITURE['share']}</div></article></main>"
            f"<footer><p>{FURNITURE['footer']}</p></footer></body></html>")


def report_word() -> bytes:
    """The whole report as a Word file, its headings in a heading style."""
    import docx

    doc = docx.Document()
    for p in report_paragraphs():
        if is_heading(p):
            doc.add_heading(p, 1)
        else:
            doc.add_paragraph(p)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _gold_for(folder: Path, suffix: str) -> Path:
    """The report's gold set with its evidence pointing at the other format's file."""
    target = folder / f"gold-{suffix}.jsonl"
    lines = []
    for line in GOLD.read_text("utf-8").splitlines():
        record = json.loads(line)
        for item in record["evidence"]:
            item["source"] = f"{NAME}.{suffix}"
        lines.append(json.dumps(record, ensure_ascii=False))
    target.write_text("\n".join(lines) + "\n", "utf-8")
    return target


def _score(index: rag.Index, gold: Path) -> tuple[dict, list[dict]]:
    sets = {NAME: load_gold(gold, index.source_text)}
    report = evaluate(index, sets, held_out=False, ablations=False, progress=False, params=shipped())
    return report.metrics, report.sets[0].questions


@pytest.fixture(scope="module")
def text_figures(real_index: rag.Index) -> dict:
    return _score(real_index, GOLD)[0]


def _build(tmp_path_factory: pytest.TempPathFactory, suffix: str) -> tuple[rag.Index, Path]:
    folder = tmp_path_factory.mktemp(f"report-{suffix}")
    seeds = folder / "seeds"
    seeds.mkdir()
    if suffix.startswith("pdf"):
        columns = 2 if suffix == "pdf2" else 1
        printed = print_pdf(report_html(columns)[0], folder, "printed")
        (seeds / f"{NAME}.pdf").write_bytes(printed.read_bytes())
        suffix = "pdf"
    elif suffix == "html":
        (seeds / f"{NAME}.html").write_text(report_page(), "utf-8")
    else:
        (seeds / f"{NAME}.docx").write_bytes(report_word())
    index = rag.build_index(seeds, folder / "index", log=quiet)
    return index, _gold_for(folder, suffix)


@pytest.mark.model
@pytest.mark.parametrize("version", ["pdf1", "pdf2", "html", "docx"])
def test_report_gold_holds_in_every_format(version, tmp_path_factory, text_figures) -> None:
    index, gold = _build(tmp_path_factory, version)
    metrics, questions = _score(index, gold)
    assert metrics["mrr@10"] >= text_figures["mrr@10"] - 0.03, (version, metrics, text_figures)
    assert metrics["evidence_in_top3_quotes"] >= text_figures["evidence_in_top3_quotes"] - 0.05, (version, metrics)
    assert metrics["quote_exactness"] == 1.0
    source = index.sources[0]
    for row in questions:
        assert row["exact"], row
    if version.startswith("pdf"):
        _assert_pages_hold_quote_starts(index, source)


def _assert_pages_hold_quote_starts(index: rag.Index, source: str) -> None:
    """For at least 0.95 of quotes, the page their citation names holds the quote's opening words (its first
    words, and the next page the rest, when the quote runs over a page break)."""
    import pypdfium2

    pdf = pypdfium2.PdfDocument(str(Path(index.manifest.seeds_dir) / source))
    pages = [_squash(pdf[n].get_textpage().get_text_range()) for n in range(len(pdf))]
    checked = right = 0
    for question in [json.loads(line)["question"] for line in GOLD.read_text("utf-8").splitlines()]:
        for quote in index.answer(question).quotes:
            assert quote.citation.page is not None and 1 <= quote.citation.page <= len(pages)
            assert f"p. {quote.citation.page}" in quote.citation.label()
            checked += 1
            right += _opens_on(_squash(quote.text)[:40], pages, quote.citation.page - 1)
    assert checked > 50 and right / checked >= 0.95, (right, checked)


def _opens_on(opening: str, pages: list[str], page: int) -> bool:
    """Page `page` holds `opening`, or, for a quote running over a page break, holds the longest part of it
    that it can (at least its first character) and the next page's text starts with the rest."""
    if opening in pages[page]:
        return True
    held = next((n for n in range(len(opening) - 1, 0, -1) if opening[:n] in pages[page]), 0)
    return held > 0 and page + 1 < len(pages) and pages[page + 1].startswith(opening[held:])


def _squash(text: str) -> str:
    """Letters and digits only: page text and extracted text differ in spaces, hyphens and line ends."""
    return re.sub(r"[^0-9A-Za-z]+", "", text.replace("\u2010", "").replace("\u00ad", ""))
