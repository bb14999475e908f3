"""End to end in headless Chromium: ask in the web chat, read the quotes, open a source.

Serves the app on 127.0.0.1 (free port) over a small real index: the report
from seeds/ plus a hostile Markdown document whose text and section title hold
HTML, script and Markdown link/image tricks. Saves a screenshot of an answer
to artifacts/browser-answer.png (and the hostile document's answer to
artifacts/browser-hostile.png).

Needs /usr/bin/chromium (Debian: `apt-get install -y chromium`); skipped
without it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import report_and, serving

from ui.catalog import catalog
from ui.documents import example_questions

pytestmark = [pytest.mark.model, pytest.mark.browser,
              pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parent.parent.parent
ARTIFACTS = ROOT / "artifacts"
REPORT = "japan-nato-alignment.txt"
WAIT_MS = 60_000  # an upper bound for slow machines, not a performance assertion

HOSTILE = "harbour.md"
HOSTILE_TEXT = """# Harbour report

## Traffic <script>window.__pwned = "heading"</script>

The harbour authority said that <script>window.__pwned = 1</script> shipping traffic through the northern canal doubled in 2023, and <img src="http://tracker.invalid/pixel.png" onerror="window.__pwned=2"> officials expect further growth in container volumes next year.

Port officials explained that the new crane contracts [click here](javascript:window.__pwned=3) were signed after a long tender, and ![tracker](http://tracker.invalid/img.png) the cranes will arrive in spring with $$\\int x$$ more lifting capacity for the docks.

The fishing fleet has shrunk by a third since 2010 because younger people prefer jobs in the growing logistics sector around the harbour.
"""


def squash(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return report_and(tmp_path_factory, HOSTILE, HOSTILE_TEXT)


@pytest.fixture(scope="module")
def url(index):
    with serving(index) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing; install it with `apt-get install -y chromium`")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Page:
    """A fresh tab on the app that records dialogs, foreign requests and page errors."""

    def __init__(self, browser, url: str):
        self.url = url
        self.context = browser.new_context(viewport={"width": 1280, "height": 1150})
        self.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url.rstrip("/"))
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.foreign: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("request", lambda r: None if r.url.startswith(url) or r.url.startswith("data:")
                     else self.foreign.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.set_default_timeout(WAIT_MS)
        self.page.goto(url, wait_until="load")
        self.page.wait_for_selector("#rag-question textarea")

    def ask(self, question: str):
        answers = self.page.locator(".rag-answer")
        before = answers.count()
        box = self.page.locator("#rag-question textarea")
        box.fill(question)
        box.press("Enter")
        self.page.wait_for_function(f"document.querySelectorAll('.rag-answer').length > {before}")
        return answers.nth(before)


@pytest.fixture
def page(browser, url):
    tab = Page(browser, url)
    try:
        yield tab
    finally:
        tab.context.close()


def test_answer_shows_verbatim_quotes_citations_and_sources_in_context(page, index):
    from playwright.sync_api import expect

    expected = index.answer("Why does Taiwan matter to Japan?", 5)
    assert not expected.abstained and expected.quotes

    # Example questions on first load, from the documents' own headings and titles.
    examples = example_questions(catalog(index))
    assert len(examples) == 3 and any(e.startswith("What does Japan-NATO Alignment say about ") for e in examples)
    assert not any("<" in e for e in examples)  # the hostile heading never becomes an example
    for example in examples:
        expect(page.page.get_by_text(example, exact=True).first).to_be_visible()
    expect(page.page.locator("#rag-title")).to_contain_text("Ask 2 documents")

    answer = page.ask("Why does Taiwan matter to Japan?")
    quotes = answer.locator("blockquote.rag-quote")
    expect(quotes).to_have_count(len(expected.quotes))
    first = expected.quotes[0]
    expect(quotes.first).to_be_visible()
    assert squash(first.text) in squash(quotes.first.inner_text())
    assert "[1]" in quotes.first.inner_text()

    summaries = answer.locator("details.rag-source summary")
    expect(summaries).to_have_count(len(expected.quotes))
    expect(summaries.first).to_be_visible()
    assert squash(summaries.first.inner_text()) == f"[1] {first.citation.label()}"

    # Collapsed until opened; opening shows the paragraph with the exact quote highlighted.
    mark = answer.locator("details.rag-source").first.locator("mark")
    expect(mark).to_be_hidden()
    summaries.first.click()
    expect(mark).to_be_visible()
    assert squash(mark.inner_text()) == squash(first.text)
    context = answer.locator("details.rag-source").first.locator(".rag-context").inner_text()
    assert len(squash(context)) > len(squash(first.text))  # the quote in its context, not alone
    expect(answer.locator(".rag-offsets").first).to_have_text(
        f"characters {first.citation.start}–{first.citation.end}")

    # Each answer's copy button copies it as Markdown, with the quotes exactly as in the document.
    answer.locator(".rag-copy").click()
    expect(answer.locator(".rag-copy")).to_have_text("Copied")
    copied = page.page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("**Question:** Why does Taiwan matter to Japan?")
    assert expected.text in copied
    assert f"[1] {first.citation.source}, characters {first.citation.start}–{first.citation.end}" in copied

    ARTIFACTS.mkdir(exist_ok=True)
    answer.scroll_into_view_if_needed()
    page.page.screenshot(path=str(ARTIFACTS / "browser-answer.png"), full_page=True)

    # History is kept within the session: a second question adds to the chat.
    second = page.ask("How did the Red Sea attacks affect shipping costs?")
    expect(second.locator("blockquote.rag-quote").first).to_contain_text("shipping costs")
    expect(page.page.locator(".rag-question")).to_have_count(2)
    assert page.errors == [] and page.dialogs == [] and page.foreign == []


def test_example_question_can_be_clicked_and_the_chat_cleared(page, index):
    from playwright.sync_api import expect

    example = example_questions(catalog(index))[0]
    expected = index.answer(example, 5)
    page.page.get_by_text(example, exact=True).first.click()
    page.page.wait_for_selector(".rag-answer")
    expect(page.page.locator(".rag-question")).to_have_text(example)
    if expected.abstained:
        expect(page.page.locator(".rag-answer .rag-abstain")).to_be_visible()
    else:
        shown = page.page.locator(".rag-answer blockquote.rag-quote").first
        expect(shown).to_be_visible()
        assert squash(expected.quotes[0].text) in squash(shown.inner_text())

    # Clearing the chat empties this session's history and brings the examples back.
    page.page.locator("#rag-chat").get_by_role("button", name="Clear").click()
    expect(page.page.locator(".rag-answer")).to_have_count(0)
    expect(page.page.get_by_text(example, exact=True).first).to_be_visible()
    page.ask("Why does Taiwan matter to Japan?")
    expect(page.page.locator(".rag-question")).to_have_count(1)


def test_unanswerable_question_reads_plainly(page):
    from playwright.sync_api import expect

    answer = page.ask("What is the recipe for a chocolate souffle?")
    expect(answer.locator(".rag-abstain")).to_have_text("The documents do not answer this question.")
    expect(answer.locator("blockquote")).to_have_count(0)
    expect(answer).to_contain_text("related, not an answer")


def test_hostile_question_and_document_text_display_as_text_and_run_nothing(page, index):
    from playwright.sync_api import expect

    # 1. A plain question whose answer quotes the hostile document (searched alone).
    question = "When will the cranes arrive?"
    expected = index.answer(question, 5, sources=[HOSTILE])
    assert not expected.abstained and "javascript:" in expected.quotes[0].text  # the test exercises escaping

    page.page.get_by_label(REPORT).uncheck()  # search the hostile document only
    answer = page.ask(question)
    quote = answer.locator("blockquote.rag-quote").first
    assert squash(expected.quotes[0].text) in squash(quote.inner_text())
    summary = answer.locator("details.rag-source summary").first
    expect(summary).to_contain_text('Traffic <script>window.__pwned = "heading"</script>')
    summary.click()
    mark = answer.locator("mark").first
    expect(mark).to_be_visible()
    assert squash(mark.inner_text()) == squash(expected.quotes[0].text)

    # 2. A hostile question: shown exactly as typed, whatever the library answers.
    evil = ("When will the cranes arrive? <img src=http://tracker.invalid/q.png onerror=window.__pwned=4> "
            "[x](javascript:window.__pwned=5) ![](http://tracker.invalid/q2.png) <script>window.__pwned=6</script>")
    page.ask(evil)
    expect(page.page.locator(".rag-question").last).to_have_text(squash(evil))

    ARTIFACTS.mkdir(exist_ok=True)
    page.page.screenshot(path=str(ARTIFACTS / "browser-hostile.png"), full_page=True)

    chat = page.page.locator("#rag-chat")
    for tag in ("img", "a", "script", "iframe", ".katex"):
        assert chat.locator(f".rag-answer {tag}, .rag-question {tag}").count() == 0, tag
    assert page.page.evaluate("window.__pwned") is None
    assert page.dialogs == []
    assert page.foreign == []  # nothing loaded from anywhere but the app (no tracker pixel)


def test_a_question_asked_while_the_page_is_still_loading_is_kept(browser, hash_index, monkeypatch):
    """The page's load handler restores the stored conversation; when it ran slowly (a busy server), it used
    to replace an answer given meanwhile with the empty stored one. Asking now waits for it."""
    import time

    from playwright.sync_api import expect

    import ui.documents as docs_view

    status_html = docs_view.status_html

    def slow(*args, **kwargs):  # the load handler renders the status line; make that load take seconds
        time.sleep(3)
        return status_html(*args, **kwargs)

    monkeypatch.setattr(docs_view, "status_html", slow)
    with serving(hash_index) as url:
        tab = Page(browser, url)
        try:
            answer = tab.ask("Which port connected its terminals to shore power?")
            expect(answer.locator("blockquote.rag-quote").first).to_contain_text("Rotterdam")
            tab.page.wait_for_timeout(4_000)  # past the slow load
            expect(tab.page.locator(".rag-answer")).to_have_count(1)
            expect(tab.page.locator("#rag-question textarea")).to_be_focused()
        finally:
            tab.context.close()
