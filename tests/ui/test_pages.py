"""The quote on its page: `ui.pages` renders a PDF page with a span's lines highlighted,
and the chat shows that picture beside the paragraph.

The PDF is the report from seeds/ printed by headless Chromium (see
`format_fixtures`); its tests are skipped, with a reason, where Chromium is
missing. The oracle for the picture is PDFium itself: the same page rendered
without a highlight has no yellow at all, so every yellow pixel is ours, and
it must lie in the span's boxes converted to pixels here, independently.
"""

from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
from format_fixtures import CHROMIUM, print_pdf, report_html, tiny_pdf
from markdown_it import MarkdownIt
from PIL import Image

from rag import Answer, Citation, InputError, Passage, Quote
from rag.readers import Extracted, read_document
from rag.readers.pdf_draw import HIGHLIGHT, PAD, PageImage
from ui.page_urls import page_url
from ui.pages import data_uri, page_image
from ui.render import render_answer

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian's chromium to print the report to PDF (`apt-get install -y chromium`)")


@pytest.fixture(scope="module")
def report_pdf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Extracted]:
    html_text, _ = report_html(1)
    path = print_pdf(html_text, tmp_path_factory.mktemp("pages"), "report")
    return path, read_document(path, path.read_bytes())


def a_sentence(ex: Extracted, page: int) -> tuple[int, int]:
    """The span of the first whole sentence (inside one paragraph) that starts on 0-based `page`."""
    m = re.compile(r"(?<=\. )[A-Z][^.\n]{60,}\.").search(ex.text, ex.pages[page])
    assert m is not None
    return m.start(), m.end()


def pixels(image: PageImage) -> np.ndarray:
    picture = Image.open(io.BytesIO(image.png))
    assert picture.format == "PNG"
    assert picture.size == (image.width, image.height)
    return np.asarray(picture.convert("RGB")).astype(int)


def yellow(rgb: np.ndarray) -> np.ndarray:
    """Pixels with much less blue than red: the highlight over paper or over ink; never black, grey or white."""
    return (rgb[..., 0] - rgb[..., 2]) > 40


def box_mask(shape: tuple[int, ...], boxes: list, page_height: float, scale: float, grow: float) -> np.ndarray:
    """Pixels inside the boxes (PDF points, origin bottom-left), each grown by `grow` points."""
    mask = np.zeros(shape[:2], dtype=bool)
    for _, left, bottom, right, top in boxes:
        x0, x1 = int((left - grow) * scale), int(np.ceil((right + grow) * scale))
        y0, y1 = int((page_height - top - grow) * scale), int(np.ceil((page_height - bottom + grow) * scale))
        mask[max(y0, 0) : y1, max(x0, 0) : x1] = True
    return mask


# --- the picture ----------------------------------------------------------------------------------------


@needs_chromium
def test_page_image_shows_the_page_the_span_starts_on_with_only_its_lines_highlighted(report_pdf) -> None:
    path, ex = report_pdf
    start, end = a_sentence(ex, 2)
    image = page_image(path, start, end)
    assert image is not None
    assert image.page == ex.page_of(start) + 1 == 3  # page_of is 0-based, PageImage.page 1-based
    rgb = pixels(image)
    assert image.width == 900

    doc = pdfium.PdfDocument(path.read_bytes())
    page_width, page_height = doc[image.page - 1].get_size()
    scale = image.width / page_width
    assert abs(image.height - page_height * scale) <= 1
    plain = np.asarray(doc[image.page - 1].render(scale=scale).to_pil().convert("RGB")).astype(int)
    plain = plain[: image.height, : image.width]  # PDFium rounds up: 900/612 × 612 may come out as 901
    assert not yellow(plain).any(), "the page itself has no yellow: every yellow pixel is the highlight"

    boxes = ex.boxes(start, end)
    assert len(boxes) >= 2 and {b[0] for b in boxes} == {image.page - 1}
    marked = yellow(rgb)
    outside = marked & ~box_mask(rgb.shape, boxes, page_height, scale, grow=PAD + 1)
    assert not outside.any(), f"{outside.sum()} highlighted pixels outside the span's lines"
    for box in boxes:
        inner = box_mask(rgb.shape, [box], page_height, scale, grow=0)
        assert marked[inner].mean() > 0.95, f"line {box} is not highlighted"
    # A far-away region: the page's lower half lies well below the sentence.
    lowest = max(int((page_height - b[2]) * scale) for b in boxes)
    assert lowest < image.height // 2 and not marked[image.height // 2 :].any()
    # Over blank paper the highlight is the overlay colour composited onto white.
    r, g, b, a = HIGHLIGHT
    paper = np.array([255 + (c - 255) * a / 255 for c in (r, g, b)])
    inside = box_mask(rgb.shape, boxes, page_height, scale, grow=0) & (plain.min(axis=2) == 255)
    assert np.abs(rgb[inside] - paper).max(axis=1).mean() < 4


@needs_chromium
def test_a_span_running_onto_the_next_page_shows_the_page_it_starts_on(report_pdf) -> None:
    path, ex = report_pdf
    turn = ex.pages[3]
    image = page_image(path, turn - 40, turn + 40)
    assert image is not None and image.page == ex.page_of(turn - 40) + 1 == 3


@needs_chromium
def test_width_sets_the_picture_size_and_data_uri_round_trips(report_pdf) -> None:
    path, ex = report_pdf
    start, end = a_sentence(ex, 0)
    image = page_image(path, start, end, width=400)
    assert image is not None and image.page == 1
    assert pixels(image).shape == (image.height, 400, 3)
    uri = data_uri(image)
    assert uri.startswith("data:image/png;base64,")
    assert base64.b64decode(uri.removeprefix("data:image/png;base64,"), validate=True) == image.png
    with pytest.raises(InputError, match="width must be a whole number of pixels"):
        page_image(path, start, end, width=0)


@needs_chromium
def test_a_rotated_page_is_highlighted_where_the_text_is_shown(report_pdf, tmp_path: Path) -> None:
    path, ex = report_pdf
    start, end = a_sentence(ex, 2)
    upright = page_image(path, start, end, width=600)
    doc = pdfium.PdfDocument(path.read_bytes())
    doc[2].set_rotation(90)
    turned_path = tmp_path / "turned.pdf"
    doc.save(turned_path)
    turned_ex = read_document(turned_path, turned_path.read_bytes())
    assert turned_ex.text[start:end] == ex.text[start:end]
    assert upright is not None
    turned = page_image(turned_path, start, end, width=upright.height)
    assert turned is not None and turned.page == 3
    # Oracle: the upright picture turned a quarter clockwise.
    expected = yellow(np.asarray(Image.open(io.BytesIO(upright.png)).convert("RGB").rotate(-90, expand=True)).astype(int))
    got = yellow(pixels(turned))
    assert abs(got.shape[0] - expected.shape[0]) <= 1 and got.shape[1] == expected.shape[1]  # sizes round up
    rows = min(got.shape[0], expected.shape[0])
    got, expected = got[:rows], expected[:rows]
    assert (got & expected).sum() / (got | expected).sum() > 0.9


# --- when there is no picture -------------------------------------------------------------------------


@needs_chromium
def test_no_picture_for_offsets_the_text_does_not_have(report_pdf) -> None:
    path, ex = report_pdf
    n = len(ex.text)
    for start, end in [(n - 5, n + 5), (n + 10, n + 20), (-1, 5), (30, 20), (10, 10)]:
        assert page_image(path, start, end) is None


def test_no_picture_for_other_formats_missing_files_or_undrawn_text(tmp_path: Path) -> None:
    text = tmp_path / "report.txt"
    text.write_text("Plain text has no pages. " * 20, encoding="utf-8")
    assert page_image(text, 0, 20) is None
    named_pdf = tmp_path / "notes.pdf"  # content decides, not the name
    named_pdf.write_text("Plain text has no pages. " * 20, encoding="utf-8")
    assert page_image(named_pdf, 0, 20) is None
    assert page_image(tmp_path / "missing.pdf", 0, 20) is None
    tiny = tmp_path / "tiny.pdf"
    tiny.write_bytes(tiny_pdf(["First page of a small PDF.", None, "A word split by hyphen-\nation."]))
    ex = read_document(tiny, tiny.read_bytes())
    gap = ex.text.index("\n\n")
    assert ex.boxes(gap, gap + 2) == []
    assert page_image(tiny, gap, gap + 2) is None  # the blank line between pages was never drawn
    last = page_image(tiny, ex.text.index("hyphen"), len(ex.text))
    assert last is not None and last.page == 3


def test_a_changed_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "doc.pdf"
    path.write_bytes(tiny_pdf(["A sentence on the first page that is long enough to cite.", "Second."]))
    first = page_image(path, 2, 10)
    assert first is not None and first.page == 1
    path.write_bytes(tiny_pdf(["Short."]))  # another size: the cached extraction no longer applies
    assert page_image(path, 30, 50) is None
    assert page_image(path, 0, 5) is not None


# --- the chat ------------------------------------------------------------------------------------------

PDF_DOC = "Title\n\nThe fleet sailed at dawn. The harbour was quiet.\n\nNext paragraph."
QUOTE = "The harbour was quiet."
START = PDF_DOC.index(QUOTE)
PDF_CITE = Citation("reports/fleet.pdf", "Harbour", 1, START, START + len(QUOTE), page=4)
PNG = Image.new("RGB", (4, 4), "white")
_buf = io.BytesIO()
PNG.save(_buf, format="PNG")
URI = page_url("reports/fleet.pdf", page=4, start=START, end=START + len(QUOTE), version="ab12")
DATA_URI = "data:image/png;base64," + base64.b64encode(_buf.getvalue()).decode("ascii")


def pdf_answer() -> Answer:
    paragraph = "The fleet sailed at dawn. The harbour was quiet."
    p_start = PDF_DOC.index(paragraph)
    passage = Passage("fleet#1", paragraph, Citation("reports/fleet.pdf", "Harbour", 1, p_start,
                                                     p_start + len(paragraph), page=4), 0.9)
    return Answer("Was the harbour busy?", [Quote(QUOTE, 0.8, PDF_CITE)], [passage], False,
                  text=f"> “{QUOTE}” [1]")


class Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[dict[str, str | None]] = []
        self.summaries: list[str] = []
        self._in_summary = False

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))
        self._in_summary = self._in_summary or tag == "summary"
        if tag == "summary":
            self.summaries.append("")

    def handle_endtag(self, tag):
        if tag == "summary":
            self._in_summary = False

    def handle_data(self, data):
        if self._in_summary:
            self.summaries[-1] += data


def read_html(html: str) -> Images:
    parser = Images()
    parser.feed(html)
    parser.close()
    return parser


def test_a_pdf_quote_shows_its_page_beside_the_paragraph() -> None:
    asked: list[Citation] = []

    def picture(citation: Citation) -> str | None:
        asked.append(citation)
        return URI

    html = render_answer(pdf_answer(), lambda s: PDF_DOC, pdf_answer().passages, page_image=picture)
    assert asked == [PDF_CITE]
    found = read_html(html)
    assert found.images == [{"class": "rag-page", "loading": "lazy",
                             "alt": "p. 4 of reports/fleet.pdf with the quote highlighted", "src": URI}]
    assert found.summaries == ["[1] reports/fleet.pdf · p. 4 · Harbour · ¶1"]
    assert '<div class="rag-with-page"><div class="rag-context">' in html
    assert '<mark class="rag-hl">The harbour was quiet&#46;</mark>' in html, "the paragraph is still shown"
    assert "\n" not in html
    # The chat renders the message as Markdown: the picture passes through unchanged.
    rendered = MarkdownIt("commonmark").render(html)
    assert f'src="{URI.replace("&", "&amp;")}"' in rendered


def test_without_a_page_picture_the_source_is_unchanged() -> None:
    answer = pdf_answer()
    plain = render_answer(answer, lambda s: PDF_DOC, answer.passages)
    assert "<img" not in plain and "rag-with-page" not in plain
    assert render_answer(answer, lambda s: PDF_DOC, answer.passages, page_image=lambda c: None) == plain


@pytest.mark.parametrize("uri", [
    "http://tracker.invalid/pixel.png",
    DATA_URI,  # no picture bytes in the chat: only the page route's addresses
    "/" + URI,
    "http://tracker.invalid/" + URI,
    URI + '" onerror="alert(1)',
    'data:image/png;base64,AAAA" onerror="alert(1)',
    "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=",
    "javascript:alert(1)",
    "",
])
def test_only_page_route_addresses_are_shown(uri: str) -> None:
    answer = pdf_answer()
    plain = render_answer(answer, lambda s: PDF_DOC, answer.passages)
    assert render_answer(answer, lambda s: PDF_DOC, answer.passages, page_image=lambda c: uri) == plain


def test_alt_text_is_escaped_and_names_the_page() -> None:
    evil = Citation('x"><script>alert(1)</script>.pdf', None, 1, START, START + len(QUOTE), page=2)
    answer = Answer("q", [Quote(QUOTE, 0.8, evil)], [], False)
    html = render_answer(answer, page_image=lambda c: URI)
    assert "<script" not in html
    found = read_html(html)
    assert [img["alt"] for img in found.images] == [f"p. 2 of {evil.source} with the quote highlighted"]


class PdfIndex:
    """Enough of an Index for `ui.app`: a seeds folder holding one PDF, and an answer citing it."""

    def __init__(self, seeds: Path, answer: Answer) -> None:
        self.manifest = type("Manifest", (), {"seeds_dir": str(seeds)})()
        self.sources = [a.citation.source for a in answer.quotes]
        self.passages = answer.passages
        self._answer = answer

    def source_text(self, source: str) -> str:
        return read_document(Path(self.manifest.seeds_dir) / source,
                             (Path(self.manifest.seeds_dir) / source).read_bytes()).text

    def passages_of(self, source: str) -> list:
        return [p for p in self.passages if p.citation.source == source]

    def answer(self, question, k=5, *, sources=None):
        return self._answer


def test_the_chat_shows_the_page_of_a_pdf_quote(tmp_path: Path) -> None:
    from ui import app

    pdf = tmp_path / "Notes.PDF"
    pdf.write_bytes(tiny_pdf(["The harbour was quiet at dawn.", "The fleet sailed at noon."]))
    text = read_document(pdf, pdf.read_bytes()).text
    start = text.index("The fleet")
    cite = Citation("Notes.PDF", None, 2, start, len(text), page=2)
    answer = Answer("When did the fleet sail?", [Quote(text[start:], 0.9, cite)],
                    [Passage("n#2", text[start:], cite, 0.9)], False)
    html, _ = app.reply(PdfIndex(tmp_path, answer), "When did the fleet sail?")
    images = read_html(html).images
    assert len(images) == 1 and images[0]["alt"] == "p. 2 of Notes.PDF with the quote highlighted"
    assert images[0]["src"] == page_url("Notes.PDF", page=2, start=start, end=len(text))
    assert "base64" not in html  # the page is fetched from the route when shown, never inlined

    picture = app.page_images(PdfIndex(tmp_path, answer))
    assert picture(Citation("notes.txt", None, 1, 0, 5)) is None  # not a PDF: not even looked at
    assert picture(Citation("gone.pdf", None, 1, 0, 5)) is None
    broken = PdfIndex(tmp_path, answer)
    del broken.manifest
    assert app.page_images(broken)(cite) is None  # any failure costs only the picture
