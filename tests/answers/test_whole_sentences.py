"""Quotes are whole sentences: never cut at a line, column, bullet or example break (PDFs included).

"Inside a sentence", as checked here on the document's own text:
* a quote **ends** inside a sentence when its last characters are not closing
  punctuation (. ! ? … or a lead-in's colon, closing quotes and brackets
  allowed) and either the text goes on on the same line, or the next line
  opens with a lower-case word (not a list item's marker) while the quote's last line holds two words or
  more (a sentence broken by a line, a paragraph break, a bullet's wrap or an
  example, as "you need to run" / "cmake ..." / "from a build directory.");
* a quote **starts** inside a sentence when the text before it, on the same
  line, holds words; or when it opens with a lower-case word and the line
  above is body text of two words or more that does not end in closing punctuation.
A line holding only a heading, a title or other non-body text (per the parsed
document), or only a box's border ("|", "*"), is no sentence to continue. A
line of one name or command (a reference listing's) is not a sentence left open,
and a line of code (a call or signature such as "encode(self, o)", braces, "=" or
";") is not prose: a cut next to one is not counted (so a manual's prose line
naming "ssh_config(5)" is not checked at a line break either).

Over every development document and the report (tests/gold/docs) with the fast
hash embedder: every sentence of every passage, and the quotes given for every
gold question (answered even where the shipped threshold would abstain, so each
question yields quotes to check).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

import rag
from rag.answers.pipeline import explain
from rag.eval.gold import load_gold
from rag.ingest.parse import BODY, parse
from rag.search.tuning import shipped
from rag.types import Quote

GOLD = Path(__file__).resolve().parent.parent / "gold"
_CLOSED = re.compile(r"[.!?…:][\"'”’)\]*_`]*$")
_BORDER = " \t|*"
_ITEM = re.compile(r"\s*(?:[-*+•◦○●▪‣]|\d{1,3}[.)]|\([a-z0-9]{1,3}\))\s")  # a list item's marker
_CODE = re.compile(r"\w\(|[{}=;]")  # a call or signature, braces, an assignment: a line of code, not prose


def _line_at(text: str, pos: int) -> str:
    """The line holding character `pos`, without its box border and surrounding space."""
    lo = text.rfind("\n", 0, pos) + 1
    hi = text.find("\n", pos)
    return text[lo : len(text) if hi < 0 else hi].strip(_BORDER)


def ends_inside(text: str, end: int, body: set[int]) -> bool:
    """The quote text[..end] stops inside a sentence (see the module docstring). `body`: offsets of body lines."""
    rest = text[end:]
    if not rest.strip(_BORDER + "\n\r"):
        return False
    last_line = text[_line_start(text, end - 1) : end].strip(_BORDER)
    if _CLOSED.search(last_line):
        return False
    line_end = text.find("\n", end)
    if text[end : len(text) if line_end < 0 else line_end].strip(_BORDER):
        return True  # the same line goes on
    following = rest[rest.find("\n") + 1 :]
    if _ITEM.match(following):
        return False  # the next line opens a list item
    nxt = rest.lstrip(_BORDER + "\n\r")
    at = len(text) - len(nxt)
    return (nxt[:1].islower() and len(last_line.split()) >= 2 and _line_start(text, at) in body
            and not _CODE.search(last_line) and not _CODE.search(_line_at(text, at)))


def starts_inside(text: str, start: int, body: set[int]) -> bool:
    """The quote text[start..] opens inside a sentence (see the module docstring)."""
    lo = text.rfind("\n", 0, start) + 1
    if text[lo:start].strip(_BORDER):
        return not _CLOSED.search(text[lo:start].strip(_BORDER))  # after a sentence's end on its line: fine
    if not text[start : start + 1].islower():
        return False
    before = text[:lo].rstrip(_BORDER + "\n\r")
    if not before:
        return False
    prev_line = _line_at(text, len(before) - 1)
    return (not _CLOSED.search(prev_line) and len(prev_line.split()) >= 2
            and _line_start(text, len(before) - 1) in body
            and not _CODE.search(prev_line) and not _CODE.search(_line_at(text, start)))


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def body_lines(text: str, source: str) -> set[int]:
    """The start offset of every line that lies in a body block of the parsed document."""
    doc = parse(text, source)
    starts: set[int] = set()
    for block in doc.blocks:
        if block.kind != BODY:
            continue
        pos = _line_start(text, block.start)
        while pos < block.end:
            starts.add(pos)
            nxt = text.find("\n", pos)
            if nxt < 0:
                break
            pos = nxt + 1
    return starts


def cut_inside(text: str, start: int, end: int, body: set[int]) -> str:
    """"" when text[start:end] is whole sentences; else what is wrong, with the text around the cut."""
    faults = []
    if starts_inside(text, start, body):
        faults.append(f"starts inside a sentence: …{text[max(0, start - 40):start]!r} | {text[start:start + 40]!r}")
    if ends_inside(text, end, body):
        faults.append(f"ends inside a sentence: {text[max(start, end - 40):end]!r} | {text[end:end + 40]!r}…")
    return "; ".join(faults)


def test_the_definition_flags_cuts_and_passes_whole_sentences():
    text = ("Intro\n\nTo start building, you need to run\n\n\tcmake <dir>\n\nfrom a build directory. "
            "Next one.\n\n• magic elements hold an optional priority\n\nattribute for all rules. If the\n"
            "name matches, stop.\n")
    body = body_lines(text, "t.txt")
    whole = [("To start", "directory."), ("Next", "one."), ("• magic", "rules."), ("If the", "stop.")]
    for first, last in whole[1:]:
        s, e = text.index(first), text.index(last) + len(last)
        assert not starts_inside(text, s, body) and not ends_inside(text, e, body), (first, last)
    cuts = [("To start", "need to run"), ("• magic", "priority"), ("Next", "If the")]
    for first, last in cuts:
        s, e = text.index(first), text.index(last) + len(last)
        assert ends_inside(text, e, body), last
    assert starts_inside(text, text.index("from a build"), body)
    assert starts_inside(text, text.index("attribute for"), body)
    assert starts_inside(text, text.index("one."), body)


@pytest.fixture(scope="module")
def dev_hash_index(tmp_path_factory: pytest.TempPathFactory) -> rag.Index:
    """Every development document and the report, indexed with the hash embedder (no model load)."""
    from conftest import quiet

    from rag.embed.model import HashEmbedder

    target = tmp_path_factory.mktemp("whole") / "index"
    return rag.build_index(GOLD / "docs", target, embedder=HashEmbedder(), log=quiet)


def test_every_sentence_of_every_passage_is_whole(dev_hash_index: rag.Index):
    faults = []
    for source in dev_hash_index.sources:
        text = dev_hash_index.text_of(source)
        body = body_lines(text, source)
        chunks = [c for c in dev_hash_index.chunks if c.passage.citation.source == source]
        for chunk in chunks:
            for start, end in chunk.sentences:
                fault = cut_inside(text, start, end, body)
                if fault:
                    faults.append(f"{source}: {fault}")
    assert not faults, f"{len(faults)} sentences cut:\n" + "\n".join(faults[:10])


def test_every_quote_for_the_gold_questions_is_whole_and_verbatim(dev_hash_index: rag.Index):
    params = dataclasses.replace(shipped(), threshold=float("-inf"))  # quote even where it would abstain
    quotes: list[Quote] = []
    for gold in sorted(GOLD.glob("*.jsonl")):
        for question in load_gold(gold, dev_hash_index.text_of):
            answer, _ = explain(dev_hash_index, question.question, params=params)
            quotes += answer.quotes
    assert len(quotes) >= 300  # every question quoted, most more than once
    bodies = {s: body_lines(dev_hash_index.text_of(s), s) for s in dev_hash_index.sources}
    faults = []
    for q in quotes:
        text = dev_hash_index.text_of(q.citation.source)
        assert text[q.citation.start : q.citation.end] == q.text
        fault = cut_inside(text, q.citation.start, q.citation.end, bodies[q.citation.source])
        if fault:
            faults.append(f"{q.citation.source}: {fault}")
    assert not faults, f"{len(faults)} of {len(quotes)} quotes cut:\n" + "\n".join(faults[:10])


ITEMS = [
    "Applications must be able to extend the database in any way when they are installed, to add both new rules "
    "for determining type, and new information about specific types.",
    "Magic elements contain a list of match elements, any of which may match, and an optional priority attribute "
    "for all of the contained rules. Low numbers should be used for more generic types.",
    "Otherwise, start by doing a glob match of the filename and keep only globs with the biggest weight. If the "
    "patterns are different, keep only globs with the longest pattern, as previously discussed.",
]
CONTENTS = ["1 Introduction", "2 Directory layout", "3 Recommended checking order"]


def test_an_uploaded_pdfs_wrapped_bullets_are_quoted_whole_and_its_contents_never(tmp_path, build_hash_index):
    from format_fixtures import print_pdf

    from rag.embed.model import HashEmbedder

    leaders = "".join(f"<p class=toc>{c} {'. ' * 40}{n}</p>" for n, c in enumerate(CONTENTS, start=1))
    # Bullets drawn as text with a hanging indent, as LaTeX and DocBook print them: each wrapped line lines up
    # under the item's text, past the bullet.
    items = "".join(f"<p class=item>•&nbsp;&nbsp;{t}</p>" for t in ITEMS)
    page = ("<!doctype html><html><head><meta charset=utf-8><style>body { font: 11pt/1.4 'DejaVu Serif', serif; "
            "width: 5.5in; margin: 1in } .item { margin: 0 0 0.3em 1.5em; padding-left: 1.2em; text-indent: -1.2em } .toc { margin: 0 }</style></head><body>"
            f"<h1>Shared Type Database</h1><h2>Contents</h2>{leaders}<h2>1 Introduction</h2>"
            "<p>There are three requirements for the way the database is stored and read by programs:</p>"
            f"{items}<p>Further, the existing databases have been merged into a single package.</p>"
            "</body></html>")
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    print_pdf(page, seeds, "spec")
    (seeds / "spec.html").unlink()
    index = build_hash_index(seeds, embedder=HashEmbedder())
    text = index.text_of("spec.pdf")
    body = body_lines(text, "spec.pdf")
    passages = [c.passage.text for c in index.chunks]
    for item in ITEMS:  # each bullet, wrapped over two or three lines, is one passage's text
        assert any(" ".join(item.split()) in " ".join(p.split()) for p in passages), item
    assert not [p for p in passages if ". . . ." in p]
    faults = [cut_inside(text, s, e, body) for c in index.chunks for s, e in c.sentences]
    assert not [f for f in faults if f]
    params = dataclasses.replace(shipped(), threshold=float("-inf"))
    for question in ("What is the optional priority attribute?", "What if the patterns are different?",
                     "Where is the recommended checking order?"):
        for q in explain(index, question, params=params)[0].quotes:
            assert ". . . ." not in q.text and not cut_inside(text, q.citation.start, q.citation.end, body)
