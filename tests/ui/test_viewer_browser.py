"""The page viewer and the chat's weight, in headless Chromium, over the report printed to PDF and over a scan of it.

One server (127.0.0.1, free port) over the report as a PDF plus a short text
file, indexed with the hash embedder (fast; these tests are about the page,
not ranking). A quote's [n] opens its page in the viewer: the highlight in
view, zoom by button and ctrl+wheel, previous and next page from the page
route, Esc to close, the whole screen on a phone (390×844).

A scanned page (a page of the printed report rasterised by `pdftoppm -r 150`
and rebuilt as an image-only PDF, read by OCR at build time) is opened the
same way at desktop and phone widths, its quote highlighted in view: the
screenshots artifacts/viewer-desktop.png and viewer-phone.png, or docs/ with
`make screenshots`. Skipped without Tesseract.

The chat's weight: twenty questions in one conversation, the bytes the
browser receives for each counted from Chromium's own network events (CDP),
printed (response bodies; requests separately), and held to PER_QUESTION bytes and to no growth with the
conversation's length (a least-squares slope of at most GROWTH bytes a question).

Needs /usr/bin/chromium (Debian: `apt-get install -y chromium`); skipped without it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import quiet, serving
from format_fixtures import CHROMIUM as PRINTER
from format_fixtures import print_pdf, report_html
from scan_fixtures import Scans, image_pdf
from test_browser import WAIT_MS, Page, browser  # noqa: F401 - browser: the shared Chromium fixture

import rag
from rag.embed.model import HashEmbedder
from rag.readers import ocr

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

ROOT = Path(__file__).resolve().parent.parent.parent
SHOTS = Path(os.environ.get("RAG_SCREENSHOTS") or ROOT / "artifacts")
PER_QUESTION = 50_000  # bytes a question may cost the browser, however long the conversation
GROWTH = 400  # bytes a question may cost more for each earlier answer (answers differ in length: noise, not growth)
QUESTIONS = [
    "Why does Taiwan matter to Japan?", "What did NATO decide at the summit?", "How does China view the alignment?",
    "What are the obstacles to closer cooperation?", "Which steps should Japan and NATO take?",
    "Why do sea lines of communication matter?", "How do Japan and NATO cooperate on cybersecurity?",
    "What is said about disinformation?", "Which emerging and disruptive technologies are named?",
    "What is Japan's security environment like?", "What role does Russia play?", "How does North Korea threaten Japan?",
    "What partnership documents were signed?", "How much does Japan spend on defence?",
    "What does the report say about the Indo-Pacific?", "Who wrote the report?", "What is the Individually Tailored Partnership Programme?",
    "How does the war in Ukraine affect Japan?", "What does the report recommend on space?",
    "How could Europe and Japan share intelligence?",
]
SCAN = "scanned-report.pdf"
SCAN_PAGE = 2  # the report's page scanned: it tells what the sea lines of communication carry
SCAN_QUESTION = "How many trillion US dollars in imports and exports do these critical arteries transport each year?"
NOTE_TEXT = "Harbour notes\n\nThe harbour authority said that shipping traffic doubled in 2023.\n"


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    if PRINTER is None:
        pytest.skip("needs Debian's chromium to print the report to PDF (`apt-get install -y chromium`)")
    root = tmp_path_factory.mktemp("viewer")
    html_text, _ = report_html(1)
    printed = print_pdf(html_text, root, "report")
    seeds = root / "seeds"
    seeds.mkdir()
    shutil.move(printed, seeds / "report.pdf")
    (seeds / "notes.txt").write_text(NOTE_TEXT, "utf-8")
    index = rag.build_index(seeds, root / "index", embedder=HashEmbedder(), log=quiet)
    with serving(index) as served:
        yield served


@pytest.fixture(scope="module")
def scan_url(tmp_path_factory):
    """A server over one scanned page: no text layer, so the build reads it by OCR."""
    if ocr.missing():
        pytest.skip(ocr.missing())
    if PRINTER is None:
        pytest.skip("needs Debian's chromium to print the report to PDF (`apt-get install -y chromium`)")
    root = tmp_path_factory.mktemp("scan")
    seeds = root / "seeds"
    seeds.mkdir()
    (seeds / SCAN).write_bytes(image_pdf([Scans(root).picture(SCAN_PAGE, dpi=150)], dpi=150))
    index = rag.build_index(seeds, root / "index", embedder=HashEmbedder(), log=quiet)
    with serving(index) as served:
        yield served


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"viewer-{name}.png"))


def viewer_state(page) -> dict:
    return page.evaluate("""() => {
      const box = document.querySelector('#rag-viewer'), scroll = box.querySelector('.rag-viewer-scroll');
      const img = box.querySelector('img'), mark = box.querySelector('.rag-viewer-mark');
      const r = (e) => { const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
      return {page: Number(box.dataset.ready || 0), shown: img.getBoundingClientRect().width,
              natural: img.naturalWidth, box: r(box), view: r(scroll), mark: mark.hidden ? null : r(mark),
              where: box.querySelector('.rag-viewer-where').textContent};
    }""")


def inside(inner: list[float], outer: list[float]) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def open_first_page_quote(tab: Page, questions: list[str] = QUESTIONS, source: str = "report.pdf"):
    """Ask until an answer quotes the PDF; click that quote's [n]; wait for the viewer's page."""
    from playwright.sync_api import expect

    for question in questions:
        answer = tab.ask(question)
        pictures = answer.locator("details.rag-source img.rag-page")
        if pictures.count():
            break
    else:
        pytest.fail("no answer quoted the PDF")
    sources = answer.locator("details.rag-source")
    n = next(i for i in range(sources.count()) if sources.nth(i).locator("img.rag-page").count())
    src = pictures.first.get_attribute("src") or ""
    assert src.startswith(f"rag/page?source={source}&page=") and "base64" not in src
    assert pictures.first.get_attribute("loading") == "lazy"
    page_number = int(src.split("&page=")[1].split("&")[0])
    answer.locator(".rag-cite").nth(n).click()
    viewer = tab.page.locator("#rag-viewer")
    expect(viewer).to_be_visible()
    expect(viewer).to_have_attribute("data-ready", str(page_number))
    return page_number


def test_the_viewer_opens_on_the_quote_zooms_turns_pages_and_closes(browser, url):  # noqa: F811
    from playwright.sync_api import expect

    tab = Page(browser, url)
    try:
        page = tab.page
        page.set_viewport_size({"width": 1280, "height": 900})
        number = open_first_page_quote(tab)
        state = viewer_state(page)
        assert state["natural"] > 1000, "the viewer asks for the page at full resolution"
        assert state["mark"] is not None and inside(state["mark"], state["view"]), "the highlight is in view"

        before = state["shown"]
        page.locator('#rag-viewer [data-act="in"]').click()
        bigger = viewer_state(page)
        assert bigger["shown"] == pytest.approx(before * 1.25, rel=0.02)
        page.locator('#rag-viewer [data-act="out"]').click()
        page.locator('#rag-viewer [data-act="out"]').click()
        assert viewer_state(page)["shown"] == pytest.approx(before / 1.25, rel=0.02)
        box = viewer_state(page)["view"]
        page.mouse.move((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        page.keyboard.down("Control")
        page.mouse.wheel(0, -300)
        page.keyboard.up("Control")
        page.wait_for_function(f"document.querySelector('#rag-viewer img').getBoundingClientRect().width > {before * 1.2}")

        pages = int(viewer_state(page)["where"].split(" of ")[1])
        step, back = ("next", "prev") if number < pages else ("prev", "next")
        page.locator(f'#rag-viewer [data-act="{step}"]').click()
        turned = number + 1 if step == "next" else number - 1
        expect(page.locator("#rag-viewer")).to_have_attribute("data-ready", str(turned))
        assert viewer_state(page)["where"] == f"Page {turned} of {pages}"
        page.locator(f'#rag-viewer [data-act="{back}"]').click()
        expect(page.locator("#rag-viewer")).to_have_attribute("data-ready", str(number))
        assert viewer_state(page)["mark"] is not None  # the quote's page: highlighted again

        page.keyboard.press("Escape")
        expect(page.locator("#rag-viewer")).to_be_hidden()
        own = "blob:" + url.rstrip("/")  # the viewer shows each fetched page from an object URL of this page
        assert not tab.errors and not tab.dialogs and not [u for u in tab.foreign if not u.startswith(own)]
    finally:
        tab.context.close()


def phone_tab(browser, url: str) -> Page:  # noqa: F811
    """A tab on a phone's screen (390×844, touch), the page loaded."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  device_scale_factor=2)
    tab = Page.__new__(Page)
    tab.url, tab.context, tab.page = url, context, context.new_page()
    tab.errors, tab.foreign, tab.dialogs = [], [], []
    tab.page.on("pageerror", lambda e: tab.errors.append(str(e)))
    tab.page.set_default_timeout(WAIT_MS)
    tab.page.goto(url, wait_until="load")
    tab.page.wait_for_selector("#rag-question textarea")
    return tab


def test_on_a_phone_the_viewer_fills_the_screen(browser, url):  # noqa: F811
    from playwright.sync_api import expect

    tab = phone_tab(browser, url)
    context = tab.context
    try:
        open_first_page_quote(tab)
        state = viewer_state(tab.page)
        assert state["box"] == [0, 0, 390, 844]
        assert state["mark"] is not None and inside(state["mark"], state["view"])
        tab.page.locator('#rag-viewer [data-act="close"]').click()
        expect(tab.page.locator("#rag-viewer")).to_be_hidden()
        assert not tab.errors
    finally:
        context.close()


def test_a_scanned_page_opens_on_its_quote_highlighted_on_a_desktop_and_a_phone(browser, scan_url):  # noqa: F811
    from playwright.sync_api import expect

    for width, tab in (("desktop", Page(browser, scan_url)), ("phone", None)):
        tab = tab or phone_tab(browser, scan_url)
        try:
            if width == "desktop":
                tab.page.set_viewport_size({"width": 1280, "height": 900})
            assert open_first_page_quote(tab, [SCAN_QUESTION], SCAN) == 1
            state = viewer_state(tab.page)
            assert state["natural"] > 1000, "the scan is shown at full resolution"
            assert state["mark"] is not None and inside(state["mark"], state["view"]), "the highlight is in view"
            if width == "phone":
                assert state["box"] == [0, 0, 390, 844]
            quote = tab.page.locator("#rag-chat .rag-answer").last.locator("blockquote.rag-quote").first
            expect(quote).to_contain_text("trillion US dollars")  # the sentence read from the scan, verbatim
            shot(tab.page, width)
            assert not tab.errors
        finally:
            tab.context.close()


def settled(tab: Page, count) -> int:
    """The byte count once it has not moved for 600 ms (the answer's last events have arrived)."""
    last, still = count(), 0
    while still < 3:
        tab.page.wait_for_timeout(200)
        now = count()
        still, last = (still + 1, last) if now == last else (0, now)
    return last


def slope(values: list[int]) -> float:
    """Least-squares bytes per question over the conversation."""
    n = len(values)
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    return sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values)) / sum((x - mean_x) ** 2 for x in range(n))


def test_a_question_costs_the_same_few_bytes_however_long_the_conversation(browser, url):  # noqa: F811
    tab = Page(browser, url)
    try:
        cdp = tab.context.new_cdp_session(tab.page)
        cdp.send("Network.enable")
        received: dict[str, int] = {}
        sent: dict[str, int] = {}

        def data(event) -> None:  # body bytes as they arrive (no compression here: as sent); the queue's stream
            # stays open, so its bytes are counted here: Chromium's encodedDataLength is 0 for some of its chunks
            received[event["requestId"]] = received.get(event["requestId"], 0) + event["dataLength"]

        def asked(event) -> None:
            request = event["request"]
            sent[event["requestId"]] = len(request.get("postData", "").encode("utf-8")) + len(request["url"])

        cdp.on("Network.dataReceived", data)
        cdp.on("Network.requestWillBeSent", asked)
        costs, uploads = [], []
        for question in QUESTIONS:
            start = settled(tab, lambda: sum(received.values()))
            up = sum(sent.values())
            tab.ask(question)
            costs.append(settled(tab, lambda: sum(received.values())) - start)
            uploads.append(sum(sent.values()) - up)
        chat_html = tab.page.evaluate("document.querySelector('#rag-chat').innerHTML.length")
        print(f"\nbytes received per question over {len(costs)} answers: {costs} (slope {slope(costs):.0f} bytes "
              f"a question); bytes sent: {uploads} (slope {slope(uploads):.0f}); chat HTML {chat_html} characters")
        assert "data:image" not in tab.page.evaluate("document.querySelector('#rag-chat').innerHTML")
        assert tab.page.locator("#rag-chat .rag-answer").count() == len(QUESTIONS)  # every answer still shown
        assert max(costs) <= PER_QUESTION, costs
        assert slope(costs) <= GROWTH, "a question costs more the longer the conversation"
        assert max(uploads) <= PER_QUESTION and slope(uploads) <= GROWTH, uploads  # nor does sending it

        # The conversation was kept in the browser's storage all the same: a reload shows every answer again.
        tab.page.reload(wait_until="load")
        tab.page.wait_for_function(f"document.querySelectorAll('#rag-chat .rag-answer').length === {len(QUESTIONS)}")
    finally:
        tab.context.close()
