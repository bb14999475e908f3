"""Unit tests of the web chat's formatting and handlers: no model, no server.

The render functions are pure (ui.render); the handlers (ui.app.reply, ask,
chat_turn) are driven with a small fake index.
"""

from __future__ import annotations

import html as html_module
import re
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from rag import Answer, Citation, InputError, Passage, Quote, RagError
from ui import render
from ui.render import (
    answer_markdown,
    highlighted,
    paragraph_context,
    render_answer,
    render_notice,
    render_question,
    text_html,
)

# --- a small document with two paragraphs; offsets computed, not typed -----

DOC = (
    "Title\n\n"
    "Japan relies on sea lanes. Taiwan sits on those sea lanes, so its security matters to Japan. "
    "Tokyo therefore watches the strait closely.\n\n"
    "Shipping costs rose after the Red Sea attacks. Insurers raised premiums."
)
SOURCE = "report.txt"
SECTION = "Security"


def cite(text: str, paragraph: int, source: str = SOURCE, doc: str = DOC, section: str | None = SECTION) -> Citation:
    start = doc.index(text)
    return Citation(source, section, paragraph, start, start + len(text))


P1 = ("Japan relies on sea lanes. Taiwan sits on those sea lanes, so its security matters to Japan. "
      "Tokyo therefore watches the strait closely.")
P2 = "Shipping costs rose after the Red Sea attacks. Insurers raised premiums."
# Paragraph 1 is indexed as two passages (as the chunker does for long paragraphs).
P1A, P1B = "Japan relies on sea lanes. Taiwan sits on those sea lanes, so its security matters to Japan.", \
    "Tokyo therefore watches the strait closely."
PASSAGES = [
    Passage("report.txt#1.1", P1A, cite(P1A, 1), 0.9),
    Passage("report.txt#1.2", P1B, cite(P1B, 1), 0.5),
    Passage("report.txt#2", P2, cite(P2, 2), 0.4),
]
Q1 = "Taiwan sits on those sea lanes, so its security matters to Japan."
Q2 = "Shipping costs rose after the Red Sea attacks."


def source_text(source: str) -> str:
    return {SOURCE: DOC}[source]


def an_answer(**changes) -> Answer:
    fields = {
        "question": "Why does Taiwan matter to Japan?",
        "quotes": [Quote(Q1, 0.8, cite(Q1, 1)), Quote(Q2, 0.6, cite(Q2, 2))],
        "passages": PASSAGES[:1] + PASSAGES[2:],
        "abstained": False,
        "message": "",
        "text": f"> “{Q1}” [1]\n>\n> “{Q2}” [2]\n\n[1] report.txt · Security · ¶1\n[2] report.txt · Security · ¶2",
    }
    fields.update(changes)
    return Answer(**fields)


# --- reading the HTML back ----------------------------------------------------


class Tree(HTMLParser):
    """Collects tags, attributes, visible text and the text inside given elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []
        self.open: list[str] = []
        self.inside: dict[str, list[str]] = {}
        self.current: dict[str, list[str]] = {}

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))
        if tag not in ("br",):
            self.open.append(tag)
            self.current.setdefault(tag, []).append("")

    def handle_endtag(self, tag):
        if tag in self.open:
            self.open.remove(tag)
            done = self.current[tag].pop()
            self.inside.setdefault(tag, []).append(done)

    def handle_data(self, data):
        self.text.append(data)
        for tag in self.open:
            self.current[tag][-1] += data


def parse(html: str) -> Tree:
    tree = Tree()
    tree.feed(html)
    tree.close()
    return tree


def visible(html: str) -> str:
    return "".join(parse(html).text)


SAFE_TAGS = {"div", "p", "blockquote", "sup", "details", "summary", "span", "mark", "br", "button"}  # button: [n] and copy


def assert_inert(html: str) -> None:
    """Only our own tags, only class attributes, nothing Markdown could turn into a link or image."""
    tree = parse(html)
    for tag, attrs in tree.tags:
        assert tag in SAFE_TAGS, f"unexpected <{tag}> in {html[:200]}"
        assert all(name == "class" for name, _ in attrs), f"unexpected attribute on <{tag}>: {attrs}"
    assert "\n" not in html, "a raw line break could end the HTML block and let Markdown in"
    md = MarkdownIt("commonmark").enable("table").enable("strikethrough")
    rendered = md.render(html)
    assert "<a " not in rendered and "<img" not in rendered and "<script" not in rendered


# --- answers ------------------------------------------------------------------


def test_quotes_are_block_quotes_with_numbered_markers():
    html = render_answer(an_answer(), source_text, PASSAGES)
    tree = parse(html)
    quotes = tree.inside["blockquote"]
    assert len(quotes) == 2
    assert Q1 in quotes[0] and "[1]" in quotes[0]
    assert Q2 in quotes[1] and "[2]" in quotes[1]
    assert tree.inside["sup"] == ["[1]", "[2]"]
    assert_inert(html)


def test_each_citation_opens_its_paragraph_with_the_quote_marked():
    html = render_answer(an_answer(), source_text, PASSAGES)
    tree = parse(html)
    summaries = tree.inside["summary"]
    assert summaries == ["[1] report.txt · Security · ¶1", "[2] report.txt · Security · ¶2"]
    details = tree.inside["details"]
    # The whole paragraph 1 (made of two passages) is the context, not just the quote.
    assert P1 in details[0]
    assert P2 in details[1]
    assert tree.inside["mark"] == [Q1, Q2]
    assert f"characters {cite(Q1, 1).start}–{cite(Q1, 1).end}" in details[0]


def test_without_the_index_the_retrieved_passage_is_the_context():
    html = render_answer(an_answer())
    tree = parse(html)
    assert P1A in tree.inside["details"][0]
    assert P1B not in tree.inside["details"][0]
    assert tree.inside["mark"] == [Q1, Q2]


def test_mark_is_placed_by_offsets_and_only_when_they_hold_the_quote():
    context = paragraph_context(cite(Q1, 1), PASSAGES, source_text)
    assert context is not None and context.text == P1
    marked = parse(highlighted(context, cite(Q1, 1), Q1))
    assert marked.inside["mark"] == [Q1]
    # The same words elsewhere in the context are not marked: "sea lanes" occurs twice.
    first = Citation(SOURCE, SECTION, 1, DOC.index("sea lanes"), DOC.index("sea lanes") + 9)
    second_at = DOC.index("sea lanes", first.end)
    second = Citation(SOURCE, SECTION, 1, second_at, second_at + 9)
    html = highlighted(context, second, "sea lanes")
    assert html.index("<mark") > html.index("sea lanes")
    # Offsets that do not hold the quote: no mark rather than a wrong one.
    assert "<mark" not in highlighted(context, first, "something else")


def test_abstention_reads_plainly_with_related_passages_labelled():
    result = an_answer(quotes=[], abstained=True, message="The documents do not answer this question.",
                       text="The documents do not answer this question.")
    html = render_answer(result, source_text, PASSAGES)
    text = visible(html)
    assert "The documents do not answer this question." in text
    assert "related, not an answer" in text.lower()
    assert "<blockquote" not in html and "<mark" not in html
    assert "report.txt · Security · ¶1" in text
    assert_inert(html)


def test_abstention_without_passages_is_just_the_message():
    result = an_answer(quotes=[], passages=[], abstained=True, message="The documents do not answer this question.")
    assert visible(render_answer(result)) == "The documents do not answer this question."


def test_truncation_note_is_shown_above_the_quotes():
    html = render_answer(an_answer(message="Your question was long, so it was shortened.", truncated=True))
    assert visible(html).startswith("Your question was long, so it was shortened.")


# --- safety ---------------------------------------------------------------------

HOSTILE = [
    '<script>alert("x")</script>',
    '<img src="http://tracker.invalid/p.png" onerror="alert(1)">',
    "[click](javascript:alert(1))",
    "![](http://tracker.invalid/pixel.png)",
    "<https://tracker.invalid/autolink>",
    "www.tracker.invalid and http://tracker.invalid/x",
    "$$\\int x$$ and ```mermaid\ngraph TD; A-->B\n```",
    "line one\n\n# not a heading\n\n<div>after a blank line</div>",
    "&lt;b&gt; already escaped &amp; entity &#60;script&#62;",
    '" onmouseover="alert(1)',
]


@pytest.mark.parametrize("evil", HOSTILE)
def test_text_html_displays_literally_and_is_inert(evil):
    html = text_html(evil)
    assert visible(html) == evil.replace("\n", "")  # line breaks become <br>
    assert html.count("<br>") == evil.count("\n")
    assert_inert(f"<p>{html}</p>")


@pytest.mark.parametrize("evil", HOSTILE)
def test_hostile_document_text_in_quotes_sections_and_context_is_escaped(evil):
    doc = f"Intro.\n\nThe port grew. {evil} Cranes arrive in spring.\n"
    para = f"The port grew. {evil} Cranes arrive in spring."
    source = "evil<b>.md"
    section = f"Section {evil}"
    para_cite = cite(para, 1, source, doc, section)
    quote_cite = cite(f"{evil} Cranes arrive in spring.", 1, source, doc, section)
    result = Answer("q", [Quote(doc[quote_cite.start:quote_cite.end], 0.9, quote_cite)],
                    [Passage("p", para, para_cite, 0.9)], False)
    html = render_answer(result, lambda s: doc, result.passages)
    assert_inert(html)
    tree = parse(html)
    # Shown reflowed (a line break inside a paragraph reads as a space); hard breaks are <br>.
    assert tree.inside["mark"] == [render.reflow(doc[quote_cite.start:quote_cite.end]).replace("\n", "")]
    assert section.replace("\n", "") in tree.inside["summary"][0]
    assert "evil<b>.md" in tree.inside["summary"][0]
    # Abstentions show passage text too.
    abstained = Answer("q", [], [Passage("p", para, para_cite, 0.9)], True, "No answer.")
    assert_inert(render_answer(abstained))


def test_escaping_is_not_just_angle_brackets():
    """Escaping only <>& would leave Markdown links and images live: check they are neutralised."""
    html = text_html("![](http://tracker.invalid/x.png) [x](javascript:alert(1))")
    assert "](" not in html and "javascript:" not in html and "http://" not in html


@pytest.mark.parametrize("evil", HOSTILE)
def test_question_is_shown_as_text(evil):
    html = render_question(evil)
    assert visible(html) == " ".join(evil.split())
    assert_inert(html)


def test_notice_is_escaped():
    html = render_notice("unknown document(s) <img src=x>; the index holds a.txt.")
    assert visible(html) == "unknown document(s) <img src=x>; the index holds a.txt."
    assert_inert(html)


@pytest.mark.parametrize("weak", [lambda text: text, html_module.escape], ids=["no-escaping", "html-escape-only"])
def test_weaker_escaping_is_caught(monkeypatch, weak):
    """Guard for the guard: with no escaping, or with only <>&"' escaped, the safety checks fail."""
    monkeypatch.setattr(render, "text_html", weak)
    evil = "Cranes arrive.\n\n![](http://tracker.invalid/pixel.png) [x](javascript:alert(1)) <img src=x onerror=alert(1)>"
    doc = f"Intro.\n\n{evil}\n"
    c = cite(evil, 1, "a.md", doc)
    result = Answer("q", [Quote(evil, 0.9, c)], [Passage("p", evil, c, 0.9)], False)
    with pytest.raises(AssertionError):
        assert_inert(render.render_answer(result, lambda s: doc, result.passages))


# --- Markdown for copying -------------------------------------------------------


def test_answer_markdown_has_question_quotes_markers_and_offsets():
    result = an_answer()
    md = answer_markdown(result)
    assert md.startswith("**Question:** Why does Taiwan matter to Japan?")
    assert result.text in md
    c1, c2 = cite(Q1, 1), cite(Q2, 2)
    assert f"[1] report.txt, characters {c1.start}–{c1.end}" in md
    assert f"[2] report.txt, characters {c2.start}–{c2.end}" in md


def test_answer_markdown_for_an_abstention_has_no_offsets():
    result = an_answer(quotes=[], abstained=True, message="No.", text="The documents do not answer this question.")
    md = answer_markdown(result)
    assert "The documents do not answer this question." in md and "characters" not in md


# --- handlers, with a fake index ---------------------------------------------------


OTHER_DOC = "Harbour Notes\n\nThe harbour grew in 2023 because more ships called there than ever before.\n"


class FakeIndex:
    """Enough of an Index for the app: two documents, their texts, passages and a manifest."""

    def __init__(self, error: Exception | None = None):
        from types import SimpleNamespace

        self.sources = [SOURCE, "other.txt"]
        self.passages = PASSAGES
        self.error = error
        self.calls: list[tuple[str, object, object]] = []
        self.manifest = SimpleNamespace(sources={SOURCE: "a" * 64, "other.txt": "b" * 64}, files={"passages": "p-1"},
                                        skipped=[], seeds_dir="/nonexistent")
        self.documents = SimpleNamespace(extracted={})

    def source_text(self, source: str) -> str:
        return {SOURCE: DOC, "other.txt": OTHER_DOC}[source]

    def text_of(self, source: str) -> str:
        return self.source_text(source)

    def passages_of(self, source: str) -> list[Passage]:
        return [p for p in self.passages if p.citation.source == source]

    def answer(self, question, k=5, *, sources=None):
        self.calls.append((question, k, sources))
        if self.error:
            raise self.error
        if not isinstance(k, int):
            raise InputError(f"k must be a whole number of passages (1 or more), got {k!r}.")
        return an_answer(question=question)


@pytest.fixture(scope="module")
def app_module():
    from ui import app

    return app


def test_reply_renders_the_answer_and_its_markdown(app_module):
    index = FakeIndex()
    html, md = app_module.reply(index, "Why does Taiwan matter to Japan?", 5.0, [SOURCE, "other.txt"])
    assert index.calls == [("Why does Taiwan matter to Japan?", 5, None)]  # slider float → int; all docs → None
    assert parse(html).inside["mark"] == [Q1, Q2]
    assert md.startswith("**Question:**")


def test_reply_passes_a_document_filter(app_module):
    index = FakeIndex()
    app_module.reply(index, "q", 3, ["other.txt"])
    assert index.calls == [("q", 3, ["other.txt"])]


@pytest.mark.parametrize("error", [InputError("question is blank; type a question."),
                                   RagError("Index is stale <b>; run `rag build`.")])
def test_library_errors_become_polite_messages(app_module, error):
    html, md = app_module.reply(FakeIndex(error), "q", 5, None)
    assert visible(html) == str(error)
    assert md == ""
    assert_inert(html)


def test_unexpected_errors_never_show_a_traceback(app_module):
    html, _ = app_module.reply(FakeIndex(RuntimeError("secret internal detail")), "q", 5, None)
    assert visible(html) == app_module.FAILED
    assert "secret" not in html and "Traceback" not in html


def test_no_document_selected_is_explained(app_module):
    index = FakeIndex()
    html, _ = app_module.reply(index, "q", 5, [])
    assert visible(html) == app_module.NO_SOURCES
    assert index.calls == []


def test_chat_turn_appends_to_the_session_history(app_module):
    history, _ = app_module.chat_turn(FakeIndex(), "first <b>?</b>", [], 5, None)
    history, _ = app_module.chat_turn(FakeIndex(), "second?", history, 5, None)
    assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant"]
    assert visible(history[0]["content"]) == "first <b>?</b>"
    assert visible(history[2]["content"]) == "second?"


def test_ask_returns_the_answer_as_plain_json(app_module):
    import json

    data = app_module.ask(FakeIndex(), "Why does Taiwan matter to Japan?", 5, None)
    assert json.loads(json.dumps(data)) == data
    assert data["question"] == "Why does Taiwan matter to Japan?"
    assert data["quotes"][0]["citation"]["start"] == cite(Q1, 1).start


def test_ask_turns_errors_into_gradio_errors(app_module):
    import gradio as gr

    with pytest.raises(gr.Error, match="question is blank"):
        app_module.ask(FakeIndex(InputError("question is blank")), " ", 5, None)
    with pytest.raises(gr.Error) as info:
        app_module.ask(FakeIndex(RuntimeError("secret")), "q", 5, None)
    assert "secret" not in str(info.value)


def test_launch_options_are_local_private_and_serve_no_files():
    from ui import server as server_module

    options = server_module._launch_options("127.0.0.1", 7860)
    assert options["share"] is False
    assert options["server_name"] == "127.0.0.1"
    assert not options["allowed_paths"]
    assert options["mcp_server"] is False
    import inspect

    assert inspect.signature(server_module.launch).parameters["host"].default == "127.0.0.1"


def test_build_app_exposes_ask_and_takes_its_words_from_the_documents(app_module):
    demo = app_module.build_app(FakeIndex())
    config = demo.get_config_file()
    names = [d.get("api_name") for d in config["dependencies"]]
    assert "ask" in names
    chatbot = next(c for c in config["components"] if c.get("props", {}).get("elem_id") == "rag-chat")
    box = next(c for c in config["components"] if c.get("props", {}).get("elem_id") == "rag-question")
    # Asking and the examples wait for the page's load, which restores the stored conversation first.
    assert not chatbot["props"].get("examples") and box["props"]["interactive"] is False
    restore = next(f for f in demo.fns.values() if f.name == "restore")
    out = restore.fn([], {})
    loaded, box_loaded = out[0], out[5]
    examples = [e["text"] for e in loaded["examples"]]
    # One question per document in turn: the first from report.txt's only section, then from other.txt's title.
    assert examples == ["What does Title say about Security?", "What is Harbour Notes about?"]
    assert box_loaded["interactive"] is True and loaded["value"] == []
    assert config["title"] == "Ask 2 documents"
    assert chatbot["props"]["placeholder"] == "Ask a question about Title, Harbour Notes, or pick an example."
    assert chatbot["props"]["latex_delimiters"] == []
    checkboxes = next(c for c in config["components"] if c.get("type") == "checkboxgroup")
    assert checkboxes["props"]["visible"] is True  # two documents: the filter is offered
    assert [c[1] for c in checkboxes["props"]["choices"]] == [SOURCE, "other.txt"]


def test_the_page_names_the_one_document_it_serves(app_module):
    index = FakeIndex()
    index.sources = [SOURCE]
    config = app_module.build_app(index).get_config_file()
    assert config["title"] == "Ask Title"
    checkboxes = next(c for c in config["components"] if c.get("type") == "checkboxgroup")
    # The list shows what is indexed even when there is nothing to filter: title, kind, size and file name.
    assert [tuple(c) for c in checkboxes["props"]["choices"]] == [
        (f"Title — text, {len(DOC.split())} words · report.txt", SOURCE)]


def test_markers_are_numbered_in_quote_order():
    html = render_answer(an_answer())
    assert re.findall(r"\[(\d)\]", visible(html)) == ["1", "2", "1", "2"]


def test_ask_and_reply_share_one_document_filter(app_module):
    import gradio as gr

    index = FakeIndex()
    app_module.ask(index, "q", 5, [SOURCE, "other.txt"])
    app_module.ask(index, "q", 5, ["other.txt"])
    assert [call[2] for call in index.calls] == [None, ["other.txt"]]  # all documents → no filter
    with pytest.raises(gr.Error, match="list of document names"):
        app_module.ask(index, "q", 5, "other.txt")  # a bare string is not split into characters
    html, md = app_module.reply(index, "q", 5, [])
    assert "Select at least one document" in html and md == ""
