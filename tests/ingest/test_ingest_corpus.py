"""Ingestion over the gold corpus (tests/gold/docs) and the heading forms documents use.

The contract for every document: no sentence is lost (each is quotable body
text, a heading, or dropped for a reason that re-checks here, independently
of the rule that dropped it), and every passage and sentence is an exact
slice of the file. Then the specific shapes these documents taught us.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.ingest.chunk import Chunk, chunk_document
from rag.ingest.intake import ingest
from rag.ingest.parse import BODY, BOILERPLATE, HEADING, PULL_QUOTE, Block, Document, describe, parse
from rag.ingest.text import sentence_spans

DOCS = Path(__file__).parent.parent / "gold" / "docs"
NAMES = sorted(p.name for p in DOCS.iterdir())
SHOWN = ("heading", "title", "byline", "subtitle")  # not body, but kept and shown
_WORD = re.compile(r"[^\W_]+")


@pytest.fixture(scope="module")
def corpus() -> dict[str, Document]:
    docs, skipped = ingest(DOCS)
    assert not skipped
    return {d.source: d for d in docs}


@pytest.fixture(scope="module")
def chunks(corpus: dict[str, Document]) -> dict[str, list[Chunk]]:
    return {name: chunk_document(doc) for name, doc in corpus.items()}


def _norm(s: str) -> str:
    return " ".join(w.casefold() for w in _WORD.findall(s))


def _text(doc: Document, b: Block) -> str:
    return doc.text[b.start : b.end]


def _reason_holds(doc: Document, b: Block) -> bool:
    """Re-check why a block was dropped, from the text alone."""
    text = _text(doc, b)
    if b.kind == PULL_QUOTE:
        quote = f" {_norm(text)} "
        return any(len(_norm(_text(doc, o))) > len(quote.strip()) and quote in f" {_norm(_text(doc, o))} "
                   for o in doc.body if o is not b)
    if "navigation" in b.reason:
        return sum(line.strip() == text for line in doc.text.splitlines()) >= 3
    if "contact" in b.reason:
        return not any(len(doc.text[s:e].split()) >= 4 and doc.text[s:e].rstrip("”\")").endswith((".", "!", "?"))
                       for s, e in sentence_spans(doc.text, b.start, b.end))
    if b.reason == "no words":
        return not _WORD.search(text)
    if b.reason == "page header above the title":
        return any(t.kind == "title" and t.start > b.start for t in doc.blocks)
    if b.reason == "photo credit":
        return bool(re.search(r"photo|picture|getty|reuters|©", text, re.IGNORECASE))
    if b.reason == "download-the-PDF line":
        return "pdf" in text.casefold()
    if b.reason == "page widget name":
        return bool(re.fullmatch(r"[a-z]+(?:[-_][a-z]+)+", text))
    return False


# --- (a) nothing is lost ---------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_every_sentence_is_quotable_body_a_heading_or_rightly_dropped(corpus, chunks, name: str) -> None:
    doc = corpus[name]
    covered = bytearray(len(doc.text))
    for c in chunks[name]:
        covered[c.passage.citation.start : c.passage.citation.end] = b"\1" * (c.passage.citation.end -
                                                                            c.passage.citation.start)
    wrongly_dropped = []
    for b in doc.blocks:
        if b.kind in (PULL_QUOTE, BOILERPLATE) and not _reason_holds(doc, b):
            wrongly_dropped.append(f"line {b.line} ({b.reason}): {_text(doc, b)[:60]!r}")
        elif b.kind in SHOWN or b.kind in (PULL_QUOTE, BOILERPLATE):
            covered[b.start : b.end] = b"\1" * (b.end - b.start)
    assert not wrongly_dropped
    lost = [doc.text[s:e][:80] for s, e in sentence_spans(doc.text)
            if any(doc.text[i].isalnum() and not covered[i] for i in range(s, e))]
    assert not lost


@pytest.mark.parametrize("name", NAMES)
def test_no_word_lies_outside_every_block(corpus, name: str) -> None:
    counts = corpus[name].word_counts()
    assert counts.outside == 0
    assert counts.body + counts.headings + counts.dropped == counts.total
    assert counts.body > 0.85 * counts.total  # the FAQ's questions are headings: 10% of its words


# --- (b) offsets are exact -----------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_passages_and_sentences_are_exact_slices_inside_their_passage(corpus, chunks, name: str) -> None:
    doc = corpus[name]
    for c in chunks[name]:
        cite = c.passage.citation
        assert c.passage.text == doc.text[cite.start : cite.end]
        assert any(b.start <= cite.start and cite.end <= b.end for b in doc.body)
        for s, e in c.sentences:
            assert cite.start <= s < e <= cite.end
            assert doc.text[s:e] == doc.text[s:e].strip()


@pytest.mark.parametrize("name", NAMES)
def test_blocks_are_stripped_slices_in_order(corpus, name: str) -> None:
    doc = corpus[name]
    ends = 0
    for b in doc.blocks:
        assert doc.text[b.start : b.end] == doc.text[b.start : b.end].strip()
        assert b.start >= ends
        ends = b.end


# --- (c) what these documents taught us ------------------------------------------------


def _body_with(doc: Document, needle: str) -> Block:
    found = [b for b in doc.body if needle in _text(doc, b)]
    assert found, f"no body block holds {needle!r}"
    return found[0]


def test_valgrind_faq_is_many_paragraphs_under_its_questions(corpus) -> None:
    doc = corpus["valgrind-faq.txt"]
    assert doc.title == "Valgrind FAQ"
    assert len(doc.body) >= 60
    assert '1.2. Where does the name "Valgrind" come from?' in doc.sections
    assert _body_with(doc, "From Nordic mythology").section == '1.2. Where does the name "Valgrind" come from?'
    assert _body_with(doc, "You need to install the glibc-static-devel package").section.startswith("2.2.")


def test_mpl_definition_is_one_unit_with_its_term(corpus, chunks) -> None:
    doc = corpus["mpl-2.0.txt"]
    block = _body_with(doc, '1.6. "Executable Form"')
    assert "means any form of the work other than Source Code Form" in _text(doc, block)
    sentence = next(doc.text[s:e] for c in chunks["mpl-2.0.txt"] for s, e in c.sentences
                    if '"Executable Form"' in doc.text[s:e])
    assert " ".join(sentence.split()) == '1.6. "Executable Form" means any form of the work other than Source Code Form.'


def test_mpl_clauses_cite_their_numbered_sections(corpus, chunks) -> None:
    doc = corpus["mpl-2.0.txt"]
    assert doc.title == "Mozilla Public License Version 2.0"
    assert _body_with(doc, "The rights granted under this License will terminate").section == "5. Termination"
    assert _body_with(doc, "Any litigation relating to this License").section == "8. Litigation"
    assert _body_with(doc, "Covered Software is provided under this License").section == "6. Disclaimer of Warranty"
    assert _body_with(doc, "means Covered Software of a particular Contributor.").section == "1. Definitions"


def test_ssh_option_lines_are_body_in_their_man_section(corpus) -> None:
    doc = corpus["ssh-manual.txt"]
    block = _body_with(doc, "Disables forwarding of the authentication agent connection.")
    assert _text(doc, block).startswith("-a")
    assert block.section == "DESCRIPTION"
    assert _text(doc, _body_with(doc, "Append debug logs to log_file")).startswith("-E log_file")
    assert {"DESCRIPTION", "FILES", "EXIT STATUS", "SEE ALSO"} <= set(doc.sections)


def test_json_doctest_lines_are_body_code(corpus) -> None:
    doc = corpus["python-json-module.txt"]
    starts = [m.start() for m in re.finditer(">>> import json", doc.text)]
    assert len(starts) >= 4
    for start in starts:
        assert any(b.start <= start < b.end for b in doc.body)
    assert {"DESCRIPTION", "CLASSES", "FUNCTIONS"} <= set(doc.sections)


def test_contact_rule_drops_cards_but_keeps_sentences_and_lists(corpus) -> None:
    report = corpus["japan-nato-alignment.txt"]
    card = [b for b in report.blocks if 153 <= b.line <= 170]
    assert card and all(b.kind == BOILERPLATE and "contact" in b.reason for b in card)
    _body_with(corpus["apt-readme.md"], "Discussion happens mostly on [the mailing list]")
    _body_with(corpus["gnupg-readme.txt"], "German speaking counterpart of")
    _body_with(corpus["debian-python-policy.txt"], "Neil Schemenauer <nas@debian.org>")
    _body_with(corpus["debian-python-policy.txt"], "1999-2021, Software in the Public Interest")


def test_identical_list_items_are_both_kept(corpus) -> None:
    doc = corpus["git-2.39.0-release-notes.txt"]
    copies = [b for b in doc.body if "Various tests exercising the transfer.credentialsInUrl" in _text(doc, b)]
    assert len(copies) == 2


def test_titles_are_one_heading_line(corpus) -> None:
    assert corpus["gnupg-readme.txt"].title == "The GNU Privacy Guard 2"
    assert corpus["apt-readme.md"].title == "APT"
    assert corpus["git-2.39.0-release-notes.txt"].title == "Git v2.39 Release Notes"


def test_describe_reports_the_share_of_words_kept(corpus) -> None:
    doc = corpus["mpl-2.0.txt"]
    n = doc.word_counts()
    assert f"words: {n.total}, kept {n.body} (" in describe(doc)
    assert f"{n.headings} in headings, {n.dropped} dropped" in describe(doc)


# --- synthetic texts, one heading form each ---------------------------------------------

PROSE = "The parties agree to the terms below and will keep to them for as long as this agreement lasts."


def _sections(text: str) -> list[str]:
    return parse(text, "x.txt").sections


def _section_of(text: str, needle: str) -> str | None:
    doc = parse(text, "x.txt")
    return _body_with(doc, needle).section


def test_numbered_headings_nest_and_may_end_in_a_full_stop_but_list_items_are_no_headings() -> None:
    text = (f"Terms\n\n8. Termination.\n\n8.1 Notice\n\n{PROSE}\n\n  1. Open the box.\n\n  2. Read the manual.\n\n"
            "  3. Call us.\n\n9. Liability\n\nNo party is liable for delay.\n")
    doc = parse(text, "x.txt")
    assert doc.sections == ["8. Termination", "8.1 Notice", "9. Liability"]
    assert _body_with(doc, "The parties agree").section == "8.1 Notice"
    assert [_text(doc, b) for b in doc.body][1:4] == ["1. Open the box.", "2. Read the manual.", "3. Call us."]


def test_article_and_section_headings() -> None:
    text = f"Charter\n\nArticle 9\n\nSection 3(a)\n\n{PROSE}\n"
    assert _sections(text) == ["Article 9", "Section 3(a)"]
    assert _section_of(text, "The parties agree") == "Section 3(a)"


def test_upper_case_and_man_page_sections() -> None:
    text = ("NAME\n     frob - frobnicate files\n\nDESCRIPTION\n     frob reads each file named on the command line and"
            " rewrites\n     it in place, keeping a backup copy next to it.\n\nEXIT STATUS\n     0 on success\n")
    doc = parse(text, "frob.1")
    assert doc.sections == ["NAME", "DESCRIPTION", "EXIT STATUS"]
    assert _body_with(doc, "frob - frobnicate files").section == "NAME"
    assert _body_with(doc, "0 on success").section == "EXIT STATUS"


def test_markdown_heading_after_an_unclosed_fence_and_comment_lines() -> None:
    text = ("# Tool\n\n```\n\n## Install\n\nRun the installer and follow the prompts until it says it is done.\n\n"
            "# a comment line\n# another comment line\n# a third comment line\n")
    doc = parse(text, "tool.md")
    assert doc.title == "Tool"
    assert doc.sections == ["Install"]
    _body_with(doc, "# a comment line")


def test_setext_heading_with_text_right_under_its_underline() -> None:
    text = f"Guide\n=====\n\nSection One\n-----------\n{PROSE}\n"
    doc = parse(text, "guide.md")
    assert doc.title == "Guide"
    assert doc.sections == ["Section One"]
    assert _body_with(doc, "The parties agree").section == "Section One"


def test_restructuredtext_tilde_underline_is_a_heading_not_a_fence() -> None:
    text = f"Overview\n~~~~~~~~\n\n{PROSE}\n\nDetails\n~~~~~~~\n\nMore text follows here, in a second paragraph of prose.\n"
    doc = parse(text, "guide.rst")
    assert [doc.title, *doc.sections] == ["Overview", "Details"]
    assert len(doc.body) == 2


def test_faq_question_on_the_first_line_of_its_answer_is_its_heading() -> None:
    text = "FAQ\n\n1.1. How do I install it?\nRun the installer. It takes a minute.\n"
    doc = parse(text, "faq.txt")
    assert doc.sections == ["1.1. How do I install it?"]
    assert [_text(doc, b) for b in doc.body] == ["Run the installer. It takes a minute."]


def test_faq_q_and_a_pairs_cite_their_question_and_an_answer_is_never_a_heading() -> None:
    text = ("Tool FAQ\n========\n\nQ:  Does it read .7z archives?\n\nA:  No. Use 7-Zip for those files.\n\n\n"
            "Q:  My tar does not know .tar.xz files.\n    How can I unpack them?\n\nA:  xz -dc foo.tar.xz | tar xf -\n\n\n"
            "Q:  Is the format patented?\n\nA:  Nobody is aware of any patents that could affect it.\n")
    doc = parse(text, "faq.txt")
    assert doc.sections == ["Q: Does it read .7z archives?",
                            "Q: My tar does not know .tar.xz files. How can I unpack them?", "Q: Is the format patented?"]
    answers = {_text(doc, b): b.section for b in doc.body}
    assert answers == {"A:  No. Use 7-Zip for those files.": "Q: Does it read .7z archives?",
                       "A:  xz -dc foo.tar.xz | tar xf -": "Q: My tar does not know .tar.xz files. How can I unpack them?",
                       "A:  Nobody is aware of any patents that could affect it.": "Q: Is the format patented?"}


@pytest.mark.parametrize("line", ["$ ~/.venvs/foo/bin/python -m pip install foo", "break-system-packages = true",
                                  "(Fixing conflicting dependencies)=",
                                  "https://wiki.example.org/Chromium/Debugging", "./configure CFLAGS=\"-fpie\""])
def test_a_command_or_link_over_prose_is_text_to_quote_not_a_heading(line: str) -> None:
    text = f"Install guide\n=============\n\nSetup\n-----\n\nRun this:\n{line}\n{PROSE}\n"
    doc = parse(text, "guide.txt")
    assert doc.sections == ["Setup"]
    assert line in [_text(doc, b) for b in doc.body]


def test_a_wiki_heading_with_equals_signs_stays_a_heading() -> None:
    doc = parse(f"Notes\n\n== Notes to developers ==\n\n{PROSE}\n", "notes.txt")
    assert len(doc.sections) == 1 and "Notes to developers" in doc.sections[0]


def test_a_section_named_copyright_is_still_a_heading() -> None:
    doc = parse(f"Tool README\n\nCopyright and licence\n\n{PROSE}\n", "README.txt")
    assert doc.sections == ["Copyright and licence"]


def test_a_copyright_notice_and_a_hyphenated_term_are_kept_as_text() -> None:
    text = ("Users and Groups\n\nJoey Hess\n\nCopyright © 2001, 2002 Joey Hess\n\nCopyright © 2005 David Mandelberg\n\n"
            "This document is free; you can redistribute it under the terms of the licence.\n\npostgres\n\n"
            "Postgresql databases are owned by this user and group.\n\nwww-data\n\n"
            "Some web servers run as www-data. Web content should not be owned by this user.\n\ncomment-portlet\n")
    doc = parse(text, "users.txt")
    assert [b.reason for b in doc.dropped] == ["page widget name"]  # only the CMS part's name
    assert doc.sections == ["postgres", "www-data"]
    body = [_text(doc, b) for b in doc.body]
    assert "Copyright © 2005 David Mandelberg" in body and "Joey Hess" in body
    assert next(b for b in doc.body if _text(doc, b).startswith("Some web servers")).section == "www-data"


def test_a_markdown_pre_block_with_blank_lines_is_one_code_unit() -> None:
    pre = ("<pre># /etc/nsswitch.conf\n\npasswd:         compat\n\nhosts:          files <b>mdns4_minimal "
           "[NOTFOUND=return]</b> dns\nnetworks:       files</pre>")
    text = f"# Setup\n\nOn Debian the hosts line of the file looks like this:\n\n{pre}\n\n{PROSE}\n"
    doc = parse(text, "readme.md")
    assert pre in [_text(doc, b) for b in doc.body]
    assert not any(_text(doc, b).startswith(("passwd:", "hosts:")) for b in doc.body)


def test_run_in_label_is_merged_with_its_sentence_and_names_the_section() -> None:
    text = ("Licence\n\n2. Grant of Copyright License. Subject to the terms of this License, each Contributor "
            "grants You a copyright license. The grant is perpetual.\n")
    doc = parse(text, "licence.txt")
    sentences = [doc.text[s:e] for c in chunk_document(doc) for s, e in c.sentences]
    assert sentences[0].startswith("2. Grant of Copyright License. Subject to the terms")
    assert not any(s.strip() in ("2.", "Grant of Copyright License.", "2. Grant of Copyright License.")
                   for s in sentences)
    assert doc.body[0].section == "2. Grant of Copyright License"


# --- pull quotes, navigation, contact ------------------------------------------------------

BODY_PARA = ("Harbour cities are rebuilding their grids to handle electric ships. The costs are falling faster than "
             "planners expected, and most ports will finish within the decade.")


def test_pull_quote_must_repeat_a_longer_paragraph_verbatim() -> None:
    verbatim = "The costs are falling faster than planners expected."
    paraphrase = "Costs fall faster than any planner expected."
    text = f"Ports\n\n{BODY_PARA}\n\n{verbatim}\n\n{paraphrase}\n\n{BODY_PARA}\n"
    doc = parse(text, "ports.txt")
    kinds = {_text(doc, b): b.kind for b in doc.blocks}
    assert kinds[verbatim] == PULL_QUOTE
    assert kinds[paraphrase] == BODY
    assert sum(_text(doc, b) == BODY_PARA for b in doc.body) == 2  # identical paragraphs are both kept


def test_navigation_is_a_repeated_standalone_line_not_code() -> None:
    code = "    >>> import json\n    >>> json.dumps(1)\n"
    text = "Guide\n\n" + "".join(f"Home\n\n{BODY_PARA}\n\nExample:\n\n{code}\n" for _ in range(3))
    doc = parse(text, "guide.txt")
    assert all(b.kind == BOILERPLATE for b in doc.blocks if _text(doc, b) == "Home")
    assert sum(">>> import json" in _text(doc, b) for b in doc.body) == 3
    assert sum(_text(doc, b) == "Example:" for b in doc.body) == 3


def test_lone_address_line_and_described_mailing_list_are_kept() -> None:
    text = ("Help\n\nAUTHOR\n    Ann Smith <ann@example.org>\n\n"
            "Lists\n\n    help@example.org    General help for users of the tool.\n")
    doc = parse(text, "help.txt")
    _body_with(doc, "Ann Smith <ann@example.org>")
    _body_with(doc, "General help for users")


def test_many_similar_numbered_paragraphs_are_body_not_headings() -> None:
    # How ingestion time grows with document size is measured by `make bench`, not asserted here.
    small = "Title\n\n" + "\n\n".join(
        f"Paragraph {i} says that harbour {i} rebuilt grid {i} to handle electric ships before {i + 1}."
        for i in range(500)) + "\n"
    assert HEADING not in {b.kind for b in parse(small, "x.txt").blocks}


def test_a_man_page_bullet_is_a_list_item_not_a_section() -> None:
    text = ("ZSTD(1)\n\nOPTIONS\n\t   Note: the window log must also be passed to the decompressor.\n\n"
            "       \u25cb   -D DICT: use DICT as Dictionary to compress or decompress FILE(s)\n\n"
            "       \u25cb   --patch-from FILE: Specify the file to be used as a reference point\n"
            "\t   for the diff engine. This is effectively dictionary compression with some\n"
            "\t   convenient parameter selection.\n")
    doc = parse(text, "zstd.txt")
    assert doc.sections == ["OPTIONS"]
    assert any(_text(doc, b).startswith("\u25cb   -D DICT") for b in doc.body)
