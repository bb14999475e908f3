"""OCR of scanned PDF pages and pictures: text with pages, verbatim quotes on the right page, boxes where the words are.

The scans are made here (`scan_fixtures`): the report printed to PDF by Chromium, pages rasterised by
`pdftoppm -r 200`, rebuilt into an image-only PDF, a mixed PDF, a two-page TIFF and a photographed-looking
JPEG. Only a few pages are read by OCR, each once per session; accuracy over the whole report is measured
by `bench/bench_ocr.py` (docs/formats.md gives its figures).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from format_fixtures import tiny_pdf
from scan_fixtures import Scans, cer, image_pdf, joined_pdf, normal, photographed

from rag.errors import IngestError
from rag.readers import Extracted, FormatError, kind_of, ocr, read_document, sniff

needs_ocr = pytest.mark.skipif(bool(ocr.missing()), reason=ocr.missing() or "tesseract is installed")
LETTER = (612.0, 792.0)


class Made:
    """Scanned documents and what the readers make of them, each made once."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.scans = Scans(folder)
        self.cache: dict[str, object] = {}

    def once(self, name: str, make):  # type: ignore[no-untyped-def]
        if name not in self.cache:
            self.cache[name] = make()
        return self.cache[name]

    def scanned_pdf(self) -> bytes:  # pages 2 and 3 of the report, as pictures only
        return self.once("scan.pdf", lambda: image_pdf([self.scans.picture(2), self.scans.picture(3)]))

    def text_pdf(self) -> bytes:  # the same two pages with their text layer
        return self.once("text.pdf", lambda: self.scans.text_pages([2, 3]))

    def crop(self, page: int, share: float = 0.3):  # type: ignore[no-untyped-def]
        picture = self.scans.picture(page)
        return picture.crop((0, 0, picture.width, int(picture.height * share)))

    def read(self, name: str, data_of) -> Extracted:  # type: ignore[no-untyped-def]
        return self.once(f"read {name}", lambda: read_document(Path(name), data_of()))  # type: ignore[return-value]


@pytest.fixture(scope="module", autouse=True)
def own_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Pages are read afresh here, not from the cache of earlier runs (no test in this file loads the model)."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAG_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, own_cache: Path) -> Made:
    return Made(tmp_path_factory.mktemp("scans"))


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if len(s) > 60]


@needs_ocr
def test_scanned_pdf_becomes_text_with_its_pages(made: Made) -> None:
    ex = made.read("scan.pdf", made.scanned_pdf)
    truth = made.read("text.pdf", made.text_pdf)
    assert ex.kind == "pdf" and ex.ocr_pages == (0, 1)
    assert len(ex.pages) == 2 and 0 == ex.pages[0] < ex.pages[1] < len(ex.text)
    assert ex.notes[0].startswith("pp. 1–2 read by OCR (tesseract ")
    # A scan of clean print reads almost as the text layer does (bench/bench_ocr.py measures the report).
    assert cer(ex.text, truth.text) < 0.03


@needs_ocr
def test_quotes_from_a_scan_are_verbatim_on_the_right_page_and_boxed_where_drawn(made: Made) -> None:
    ex = made.read("scan.pdf", made.scanned_pdf)
    truth = made.read("text.pdf", made.text_pdf)
    found = checked = 0
    for sentence in sentences(truth.text):
        checked += 1
        start = ex.text.find(sentence)
        if start < 0:
            continue
        found += 1
        end = start + len(sentence)
        assert ex.text[start:end] == sentence  # the quote is the document's text at its offsets
        expected = truth.text.index(sentence)
        assert ex.page_of(start) == truth.page_of(expected)
        drawn, printed = ex.boxes(start, end), truth.boxes(expected, expected + len(sentence))
        assert drawn[0][0] == printed[0][0]
        # The first line of the quote's highlight sits over the printed words (within a few points).
        for got, want in zip(drawn[0][1:], printed[0][1:], strict=True):
            assert abs(got - want) < 8, (sentence, drawn[0], printed[0])
    assert checked > 20 and found >= 0.8 * checked, f"{found} of {checked} sentences read verbatim"


@needs_ocr
def test_every_character_box_of_a_scan_is_inside_its_page(made: Made) -> None:
    ex = made.read("scan.pdf", made.scanned_pdf)
    assert ex.geometry is not None and len(ex.geometry) == len(ex.text)
    boxes = ex.boxes(0, len(ex.text))
    assert {b[0] for b in boxes} == {0, 1}
    for _, left, bottom, right, top in boxes:
        assert 0 <= left < right <= LETTER[0] + 1 and 0 <= bottom < top <= LETTER[1] + 1


@needs_ocr
def test_a_mixed_pdf_reads_only_its_page_without_text_by_ocr(made: Made) -> None:
    text_page = made.scans.text_pages([2])
    mixed = joined_pdf(text_page, image_pdf([made.crop(3)]))
    ex = made.read("mixed.pdf", lambda: mixed)
    alone = read_document(Path("page.pdf"), text_page)
    assert ex.ocr_pages == (1,) and ex.notes[0].startswith("p. 2 read by OCR")
    kept = alone.text[: alone.text.rindex("\n\n")]  # the last paragraph may go on onto the scanned page
    assert ex.text.startswith(kept)
    assert ex.boxes(0, len(kept)) == alone.boxes(0, len(kept))  # text-layer pages stay as they were
    assert ex.page_of(len(ex.text) - 1) == 1 and ex.boxes(len(ex.text) - 10, len(ex.text))[0][0] == 1


@needs_ocr
def test_a_multipage_tiff_is_read_with_page_numbers_through_the_worker(made: Made, tmp_path: Path) -> None:
    from rag.ingest.sandbox import read_file

    buffer = io.BytesIO()
    first, second = made.crop(2), made.crop(3)
    first.save(buffer, format="TIFF", save_all=True, append_images=[second], dpi=(200, 200))
    data = buffer.getvalue()
    assert sniff(data, ".bin") == "image" and kind_of(Path("scan"), data) == "image"
    heard: list[tuple[int, int]] = []
    ex = read_file(Path("scan.tif"), data, progress=lambda done, total: heard.append((done, total)))
    assert heard == [(0, 2), (1, 2), (2, 2)]
    assert ex.kind == "image" and ex.ocr_pages == (0, 1) and len(ex.pages) == 2
    # Both frames open with the report's running header; the words after it are each page's own.
    for page, start in enumerate(ex.pages):
        assert {b[0] for b in ex.boxes(start, ex.pages[page + 1] if page + 1 < 2 else len(ex.text))} == {page}
    truth = made.read("text.pdf", made.text_pdf)
    opening = normal(truth.text[truth.pages[1] : truth.pages[1] + 60])  # the first words under page 3's header
    assert opening in normal(ex.text[ex.pages[1] :]) and opening not in normal(ex.text[: ex.pages[1]])

    from PIL import Image

    from ui.pages import page_image

    path = tmp_path / "scan.tif"
    path.write_bytes(data)
    at = ex.pages[1] + ex.text[ex.pages[1] :].index(opening[:20])
    shown = page_image(path, at, at + 20, width=800)
    assert shown is not None and shown.page == 2 and shown.width == 800
    picture = Image.open(io.BytesIO(shown.png)).convert("RGB")
    marked = [(i % picture.width, i // picture.width) for i, (r, g, b) in enumerate(picture.get_flattened_data())
              if r > 200 and 150 < g < 235 and b < 190]
    assert marked, "the quote is highlighted on the picture"
    words = ex.boxes(at, at + 20)[0]  # points from the frame's bottom-left; 200 dpi frame drawn 800 px wide
    scale = 800 / (second.width * 72 / 200)
    assert abs(min(x for x, _ in marked) - words[1] * scale) < 6
    assert abs(min(y for _, y in marked) - (second.height * 72 / 200 - words[4]) * scale) < 6


@needs_ocr
def test_a_photographed_page_is_read(made: Made) -> None:
    buffer = io.BytesIO()
    photographed(made.scans.picture(2)).save(buffer, format="JPEG", quality=85, dpi=(200, 200))
    ex = made.read("photo.jpg", buffer.getvalue)
    alone = read_document(Path("page.pdf"), made.scans.text_pages([2]))  # running header and all, as in the photo
    assert ex.kind == "image" and ex.ocr_pages == (0,) and ex.notes[0].startswith("the picture read by OCR")
    assert cer(ex.text, alone.text) < 0.02  # bench/bench_ocr.py gives the figure


@needs_ocr
def test_a_build_reads_a_scan_by_ocr_with_progress(made: Made, tmp_path: Path) -> None:
    from rag.ingest.intake import OCR_STAGE, Intake

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    made.crop(2).save(seeds / "letter.png")
    said: list[str] = []
    steps: list[tuple[str, int, int]] = []
    items = list(Intake(seeds, {}, max_words=120, say=said.append, step=lambda *s: steps.append(s)))
    assert len(items) == 1 and items[0].doc.kind == "image"  # type: ignore[union-attr]
    assert steps == [(OCR_STAGE, 0, 1), (OCR_STAGE, 1, 1)]
    assert said[0] == "letter.png: reading 1 page by OCR"
    assert any("read by OCR" in line for line in said)


@needs_ocr
def test_a_scanned_quote_is_highlighted_on_its_page_image(made: Made, tmp_path: Path) -> None:
    from PIL import Image

    from ui.pages import page_image

    path = tmp_path / "mixed.pdf"
    path.write_bytes(joined_pdf(made.scans.text_pages([2]), image_pdf([made.crop(3)])))
    ex = made.read("mixed-page.pdf", path.read_bytes)
    start = ex.pages[1]
    assert ex.boxes(start, start + 30)[0][0] == 1
    image = page_image(path, start, start + 30)
    assert image is not None and image.page == 2
    picture = Image.open(io.BytesIO(image.png)).convert("RGB")
    yellow = sum(1 for r, g, b in picture.get_flattened_data() if r > 200 and 150 < g < 235 and b < 190)
    assert yellow > 200  # the highlight is drawn on the scanned page


def test_without_tesseract_a_scan_is_skipped_with_the_reason(made: Made, monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    from PIL import Image

    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract on it
    assert "needs the tesseract program" in ocr.missing()
    scan = image_pdf([Image.new("L", (400, 500), 255)])
    with pytest.raises(FormatError, match=r"no page has a text layer \(a scanned PDF\?\), and OCR needs the "
                                          r"tesseract program; install Debian's tesseract-ocr"):
        read_document(Path("scan.pdf"), scan)
    with pytest.raises(FormatError, match="a picture is read by OCR: OCR needs the tesseract program"):
        read_document(Path("scan.png"), _png(Image.new("L", (40, 50), 255)))
    ex = read_document(Path("mixed.pdf"), joined_pdf(tiny_pdf(["A page with a text layer."]), scan))
    assert ex.ocr_pages == () and ex.text
    assert ex.notes[0].startswith("p. 2 has no text layer (scanned?) and was not read: OCR needs the tesseract")


def test_a_picture_that_is_not_one_is_refused(made: Made) -> None:
    with pytest.raises((FormatError, IngestError), match="the picture cannot be read"):
        read_document(Path("broken.png"), b"\x89PNG\r\n\x1a\n" + b"\0" * 40)


def _png(picture) -> bytes:  # type: ignore[no-untyped-def]
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", dpi=(200, 200))
    return buffer.getvalue()


@needs_ocr
def test_a_page_read_once_is_not_read_again(made: Made, own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _png(made.crop(3, 0.15))
    first = read_document(Path("a.png"), data)
    assert list((own_cache / "ocr").glob("*.tsv"))

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("tesseract run again for a page it has read")

    monkeypatch.setattr(ocr.subprocess, "run", refuse)
    assert read_document(Path("b.png"), data) == first


@needs_ocr
def test_a_scanned_tiff_is_indexed_with_its_pages_and_the_build_hears_each_page(made: Made, tmp_path: Path,
                                                                                build_hash_index) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    made.crop(2).save(seeds / "letter.tif", save_all=True, append_images=[made.crop(3)], dpi=(200, 200))
    heard: list[tuple[str, int, int]] = []
    index = build_hash_index(seeds, on_progress=lambda stage, done, total: heard.append((stage, done, total)))
    assert [h for h in heard if h[0] == "reading (OCR)"] == [("reading (OCR)", 0, 2), ("reading (OCR)", 1, 2),
                                                             ("reading (OCR)", 2, 2)]
    text = index.source_text("letter.tif")
    passages = index.passages_of("letter.tif")
    assert {p.citation.page for p in passages} == {1, 2}
    for p in passages:
        assert text[p.citation.start : p.citation.end] == p.text and index.verify(p.citation, p.text)


def test_the_live_status_names_the_page_being_read_by_ocr(make_seeds, tmp_path: Path) -> None:
    from conftest import SMALL_CORPUS

    from rag.service.live import LiveIndex

    live = LiveIndex(make_seeds(SMALL_CORPUS), tmp_path / "index", model="hash-embedder", poll_seconds=3600)
    try:
        live.current()
        live._progress("reading (OCR)", 2, 12)  # as build_index reports the third of twelve pages
        status = live.status()
        assert status.stage == "reading (OCR)" and status.done == 2 and status.total == 12
        assert "reading (OCR) page 3 of 12" in status.message
    finally:
        live.close()
