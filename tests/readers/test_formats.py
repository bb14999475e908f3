"""The format readers: one contract for every reader, then what each format must get right.

The documents are made by the tests (see `format_fixtures`): the report from
seeds/ printed to PDF by headless Chromium in one and in two columns, a news
page with furniture around an article, a Word file, hand-written and hostile
files. The printed PDFs are skipped, with a reason, where Chromium is missing.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import re
import subprocess
import sys
import unicodedata
import zipfile
from collections.abc import Callable
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from format_fixtures import (
    HEADER,
    REPORT,
    article_html,
    print_pdf,
    report_docx,
    report_html,
    report_paragraphs,
    tiny_pdf,
    xlsx_bytes,
    zip_bomb_docx,
)

import rag.readers.pdf as formats_pdf
from rag.errors import IngestError, InputError
from rag.readers import READERS, SUFFIXES, Extracted, FormatError, kind_of, ocr, read_document
from rag.readers.pdf_lines import SPACE, Glyph, Line, drop_furniture, find_gutter, make_line, reading_order

ROOT = Path(__file__).resolve().parent.parent.parent
HYPHENS = re.compile("[-\u2010\u2011\u00ad]")


def norm(text: str) -> str:
    """For comparing with the report: compatibility forms folded, hyphens removed, whitespace collapsed."""
    return " ".join(HYPHENS.sub("", unicodedata.normalize("NFKC", text)).split())


def report_sentences() -> list[str]:
    return [s for p in report_paragraphs() for s in re.split(r"(?<=[.!?])\s+(?=[A-Z“‘\"'(])", p)]


def fuzzy(sentence: str) -> re.Pattern[str]:
    """A pattern finding `sentence` in extracted text, allowing a hyphen or space change at any point."""
    chars = [c for c in sentence if not HYPHENS.match(c) and not c.isspace()]
    return re.compile("[-\u2010\u00ad\\s]*".join(re.escape(c) for c in chars))


# --- the documents, made once per session ------------------------------------------------------


class Samples:
    """Builds each sample document on first use: name -> (path, bytes)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.cache: dict[str, tuple[Path, bytes]] = {}
        self.layout: dict[str, list[list[tuple[str, str]]]] = {}
        self.extracted: dict[str, Extracted] = {}

    def __call__(self, name: str) -> tuple[Path, bytes]:
        if name not in self.cache:
            self.cache[name] = self.make(name)
        return self.cache[name]

    def read(self, name: str) -> Extracted:
        if name not in self.extracted:
            self.extracted[name] = read_document(*self(name))
        return self.extracted[name]

    def make(self, name: str) -> tuple[Path, bytes]:
        path = self.folder / name
        if name.startswith("report-") and name.endswith(".pdf"):
            html_text, pages = report_html(2 if "2col" in name else 1, indent="indent" in name)
            self.layout[name] = pages
            path = print_pdf(html_text, self.folder, path.stem)
            return path, path.read_bytes()
        makers: dict[str, Callable[[], bytes]] = {
            "article.html": lambda: article_html()[0].encode("utf-8"),
            "report.docx": report_docx,
            "report.txt": REPORT.read_bytes,
            "notes.md": lambda: b"# Notes\r\n\r\nSome *text* here.\n\n```\n# not a heading\n```\n## Next\n",
            "tiny.pdf": lambda: tiny_pdf(["First page of a small PDF.", None, "A word split by hyphen-\nation."]),
            "scan.png": lambda: _png(pdfium.PdfDocument(tiny_pdf(["A page of text, scanned."]))[0].render(scale=3).to_pil()),
        }
        data = makers[name]()
        path.write_bytes(data)
        return path, data


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Samples:
    return Samples(tmp_path_factory.mktemp("formats"))


PRINTED = ["report-1col.pdf", "report-2col.pdf", "report-indent.pdf"]
SAMPLES = {
    "pdf": [*PRINTED, "tiny.pdf"],
    "html": ["article.html"],
    "docx": ["report.docx"],
    "text": ["report.txt", "notes.md"],
    "image": ["scan.png"],
}


def _png(picture) -> bytes:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def test_every_reader_has_samples_in_the_contract() -> None:
    assert set(SAMPLES) == set(READERS)


# --- the contract every reader keeps -----------------------------------------------------------


@pytest.mark.parametrize(("kind", "name"), [(k, n) for k, names in SAMPLES.items() for n in names])
def test_reader_contract(samples: Samples, kind: str, name: str) -> None:
    path, data = samples(name)
    assert kind_of(path, data) == kind
    if kind == "image" and ocr.missing():
        pytest.skip(ocr.missing())
    ex = samples.read(name)
    assert ex.kind == kind
    assert isinstance(ex.text, str) and ex.text.strip()
    assert ex == read_document(path, data), "reading is deterministic"
    with pytest.raises(dataclasses.FrozenInstanceError):
        ex.text = ""  # type: ignore[misc]
    last_end = 0
    for start, end, level in ex.headings:
        assert last_end <= start < end <= len(ex.text), "headings lie within the text, in order, apart"
        assert 1 <= level <= 6
        assert ex.text[start:end] == ex.text[start:end].strip() and "\n\n" not in ex.text[start:end]
        last_end = end
    assert list(ex.pages) == sorted(ex.pages)
    assert all(0 <= p <= len(ex.text) for p in ex.pages)
    assert all(isinstance(n, str) and n and "\n" not in n for n in ex.notes)
    boxes = ex.boxes(0, len(ex.text))
    if kind in ("pdf", "image"):
        assert ex.pages and ex.pages[0] == 0 and len(ex.pages) == (len(pdfium.PdfDocument(data)) if kind == "pdf" else 1)
        assert boxes and all(0 <= b[0] < len(ex.pages) and b[1] <= b[3] and b[2] <= b[4] for b in boxes)
    else:
        assert ex.pages == () and boxes == []
    if kind == "text":
        assert ex.text == data.decode("utf-8"), "plain text is the file exactly, offsets and all"


def test_importing_formats_loads_no_reader_library() -> None:
    code = "import sys, rag.readers; print(sorted(m for m in ('pypdfium2', 'trafilatura', 'docx', 'PIL') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- PDF ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PRINTED)
def test_pdf_running_header_and_page_numbers_are_dropped_and_noted(samples: Samples, name: str) -> None:
    ex = samples.read(name)
    assert "Konrad-Adenauer" not in ex.text and HEADER not in ex.text
    assert not re.search(r"\bPage \d+", ex.text)
    pages = len(ex.pages)
    assert any(n.startswith("dropped running header 'Konrad-Adenauer") and f"on {pages} pages" in n for n in ex.notes)
    assert f"dropped page numbers on {pages} pages" in ex.notes


@pytest.mark.parametrize("name", PRINTED)
def test_pdf_paragraphs_are_the_reports_with_no_line_breaks(samples: Samples, name: str) -> None:
    ex = samples.read(name)
    paragraphs = ex.text.split("\n\n")
    assert all(p and "\n" not in p and p == p.strip() for p in paragraphs)
    # Lines are joined across line, column and page ends (the fixture cuts paragraphs at page ends),
    # and split where a paragraph ends: by spacing, indent, a short last line or a size change.
    found = {norm(p) for p in paragraphs}
    report = [norm(p) for p in report_paragraphs()]
    assert sum(p in found for p in report) >= 0.95 * len(report)
    assert len(report) - 2 <= len(paragraphs) <= len(report) + 2


@pytest.mark.parametrize("name", PRINTED)
def test_pdf_keeps_the_report_sentences(samples: Samples, name: str) -> None:
    text = norm(samples.read(name).text)
    sentences = [norm(s) for s in report_sentences()]
    missing = [s for s in sentences if s not in text]
    assert len(missing) <= 0.03 * len(sentences), missing[:5]


@pytest.mark.parametrize("name", PRINTED)
def test_pdf_sentences_come_out_in_reading_order(samples: Samples, name: str) -> None:
    text = norm(samples.read(name).text)
    sentences = [norm(s) for s in report_sentences()]
    unique = [s for s in sentences if sentences.count(s) == 1 and text.count(s) == 1]
    where = [text.find(s) for s in unique]
    pairs = list(itertools.pairwise(where))
    assert sum(a < b for a, b in pairs) >= 0.95 * len(pairs)


@pytest.mark.parametrize("name", PRINTED)
def test_pdf_line_end_hyphens_are_joined_without_space(samples: Samples, name: str) -> None:
    text = samples.read(name).text
    # Chromium draws U+2010 where it breaks a word at a soft hyphen: kept, then the rest of the word.
    assert re.search("[a-z]\u2010[a-z]", text), "the fixture has words hyphenated at line ends"
    assert not re.search("[a-z][-\u2010] [a-z]", text)


@pytest.mark.parametrize("name", PRINTED)
def test_pdf_boxes_of_a_sentence_are_where_it_is_drawn(samples: Samples, name: str) -> None:
    _path, data = samples(name)
    ex = samples.read(name)
    page = 2
    body = next(text for tag, text in samples.layout[name][page] if tag.startswith("p") and text.count(". ") >= 2)
    sentence = body.split(". ")[1] + "."
    m = fuzzy(sentence).search(ex.text)
    assert m, sentence
    assert ex.page_of(m.start()) == page
    boxes = ex.boxes(m.start(), m.end())
    assert boxes and {b[0] for b in boxes} == {page}
    doc = pdfium.PdfDocument(data)
    width, height = doc[page].get_size()
    assert all(0 <= left < right <= width and 0 <= bottom < top <= height for _, left, bottom, right, top in boxes)
    assert [b[4] for b in boxes] == sorted((b[4] for b in boxes), reverse=True), "one box per line, top down"
    # Oracle: PDFium's own text inside those boxes is the sentence.
    textpage = doc[page].get_textpage()
    drawn = " ".join(textpage.get_text_bounded(*b[1:]) for b in boxes)
    assert norm(drawn) == norm(sentence)


@pytest.mark.parametrize("name", PRINTED)
def test_pdf_headings_come_from_larger_type(samples: Samples, name: str) -> None:
    ex = samples.read(name)
    found = {norm(ex.text[a:b]) for a, b, _ in ex.headings}  # "Disinfor‐mation" if broken at a line end
    for heading in ("Cybersecurity and Disinformation", "Japan’s Security Environment and Potential for Cooperation"):
        assert norm(heading) in found


def test_pdf_page_without_text_layer_is_noted_and_hyphen_join_kept(samples: Samples) -> None:
    ex = samples.read("tiny.pdf")
    assert ex.text == "First page of a small PDF.\n\nA word split by hyphen-ation."
    assert ex.pages == (0, 28, 28)
    assert len(ex.notes) == 1 and ex.notes[0].startswith("p. 2 has no text layer (scanned?)")  # and what OCR did
    start = ex.text.index("hyphen-ation")
    assert [b[0] for b in ex.boxes(start, start + len("hyphen-ation"))] == [2, 2]


def test_pdf_line_end_hyphen_before_a_digit_is_joined_too() -> None:
    ex = read_document(Path("ids.pdf"), tiny_pdf(["Install the policykit-\n1 package; the ids of 2019-\n2024 stay."]))
    assert ex.text == "Install the policykit-1 package; the ids of 2019-2024 stay."


def test_pdf_limits_are_enforced_with_the_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    data = tiny_pdf(["One.", "Two.", "Three."])
    monkeypatch.setattr(formats_pdf, "MAX_PAGES", 2)
    with pytest.raises(FormatError, match="the PDF has 3 pages, over the limit of 2; split it"):
        read_document(Path("long.pdf"), data)
    monkeypatch.setattr(formats_pdf, "MAX_BYTES", 100)
    with pytest.raises(FormatError, match=f"the PDF is {len(data):,} bytes, over the 100-byte limit"):
        read_document(Path("big.pdf"), data)


def test_boxes_refuse_a_span_outside_the_text(samples: Samples) -> None:
    ex = samples.read("tiny.pdf")
    with pytest.raises(InputError, match=r"span \(5, 1000\) is outside the text"):
        ex.boxes(5, 1000)


def test_scanned_pdf_without_any_text_is_refused() -> None:
    with pytest.raises(FormatError, match="no page has a text layer"):
        read_document(Path("scan.pdf"), tiny_pdf([None, None]))


def test_encrypted_fixture_really_opens_with_its_password() -> None:
    doc = pdfium.PdfDocument(tiny_pdf(["Secret minutes."], password="hunter2"), password="hunter2")
    assert doc[0].get_textpage().get_text_range() == "Secret minutes."


# --- the PDF layout rules, on synthetic lines ----------------------------------------------------


def drawn(text: str, left: float, bottom: float, page: int = 0, size: float = 10.0) -> Line:
    """A line of 5-point-wide glyphs, as PDFium would report it."""
    glyphs: list[Glyph] = []
    for k, ch in enumerate(text):
        x = left + 5 * k
        glyphs.append(SPACE if ch == " " else (ch, True, x, bottom, x + 5, bottom + size))
    line = make_line(page, glyphs)
    assert line is not None
    return line


WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "seven", "wise", "owls", "watch"]


def prose(row: int, chars: int = 44) -> str:
    words = [WORDS[(row * 5 + k) % len(WORDS)] for k in range(20)]
    return " ".join(words)[:chars].strip()


def test_two_text_columns_are_read_left_then_right() -> None:
    lines = [drawn(f"L{row:02d} " + prose(row), 72, 700 - 14 * row) for row in range(20)]
    lines += [drawn(f"R{row:02d} " + prose(row + 3), 330, 700 - 14 * row) for row in range(20)]
    gutter = find_gutter(lines)
    assert gutter is not None and 72 + 5 * 48 <= gutter[0] < gutter[1] <= 330
    order = [ln.text[:3] for ln in reading_order(0, lines)]
    assert order == [f"L{r:02d}" for r in range(20)] + [f"R{r:02d}" for r in range(20)]


def test_one_column_and_tables_are_not_split_into_columns() -> None:
    prose_lines = [drawn(prose(row, 90), 72, 700 - 14 * row) for row in range(20)]
    assert find_gutter(prose_lines) is None
    table = [drawn(name, 72, 700 - 14 * row) for row, name in enumerate(["Japan", "Australia", "Korea"] * 4)]
    table += [drawn(str(2000 + row), 400, 700 - 14 * row) for row in range(12)]
    assert find_gutter(table) is None
    assert [ln.text for ln in reading_order(0, table)][:2] == ["Japan 2000", "Australia 2001"]


def test_running_lines_are_dropped_only_when_they_repeat_on_most_pages() -> None:
    pages = [[drawn("Body text of the page.", 72, 400, page=p)] for p in range(6)]
    for p in range(6):
        pages[p].append(drawn(f"- {p + 1} -", 300, 30, page=p))  # page numbers: dropped on every page
        pages[p].append(drawn("Annual Report 2024", 72, 760, page=p))  # on all pages: running
        if p < 2:
            pages[p].append(drawn("Draft only", 72, 745, page=p))  # on 2 of 6 pages: kept
    kept, notes = drop_furniture(pages, [(0.0, 792.0)] * 6)
    assert [[ln.text for ln in page] for page in kept][:3] == [
        ["Body text of the page.", "Draft only"], ["Body text of the page.", "Draft only"], ["Body text of the page."]]
    assert sorted(notes) == ["dropped page numbers on 6 pages", "dropped running header 'Annual Report 2024' on 6 pages"]


# --- HTML --------------------------------------------------------------------------------------


def test_html_keeps_the_article_and_drops_the_furniture(samples: Samples) -> None:
    ex = samples.read("article.html")
    _, paragraphs, heads = article_html()
    assert all(p in ex.text for p in paragraphs)
    for phrase in ("Accept all cookies", "Share on LinkedIn", "Privacy policy", "Subscribe", "Imprint",
                   "script text must not appear", "color:red"):
        assert phrase not in ex.text
    assert not re.search(r"\b(Home|Politics|Sign in)\b", ex.text), "navigation labels"
    found = {(ex.text[a:b], level) for a, b, level in ex.headings}
    assert {(h, 2) for h in heads} <= found
    assert "- Cyber defence exercises\n- Maritime domain awareness" in ex.text
    assert "| Partner | Since |\n| Japan | 2014 |" in ex.text
    assert ex.notes == ()


def test_html_without_main_content_falls_back_to_visible_text() -> None:
    page = b"<html><body><header><h1>Store hours</h1></header><aside>Open daily 9 to 5</aside></body></html>"
    ex = read_document(Path("hours.html"), page)
    assert ex.text == "Store hours\n\nOpen daily 9 to 5"
    assert ex.headings == ((0, 11, 1),)
    assert ex.notes == ("no main content found; kept all visible text of the page",)


def test_html_entities_are_not_expanded_from_outside() -> None:
    page = (b'<!DOCTYPE html [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><html><body><article><p>'
            + b"Harbour traffic doubled in the last decade, officials said on Monday in a long statement. " * 3
            + b"&xxe;</p></article></body></html>")
    ex = read_document(Path("x.html"), page)
    assert "root:" not in ex.text and "Harbour traffic doubled" in ex.text


@pytest.mark.parametrize(("data", "expected"), [
    ("<html><body><p>Café crème at the harbour.</p></body></html>".encode("latin-1"), "Café crème"),
    ("<html><head><meta charset='iso-8859-2'></head><body><p>Łódź harbour</p></body></html>".encode("iso-8859-2"),
     "Łódź harbour"),
    ('<?xml version="1.0" encoding="utf-8"?><html><body><p>Łódź ünïcode</p></body></html>'.encode(), "Łódź ünïcode"),
    ("\ufeff<html><body><p>Łódź in UTF-16</p></body></html>".encode("utf-16-le"), "Łódź in UTF-16"),
])
def test_html_is_decoded_as_a_browser_would(data: bytes, expected: str) -> None:
    assert expected in read_document(Path("page.html"), data).text


# --- DOCX --------------------------------------------------------------------------------------


def test_docx_headings_from_styles_and_tables_as_rows(samples: Samples) -> None:
    ex = samples.read("report.docx")
    assert [(ex.text[a:b], level) for a, b, level in ex.headings] == [
        ("Japan-NATO Alignment", 1),
        ("Japan’s Security Environment and Potential for Cooperation", 1),
        ("Cybersecurity and Disinformation", 2),
    ]
    assert "\n\n- Cyber defence exercises\n- Maritime domain awareness\n- Space situational awareness\n\n" in ex.text
    assert "\n\n| Partner | Since |\n| Japan | 2014 |\n| Australia | 2013 |\n\n" in ex.text


def test_a_word_heading_style_makes_a_section_whatever_its_words(tmp_path) -> None:
    import docx

    from rag.ingest.intake import ingest

    word = docx.Document()
    word.add_heading("README for the library", 0)
    word.add_heading("Bug Reports, Feature Requests, Contributions, Etc.", 1)
    word.add_paragraph("The library is maintained on a public forge. Please file bug reports there, with a test case.")
    word.add_heading("Oldest known working tool versions", 2)
    table = word.add_table(rows=2, cols=2)
    for row, cells in zip(table.rows, [("Component", "Oldest version"), ("automake", "1.14")], strict=True):
        row.cells[0].text, row.cells[1].text = cells
    word.add_paragraph("Older versions may work too, but nobody has tested them on this code.")
    word.save(tmp_path / "readme.docx")
    (doc,), skipped = ingest(tmp_path)
    assert not skipped and doc.title == "README for the library"
    assert doc.sections == ["Bug Reports, Feature Requests, Contributions, Etc.", "Oldest known working tool versions"]
    assert [(doc.text[b.start : b.end][:20], b.section) for b in doc.body] == [
        ("The library is maint", "Bug Reports, Feature Requests, Contributions, Etc."),
        ("| Component | Oldest", "Oldest known working tool versions"),  # the whole table, one unit
        ("Older versions may w", "Oldest known working tool versions"),
    ]
    table = next(b for b in doc.body if doc.text[b.start : b.end].startswith("| Component"))
    assert doc.text[table.start : table.end] == "| Component | Oldest version |\n| automake | 1.14 |"


# --- choosing a reader, and hostile files ------------------------------------------------------


def test_content_decides_the_reader_before_the_extension() -> None:
    assert kind_of(Path("report.txt"), tiny_pdf(["x"])) == "pdf"
    assert kind_of(Path("page.txt"), b"<!DOCTYPE html><html><body>x</body></html>") == "html"
    assert kind_of(Path("notes.md"), b"# About <html> tags\n\nText <html> here.") == "text"
    assert kind_of(Path("notes.txt"), b"A PDF file starts with %PDF-1.7 and ends with %%EOF.") == "text"
    assert kind_of(Path("scan.bin"), b"junk before the header %PDF-1.4 ...") == "pdf"
    assert kind_of(Path("download"), report_docx()) == "docx"
    assert kind_of(Path("page"), b"\n<html lang=en><body>x</body></html>") == "html"
    assert kind_of(Path("scan.pdf"), b"\x89PNG\r\n\x1a\n" + bytes(40)) == "image"
    assert set(SUFFIXES) == {".txt", ".md", ".markdown", ".pdf", ".html", ".htm", ".docx", ".png", ".jpg", ".jpeg",
                             ".tif", ".tiff"}


@pytest.fixture(scope="session")
def bomb() -> bytes:
    return zip_bomb_docx()


HOSTILE: dict[str, tuple[Callable[[], bytes], str]] = {
    "encrypted.pdf": (lambda: tiny_pdf(["Secret minutes."], password="hunter2"), "encrypted and needs a password"),
    "truncated.pdf": (lambda: tiny_pdf(["Some text.", "More text."])[:300], "probably cut off"),
    "garbage.pdf": (lambda: b"%PDF-1.7\n" + bytes(range(256)) * 4, "cannot be read"),
    "not-a-zip.docx": (lambda: b"this is not a zip archive at all", "not a zip archive"),
    "sheet.xlsx": (xlsx_bytes, "unsupported file type .xlsx (supported: .txt .md .pdf .html .htm .docx .png .jpg .jpeg "
                               ".tif .tiff)"),
    "sheet-renamed.docx": (xlsx_bytes, "no word/document.xml"),
    "empty.txt": (lambda: b" \n", "the file is empty"),
    "latin1.txt": (lambda: "Café crème".encode("latin-1"), "not UTF-8 (byte 3)"),
    "binary.md": (lambda: b"\x00\x01\x02 data", "binary file"),
    "empty.html": (lambda: b"<html><body><script>x = 1</script></body></html>", "no visible text"),
    "binary.html": (lambda: bytes(range(256)) * 8, "looks like a binary file"),
    "broken.docx": (lambda: zipped({"[Content_Types].xml": "<Types/>", "word/document.xml": "not xml"}),
                    "the .docx cannot be read"),
}


def zipped(members: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return out.getvalue()


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files_raise_format_error_in_one_line(name: str) -> None:
    make, expected = HOSTILE[name]
    with pytest.raises(FormatError) as caught:
        read_document(Path(name), make())
    message = str(caught.value)
    assert expected in message and message == caught.value.reason
    assert "\n" not in message and "Traceback" not in message
    assert isinstance(caught.value, IngestError)


def test_zip_bomb_docx_is_refused_with_the_numbers(bomb: bytes) -> None:
    with pytest.raises(FormatError) as caught:
        read_document(Path("bomb.docx"), bomb)
    message = str(caught.value)
    unpacked = sum(member.file_size for member in zipfile.ZipFile(io.BytesIO(bomb)).infolist())
    assert unpacked > 300 * 2**20 and len(bomb) < 2**20
    assert f"unpacks to {unpacked:,} bytes from {len(bomb):,}" in message
    assert "zip bomb" in message and "\n" not in message


def test_a_long_sentence_styled_as_a_heading_stays_text_to_quote(tmp_path) -> None:
    import docx

    from rag.ingest.intake import ingest

    word = docx.Document()
    word.add_heading("Annual review", 0)
    callout = "Shipping through the northern canal doubled in 2023, and officials expect the growth to continue next year."
    word.add_heading(callout, 2)
    word.add_paragraph("The harbour authority published its figures in March, with a table for each terminal.")
    word.save(tmp_path / "review.docx")
    (doc,), _ = ingest(tmp_path)
    assert callout in [doc.text[b.start : b.end] for b in doc.body]


ZLIB_HOW = Path("/usr/share/doc/zlib1g-dev/examples/zlib_how.html")  # Debian's zlib1g-dev


@pytest.mark.skipif(not ZLIB_HOW.exists(), reason="needs zlib1g-dev's zlib_how.html (apt-get install zlib1g-dev)")
def test_an_old_style_page_keeps_the_text_between_its_tags() -> None:
    """zlib's usage example puts its prose straight inside <body>, between a </pre> and the next tag; the
    main-content reader loses about a tenth of it. A page with no navigation, header or footer keeps every
    visible word instead, and a note says so."""
    ex = read_document(ZLIB_HOW, ZLIB_HOW.read_bytes())
    for sentence in ("is simply the buffer size for feeding data to and pulling data",
                     "This is an ugly hack required to avoid corruption of the input and output data"):
        assert sentence in " ".join(ex.text.split())
    assert "#include <stdio.h>\n#include <string.h>" in ex.text  # code keeps its lines
    assert ex.notes and ex.notes[0].startswith("kept all visible text")
    page = ZLIB_HOW.read_text("latin-1").replace("<body", "<nav><a href='/'>Home</a></nav><body", 1)
    assert not read_document(Path("site.html"), page.encode("latin-1")).notes  # a furnished page: main content
