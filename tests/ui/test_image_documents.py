"""Pictures of text (PNG, JPEG, TIFF) on the web page: uploaded with the same checks as any document, and a quote
from one shown and served as the picture with the quote highlighted.

The picture is a page of text drawn with Pillow in DejaVu Sans, read by Tesseract when the index is built
(with the hash embedder, so no model loads).
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from conftest import quiet
from PIL import Image, ImageDraw, ImageFont
from starlette.testclient import TestClient

import rag
from rag.embed.model import HashEmbedder
from rag.readers.limits import Limits
from ui.access import OneWorkspace
from ui.chat import page_images
from ui.page_route import PageRoute
from ui.page_urls import THUMB_WIDTH
from ui.seeds_folder import SeedsFolder
from ui.uploads import ACCEPTED, UploadError, clean_name
from ui.workspace import Workspace

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
pytestmark = [
    pytest.mark.skipif(shutil.which("tesseract") is None,
                       reason="needs Tesseract to read pictures (`apt-get install -y tesseract-ocr`)"),
    pytest.mark.skipif(not FONT.is_file(), reason="needs DejaVu Sans to draw the picture (`apt-get install -y "
                       "fonts-dejavu-core`)"),
]
LINES = ["Harbour survey", "", "The harbour authority counted four hundred ships", "in the spring of the year.",
         "", "Barn owls nest in the old grain store beside", "the northern quay every summer."]
LIMITS = Limits(max_file_bytes=10_000_000, max_corpus_bytes=50_000_000)


def picture(kind: str = "PNG") -> bytes:
    """A 300 dpi page of the lines above, black on white."""
    page = Image.new("L", (2000, 1000), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(str(FONT), 44)
    for n, line in enumerate(LINES):
        draw.text((120, 120 + n * 90), line, fill=0, font=font)
    out = io.BytesIO()
    page.save(out, format=kind, dpi=(300, 300))
    return out.getvalue()


@pytest.mark.parametrize("name, kind", [("Harbour Scan.PNG", "PNG"), ("scan.jpg", "JPEG"), ("scan.jpeg", "JPEG"),
                                        ("scan.tif", "TIFF"), ("scan.tiff", "TIFF")])
def test_pictures_are_kept_under_uploads_by_name_and_content(tmp_path: Path, name: str, kind: str) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    saved = SeedsFolder(seeds).save(name, picture(kind), LIMITS)
    assert saved.source == "uploads/" + clean_name(name)
    assert Path(saved.source).suffix == Path(name).suffix.lower()
    assert (seeds / saved.source).read_bytes() == picture(kind)
    assert Path(name).suffix.lower() in ACCEPTED.split()  # the page's file picker offers it


@pytest.mark.parametrize("data", [b"The harbour authority counted four hundred ships.\n", b"%PDF-1.7\n" + b"0" * 64,
                                  b"MZ\x90\x00" + b"\x00" * 64])
def test_a_picture_name_on_other_content_is_refused_and_nothing_is_kept(tmp_path: Path, data: bytes) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    with pytest.raises(UploadError, match=r"scan.png is (not a PNG, JPEG or TIFF picture|a program)"):
        SeedsFolder(seeds).save("scan.png", data, LIMITS)
    assert not (seeds / "uploads" / "scan.png").exists()


def test_a_picture_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    data = picture()
    with pytest.raises(UploadError, match="the limit is"):
        SeedsFolder(seeds).save("scan.png", data, Limits(max_file_bytes=len(data) - 1, max_corpus_bytes=10**9))


@pytest.fixture(scope="module")
def owls(tmp_path_factory: pytest.TempPathFactory) -> tuple[rag.Index, rag.Citation]:
    root = tmp_path_factory.mktemp("pictures")
    seeds = root / "seeds"
    seeds.mkdir()
    (seeds / "survey.png").write_bytes(picture())
    index = rag.build_index(seeds, root / "index", embedder=HashEmbedder(), log=quiet)
    quote = next(q for q in index.answer("Where do barn owls nest?", 5).quotes if q.citation.source == "survey.png")
    assert "owls nest" in quote.text and quote.citation.page == 1
    return index, quote.citation


async def passed_on(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
    await send({"type": "http.response.start", "status": 418, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def test_a_quote_from_a_picture_links_to_the_picture_with_the_quote_marked(owls) -> None:
    index, cited = owls
    address = page_images(index)(cited)  # what the chat's source shows as its thumbnail
    assert address is not None
    assert f"source=survey.png&page=1&start={cited.start}&end={cited.end}&" in address
    client = TestClient(PageRoute(passed_on, access=OneWorkspace(Workspace(index))))
    reply = client.get("/" + address.replace(f"w={THUMB_WIDTH}", "w=800"))
    assert reply.status_code == 200 and reply.headers["content-type"] == "image/png"
    shown = Image.open(io.BytesIO(reply.content)).convert("RGB")
    assert shown.width == 800 and reply.headers["x-rag-pages"] == "1"
    left, top, right, bottom = (int(v) for v in reply.headers["x-rag-mark"].split(","))
    assert 0 <= left < right <= shown.width and 0 <= top < bottom <= shown.height
    inside = [shown.getpixel((x, y)) for x in range(left, right, 5) for y in range(top, bottom, 3)]
    assert sum(1 for r, _, b in inside if r - b > 40) > len(inside) // 4, "the quote is highlighted in yellow"
