"""The page route (`ui.page_route`): a cited PDF page as a PNG, for a caller `ui.access` lets in, and nothing else.

The PDF is the report from seeds/ printed by headless Chromium (`format_fixtures`);
the tests are skipped, with a reason, where Chromium is missing. The route is
tested as the ASGI middleware it is (Starlette's TestClient in front of an app
that answers 418 for whatever the route passes on), and once through the real
server, to show that Gradio's routes neither shadow nor close it.
"""

from __future__ import annotations

import io
import re
import shutil
import urllib.error
import urllib.request

import pytest
from conftest import quiet, serving
from format_fixtures import CHROMIUM, print_pdf, report_html
from PIL import Image
from starlette.testclient import TestClient

import rag
from rag.embed.model import HashEmbedder
from rag.readers.pdf_draw import MAX_PIXELS
from ui.access import Denied, OneWorkspace
from ui.page_route import MAX_ROUTE_WIDTH, PageRoute
from ui.page_urls import PAGE_URL, page_url
from ui.workspace import Workspace

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian's chromium to print the report to PDF (`apt-get install -y chromium`)")

NOTE = "notes.txt"
NOTE_TEXT = "Harbour notes\n\nThe harbour authority said that shipping traffic doubled in 2023.\n"


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory) -> tuple[rag.Index, rag.Index]:
    """The report as a PDF plus a text file, and another workspace's index holding only a text file."""
    root = tmp_path_factory.mktemp("route")
    html_text, _ = report_html(1)
    printed = print_pdf(html_text, root, "report")
    seeds = root / "seeds"
    seeds.mkdir()
    shutil.move(printed, seeds / "report.pdf")
    (seeds / NOTE).write_text(NOTE_TEXT, "utf-8")
    (root / "secret.pdf").write_bytes((seeds / "report.pdf").read_bytes())  # beside the seeds, in no index
    other = root / "other"
    other.mkdir()
    (other / NOTE).write_text(NOTE_TEXT, "utf-8")
    build = dict(embedder=HashEmbedder(), log=quiet)
    return rag.build_index(seeds, root / "index", **build), rag.build_index(other, root / "other-index", **build)


@pytest.fixture(scope="module")
def cited(indexes) -> rag.Citation:
    answer = indexes[0].answer("Why does Taiwan matter to Japan?", 5)
    quote = next(q for q in answer.quotes if q.citation.source == "report.pdf")
    assert quote.citation.page is not None
    return quote.citation


async def passed_on(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 418, "headers": []})
    await send({"type": "http.response.body", "body": b"passed on"})


def client(access) -> TestClient:
    return TestClient(PageRoute(passed_on, access=access), raise_server_exceptions=True)


def url(c: rag.Citation, **changes) -> str:
    values = dict(page=c.page, start=c.start, end=c.end, width=900)
    values.update(changes)
    return "/" + page_url(c.source, **values)


def test_a_cited_page_is_a_png_of_that_width_with_the_highlight_located(indexes, cited) -> None:
    reply = client(OneWorkspace(Workspace(indexes[0]))).get(url(cited))
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "image/png"
    picture = Image.open(io.BytesIO(reply.content))
    assert picture.format == "PNG" and picture.width == 900
    assert reply.headers["x-rag-page"] == str(cited.page)
    assert int(reply.headers["x-rag-pages"]) >= cited.page
    left, top, right, bottom = (int(v) for v in reply.headers["x-rag-mark"].split(","))
    assert 0 <= left < right <= picture.width and 0 <= top < bottom <= picture.height
    rgb = picture.convert("RGB")
    inside = [rgb.getpixel((x, y)) for x in range(left, right, 7) for y in range(top, bottom, 3)]
    assert sum(1 for r, _, b in inside if r - b > 40) > len(inside) // 3, "the mark surrounds the yellow highlight"


def test_other_pages_come_without_a_mark_and_widths_are_capped(indexes, cited) -> None:
    http = client(OneWorkspace(Workspace(indexes[0])))
    neighbour = cited.page + 1 if cited.page == 1 else cited.page - 1
    reply = http.get(url(cited, page=neighbour))
    assert reply.status_code == 200 and reply.headers["x-rag-page"] == str(neighbour)
    assert "x-rag-mark" not in reply.headers  # the span is not on that page
    plain = http.get("/" + page_url(cited.source, page=cited.page, width=300))
    assert plain.status_code == 200 and "x-rag-mark" not in plain.headers
    wide = http.get(url(cited, width=9999))
    shown = Image.open(io.BytesIO(wide.content))
    assert shown.width <= MAX_ROUTE_WIDTH and shown.width * shown.height <= MAX_PIXELS


def test_cache_headers_and_a_revalidation_without_the_picture(indexes, cited) -> None:
    http = client(OneWorkspace(Workspace(indexes[0])))
    first = http.get(url(cited))
    assert re.fullmatch(r"private, max-age=\d+", first.headers["cache-control"])
    tag = first.headers["etag"]
    again = http.get(url(cited), headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    other = http.get(url(cited, width=600))
    assert other.headers["etag"] != tag


@pytest.mark.parametrize("asked", [
    "/rag/page?source=missing.pdf&page=1&w=900",
    "/rag/page?source=report.pdf&page=999&w=900",
    "/rag/page?source=notes.txt&page=1&w=900",  # in the index, but not a PDF: no pages to draw
    "/rag/page?source=..%2Fsecret.pdf&page=1&w=900",  # beside the seeds folder
    "/rag/page?source=%2Fetc%2Fpasswd&page=1&w=900",
    "/rag/page?source=seeds%2F..%2F..%2Fsecret.pdf&page=1&w=900",
    "/rag/page?source=report.pdf&page=1&start=0&end=99999999&w=900",  # a span outside the text
])
def test_unknown_documents_pages_and_paths_outside_the_index_are_404(indexes, asked) -> None:
    reply = client(OneWorkspace(Workspace(indexes[0]))).get(asked)
    assert reply.status_code == 404, reply.text
    assert reply.headers["content-type"].startswith("application/json") and reply.json()["error"]["message"]


@pytest.mark.parametrize("asked", [
    "/rag/page?source=report.pdf&w=900",
    "/rag/page?page=1",
    "/rag/page?source=report.pdf&page=one",
    "/rag/page?source=report.pdf&page=1&start=5",
    "/rag/page?source=report.pdf&page=1&start=9&end=3",
    "/rag/page?source=report.pdf&page=1&page=2",
])
def test_malformed_requests_are_400_with_a_message(indexes, asked) -> None:
    reply = client(OneWorkspace(Workspace(indexes[0]))).get(asked)
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "bad_request"


def test_only_get_is_answered_and_other_paths_pass_on(indexes, cited) -> None:
    http = client(OneWorkspace(Workspace(indexes[0])))
    assert http.post(url(cited)).status_code == 405
    assert http.get("/rag/pages").status_code == 418
    assert http.get("/").text == "passed on"


class Refuse:
    """An Access that knows no one."""

    def workspace(self, request):
        raise Denied(401, "login", "Sign in to see this page.")

    def can_change(self, request):
        return False

    def user(self, request):
        return None


class Elsewhere(OneWorkspace):
    """An Access that gives every caller another workspace, and records what it was asked with."""

    def __init__(self, workspace: Workspace):
        super().__init__(workspace)
        self.asked: list[object] = []

    def workspace(self, request):
        self.asked.append(request)
        return super().workspace(request)


def test_a_denied_caller_gets_the_access_status_and_no_picture(indexes, cited) -> None:
    reply = client(Refuse()).get(url(cited))
    assert reply.status_code == 401
    assert reply.json() == {"error": {"code": "login", "message": "Sign in to see this page."}}
    assert reply.headers["cache-control"] == "no-store"


def test_a_caller_sees_only_their_own_workspace_documents(indexes, cited) -> None:
    access = Elsewhere(Workspace(indexes[1]))
    reply = client(access).get(url(cited), headers={"Cookie": "session=theirs"})
    assert reply.status_code == 404
    assert len(access.asked) == 1 and access.asked[0].headers["cookie"] == "session=theirs"


def test_page_urls_are_the_only_addresses_the_chat_accepts(cited) -> None:
    made = page_url("reports/2024 report (final).pdf", page=3, start=10, end=20, width=640, version="ab12")
    assert PAGE_URL.fullmatch(made)
    assert "/" not in made.split("?", 1)[1] and " " not in made
    for bad in ["http://x/rag/page?source=a&page=1&w=9", made + '" onerror="x', made.replace("page=3", "page=0"),
                "rag/page?source=a&page=1&w=9&v=XYZ", "javascript:alert(1)"]:
        assert not PAGE_URL.fullmatch(bad), bad


@pytest.mark.filterwarnings("ignore:.*no_silent_downcasting")
def test_the_served_app_answers_the_route_before_gradio(indexes, cited) -> None:
    with serving(indexes[0]) as base:
        with urllib.request.urlopen(base.rstrip("/") + url(cited)) as reply:
            assert reply.status == 200 and reply.headers["content-type"] == "image/png"
            assert Image.open(io.BytesIO(reply.read())).format == "PNG"
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(base.rstrip("/") + "/rag/page?source=..%2Fsecret.pdf&page=1&w=900")
        assert missing.value.code == 404


# --- the paragraph beside the page ---------------------------------------------------------------------------


def test_the_paragraph_beside_a_quote_starts_and_ends_on_sentence_bounds() -> None:
    from ui.render import paragraph_context

    text = ("Heading\n\nThe fleet sailed at dawn. The harbour was quiet and the cranes\nstood still. "
            "Traders waited for news.\n\nNext paragraph.")
    quote = "The harbour was quiet"
    start = text.index(quote)
    # A passage cut mid-sentence on both sides, as a page break or a sentence window leaves it.
    cut_from, cut_to = text.index("at dawn"), text.index("for news")
    passage = rag.Passage("p#1", text[cut_from:cut_to], rag.Citation("a.pdf", None, 1, cut_from, cut_to, page=1))
    cite = rag.Citation("a.pdf", None, 1, start, start + len(quote), page=1)
    context = paragraph_context(cite, [passage], lambda source: text)
    assert context is not None
    assert context.text == "The fleet sailed at dawn. The harbour was quiet and the cranes\nstood still. Traders waited for news."
    assert text[context.start:context.start + len(context.text)] == context.text  # offsets still hold
    whole = rag.Passage("p#1", text[text.index("The fleet"):text.index("\n\nNext")],
                        rag.Citation("a.pdf", None, 1, text.index("The fleet"), text.index("\n\nNext"), page=1))
    assert paragraph_context(cite, [whole], lambda source: text).text == whole.text  # already whole: unchanged
