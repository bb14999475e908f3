"""The document list and the page's words, as pure functions (ui.documents), and the chat's stored turns."""

from __future__ import annotations

import dataclasses

from test_ui import Tree, an_answer, parse

from rag.service.live import Status
from ui import documents as view
from ui.catalog import DocumentInfo
from ui.chat import answer_from_dict, messages, valid_turns


def info(source: str, title: str, sections: tuple[tuple[str, int], ...] = (), kind: str = "text",
         pages: int | None = None, words: int = 120) -> DocumentInfo:
    return DocumentInfo(source, title, kind, pages, words, sum(n for _, n in sections) or 1, sections)


REPORT = info("report.txt", "Japan-NATO Alignment", (("Cybersecurity and Disinformation", 4), ("Contents", 9),
                                                     ("Sea Lines of Communication", 6)))
FAQ = info("faq.txt", "Valgrind FAQ", (("1.2. Where does the name come from?", 2), ("2. Compiling", 1)))
PAPER = info("uploads/paper.pdf", "paper", kind="pdf", pages=12)
ALL = (REPORT, FAQ, PAPER)


def test_labels_name_title_kind_size_and_file():
    assert view.label(REPORT) == "Japan-NATO Alignment — text, 120 words · report.txt"
    assert view.label(PAPER) == "paper — PDF, 12 pages · uploads/paper.pdf"


def test_search_shows_documents_with_every_word_in_title_name_or_kind():
    assert [i.source for i in view.shown(ALL, "nato")] == ["report.txt"]
    assert [i.source for i in view.shown(ALL, "pdf")] == ["uploads/paper.pdf"]
    assert [i.source for i in view.shown(ALL, "valgrind faq")] == ["faq.txt"]
    assert view.shown(ALL, "valgrind nato") == []
    assert view.shown(ALL, "") == list(ALL)


def test_ticks_of_hidden_documents_survive_a_search():
    excluded = ["faq.txt"]
    # Searching for the report and unticking it keeps the FAQ unticked (it was hidden, not ticked).
    assert view.excluded_after(ALL, "nato", excluded, []) == ["faq.txt", "report.txt"]
    assert view.excluded_after(ALL, "nato", ["faq.txt", "report.txt"], ["report.txt"]) == ["faq.txt"]
    assert view.ticked(ALL, "", ["faq.txt"]) == ["report.txt", "uploads/paper.pdf"]


def test_search_scope_is_all_unless_something_is_unticked():
    sources = [i.source for i in ALL]
    assert view.search_scope(sources, []) is None
    assert view.search_scope(sources, ["gone.txt"]) is None  # a document no longer indexed changes nothing
    assert view.search_scope(sources, ["faq.txt"]) == ["report.txt", "uploads/paper.pdf"]
    assert view.search_scope(sources, sources) == []
    # New documents are searched: only what the user unticked is left out.
    assert view.search_scope([*sources, "uploads/new.txt"], ["faq.txt"]) == [
        "report.txt", "uploads/paper.pdf", "uploads/new.txt"]


def test_scope_note_names_what_was_searched():
    assert view.scope_note(ALL, None) == ""
    assert view.scope_note(ALL, ["report.txt"]) == "Searched 1 of 3 documents: Japan-NATO Alignment."


def test_examples_come_from_headings_one_document_at_a_time():
    assert view.example_questions(ALL) == [
        "What does Japan-NATO Alignment say about Sea Lines of Communication?",  # its best-covered real section
        "Where does the name come from?",  # an FAQ's question as it stands, numbering dropped
        "What is paper about?",  # no sections: its title
    ]


def test_headings_and_titles_with_markup_never_reach_the_page_words():
    evil = info("evil.md", '<img src=x onerror="alert(1)">', (("Traffic <script>x()</script>", 5),
                                                              ("[click](javascript:alert(1))", 4), ("Harbours", 1)))
    examples = view.example_questions([evil])
    assert examples == ["What does evil say about Harbours?"]
    assert view.title([evil]) == "Ask evil" and "<" not in view.placeholder([evil])


def test_title_and_placeholder_follow_the_documents():
    assert view.title([REPORT]) == "Ask Japan-NATO Alignment"
    assert view.title(ALL) == "Ask 3 documents"
    assert view.placeholder(ALL) == "Ask a question about Japan-NATO Alignment, Valgrind FAQ, paper, or pick an example."
    assert "No documents" in view.placeholder(())


def test_status_shows_progress_pending_documents_and_failures_escaped():
    indexing = Status("indexing", 120, 480, "embedding", "Indexing 1 changed document: embedding 480 passages",
                      "v1", ("uploads/<b>new</b>.pdf",))
    tree = parse(view.status_html(indexing))
    assert ("progress", [("class", "rag-progress"), ("max", "480"), ("value", "120")]) in tree.tags
    assert "uploads/<b>new</b>.pdf indexing…" in "".join(tree.text)
    assert "b" not in [tag for tag, _ in tree.tags]
    failed = Status("failed", 0, 0, "", "Could not update the index: <disk full>", "v1", ())
    assert "Could not update the index: <disk full>" in "".join(parse(view.status_html(failed)).text)
    assert view.status_html(Status("ready", 0, 0, "", "", "v1", ())) == ""
    skipped = view.status_html(Status("ready", 0, 0, "", "", "v1", ()), [{"source": "x.exe", "reason": "unsupported"}])
    assert "x.exe: unsupported" in "".join(parse(skipped).text)


def test_stored_turns_render_again_and_bad_ones_are_dropped():
    answer = an_answer()
    good = {"question": "Why does Taiwan matter to Japan?", "answer": dataclasses.asdict(answer), "scope": ""}
    notice = {"question": "?", "answer": None, "notice": "question is blank"}
    bad = [None, 3, {"question": 5}, {"question": "q", "answer": {"quotes": "nope"}}, "text"]
    assert answer_from_dict(good["answer"]) == answer
    turns = valid_turns([good, *bad, notice])
    assert turns == [good, notice]
    assert valid_turns("not a list") == []

    class Index:
        passages = answer.passages

        def passages_of(self, source):
            return [p for p in self.passages if p.citation.source == source]

        def source_text(self, source):
            raise KeyError(source)  # the document is gone: each source shows the passage instead

    shown = messages(Index(), [good, notice])
    assert [m["role"] for m in shown] == ["user", "assistant", "user", "assistant"]
    assert isinstance(parse(shown[1]["content"]), Tree) and "rag-quote" in shown[1]["content"]
    assert "question is blank" in shown[3]["content"]
