"""Decompression bombs and oversized pages are refused by the worker that reads them, never by the caller.

Each bomb is made here at a small size, with limits made proportionally small
through the variables and module settings the product reads. A refused file
is a skipped file with a one-line reason; the files beside it are indexed.
"""

from __future__ import annotations

import io
import random
import re
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest
from format_fixtures import report_docx, tiny_pdf

import rag.readers.pdf as formats_pdf
import ui.pages as pages
from rag.ingest.intake import ingest
from rag.readers import FormatError, read_document
from ui.seeds_folder import save_upload
from ui.uploads import UploadError

WORDS = ("harbour", "fleet", "town", "quiet", "dawn", "noon", "sailed", "watched", "ships", "captain", "river", "bridge",
         "market")
NOTE = "The harbour master logged the storm at dawn, and the fleet stayed in port until the wind dropped.\n"


def shared_stream_pdf(pages_: int, content: bytes, *, size: tuple[int, int] = (612, 792)) -> bytes:
    """A PDF whose `pages_` pages all draw one Flate-compressed content stream, written by hand."""
    body = zlib.compress(content, 9)
    kids = b" ".join(b"%d 0 R" % (5 + i) for i in range(pages_))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages_,
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
               b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(body) + body + b"\nendstream"]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /Font << /F1 3 0 R >> >> "
                b"/Contents 4 0 R >>" % size] * pages_
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % at for at in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def lines_of_text(n: int) -> bytes:
    """A content stream drawing `n` lines of text, one under another."""
    return b"BT /F1 10 Tf 12 TL 72 780 Td\n" + b"(The quick brown fox jumps over the lazy dog.) '\n" * n + b"ET\n"


def seeds_with(tmp_path: Path, name: str, data: bytes) -> Path:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "note.txt").write_text(NOTE)
    (seeds / "paper.pdf").write_bytes(tiny_pdf(["The fleet sailed at noon.", "The town watched it go."]))
    (seeds / name).write_bytes(data)
    return seeds


def skipped_reason(seeds: Path, name: str) -> str:
    """The reason the build gives for skipping `name`, after checking the other two files were indexed."""
    docs, skipped = ingest(seeds)
    assert sorted(d.source for d in docs) == ["note.txt", "paper.pdf"]
    assert [s.source for s in skipped] == [name]
    reason = skipped[0].reason
    assert "\n" not in reason and "Traceback" not in reason
    return reason


# --- PDF ---------------------------------------------------------------------------


def test_pages_sharing_one_compressed_stream_are_refused_before_their_text_is_read(monkeypatch) -> None:
    bomb = shared_stream_pdf(40, lines_of_text(500))  # 40 pages of the same 23,000 characters from 7 KB
    monkeypatch.setattr(formats_pdf, "FREE_CHARS", 20_000)  # and one character per byte: 26,742 in all
    monkeypatch.setattr(formats_pdf, "MAX_CHARS_PER_BYTE", 1)
    with pytest.raises(FormatError, match=rf"its first 2 pages hold 4\d,\d\d\d characters in a file of "
                                          rf"{len(bomb):,} bytes"):
        read_document(Path("bomb.pdf"), bomb)
    rng = random.Random(3)
    said = [" ".join(rng.choice(WORDS) for _ in range(8)).capitalize() + "." for _ in range(40)]
    text = read_document(Path("honest.pdf"), tiny_pdf(said)).text  # forty honest pages under the same limit
    assert all(sentence in text for sentence in said)


def test_a_shared_stream_bomb_in_the_seeds_is_skipped_and_the_rest_indexed(tmp_path: Path) -> None:
    bomb = shared_stream_pdf(5, lines_of_text(20_000))  # 5 pages, each of 920,000 characters, from ~4 KB
    reason = skipped_reason(seeds_with(tmp_path, "bomb.pdf", bomb), "bomb.pdf")
    assert f"its first 1 pages hold 919,998 characters in a file of {len(bomb):,} bytes" in reason


def test_a_worker_killed_by_its_memory_limit_is_a_skipped_file_with_the_reason(tmp_path: Path, monkeypatch) -> None:
    # One page drawing two million strokes from 55 KB: PDFium needs some 600 MB to load it.
    bomb = shared_stream_pdf(1, b"BT /F1 12 Tf 72 700 Td (Hello.) Tj ET\n" + b"0 0 m 1 1 l S\n" * 2_000_000)
    monkeypatch.setenv("RAG_READ_MEMORY_MB", "350")
    reason = skipped_reason(seeds_with(tmp_path, "strokes.pdf", bomb), "strokes.pdf")
    assert reason == ("reading it needed more than 350 MB of memory; raise RAG_READ_MEMORY_MB (megabytes) to allow "
                      "more, or split the file")


def test_a_tall_thin_page_is_drawn_within_the_pixel_budget(tmp_path: Path, monkeypatch) -> None:
    content = b"BT /F1 10 Tf 2 3590 Td (Tall.) Tj ET\n"
    path = tmp_path / "strip.pdf"
    path.write_bytes(shared_stream_pdf(1, content, size=(36, 3600)))
    text = read_document(path, path.read_bytes()).text
    monkeypatch.setattr(pages, "MAX_PIXELS", 200_000)
    image = pages.page_image(path, text.index("Tall"), len(text))
    assert image is not None and image.page == 1
    assert image.width * image.height <= 200_000 and image.width * image.height > 0.98 * 200_000
    assert abs(image.height / image.width - 100) < 2.5  # the page's shape, scaled down to the budget
    letter = tmp_path / "letter.pdf"
    letter.write_bytes(tiny_pdf(["The fleet sailed at noon."]))
    assert pages.page_image(letter, 0, 5, width=300).width == 300  # a page within the budget keeps its width


# --- Word ---------------------------------------------------------------------------


def _repacked(document_xml: bytes) -> bytes:
    """The report .docx with its word/document.xml replaced, every part deflated."""
    source = zipfile.ZipFile(io.BytesIO(report_docx()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            data = document_xml if info.filename == "word/document.xml" else source.read(info)
            archive.writestr(info.filename, data)
    return out.getvalue()


def _inflated_document(copies: int) -> bytes:
    """The report's document.xml with its first paragraph repeated `copies` times: valid, and very compressible."""
    xml = zipfile.ZipFile(io.BytesIO(report_docx())).read("word/document.xml")
    paragraph = re.search(rb"<w:p[ >].*?</w:p>", xml, re.S).group(0)
    return xml.replace(paragraph, paragraph * copies, 1)


def test_a_docx_part_that_unpacks_over_100_times_its_size_is_refused_by_its_directory(tmp_path: Path) -> None:
    bomb = _repacked(_inflated_document(12_000))
    member = zipfile.ZipFile(io.BytesIO(bomb)).getinfo("word/document.xml")
    assert member.file_size > 2**20 and member.file_size > 100 * member.compress_size
    expected = (f"the .docx part word/document.xml unpacks to {member.file_size:,} bytes from "
                f"{member.compress_size:,}, over 100 times (a zip bomb?)")
    with pytest.raises(FormatError, match=re.escape(expected)):
        read_document(Path("bomb.docx"), bomb)
    with pytest.raises(UploadError, match=re.escape(expected)):  # refused before it is stored
        save_upload(tmp_path, "bomb.docx", bomb, _roomy())
    assert not (tmp_path / "uploads").exists() or not list((tmp_path / "uploads").iterdir())
    honest = _repacked(_inflated_document(20))
    assert read_document(Path("honest.docx"), honest).text.count("\n\n") > 20


def test_a_docx_whose_directory_understates_a_part_is_refused_after_counting_its_bytes(tmp_path: Path) -> None:
    real = _inflated_document(3000)
    data = bytearray(_repacked(real))
    member = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("word/document.xml")
    declared = 40_000
    assert member.file_size == len(real) > 4 * declared and member.compress_size * 100 > declared
    _declare_size(data, member, declared)
    assert zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("word/document.xml").file_size == declared
    expected = "the .docx part word/document.xml unpacks to more than the 40,000 bytes its zip directory declares"
    with pytest.raises(FormatError, match=re.escape(expected)):
        read_document(Path("lying.docx"), bytes(data))
    reason = skipped_reason(seeds_with(tmp_path, "lying.docx", bytes(data)), "lying.docx")
    assert reason.startswith(expected)


def _declare_size(data: bytearray, member: zipfile.ZipInfo, size: int) -> None:
    """Make both the local header and the central directory of `member` declare `size` unpacked bytes."""
    data[member.header_offset + 22 : member.header_offset + 26] = size.to_bytes(4, "little")
    name = member.filename.encode()
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        length = int.from_bytes(data[at + 28 : at + 30], "little")
        if data[at + 46 : at + 46 + length] == name:
            data[at + 24 : at + 28] = size.to_bytes(4, "little")
            return
        at = data.find(b"PK\x01\x02", at + 4)
    raise AssertionError("no central directory entry for " + member.filename)


def _roomy():
    from rag.readers.limits import Limits

    return Limits(100 * 2**20, 1000 * 2**20)


# --- HTML ---------------------------------------------------------------------------


def test_a_large_web_page_that_takes_too_long_is_skipped_and_the_rest_indexed(tmp_path: Path, monkeypatch) -> None:
    rng = random.Random(7)
    paragraphs = [f"<p>{' '.join(rng.choice(WORDS) for _ in range(12))} {n}.</p>" for n in range(12_000)]
    page = ("<html><body><article>" + "\n".join(paragraphs) + "</article></body></html>").encode()
    assert 10**6 < len(page) < 2 * 10**6
    monkeypatch.setenv("RAG_READ_SECONDS", "1")
    monkeypatch.setenv("RAG_READ_SECONDS_PER_MB", "0.001")
    reason = skipped_reason(seeds_with(tmp_path, "huge.html", page), "huge.html")
    assert reason.startswith("reading it took more than 1 s of processor time; raise RAG_READ_SECONDS")


def test_files_are_read_under_a_hard_limit_the_user_set(tmp_path: Path) -> None:
    """A `ulimit -v` (a hard address-space limit) stays in force, and the worker still reads within it."""
    pdf = tmp_path / "note.pdf"
    pdf.write_bytes(tiny_pdf([NOTE.strip()]))
    script = ("import resource, sys\n"
              "resource.setrlimit(resource.RLIMIT_AS, (16_000_000_000, 16_000_000_000))\n"
              "resource.setrlimit(resource.RLIMIT_CPU, (86_400, 86_400))\n"
              "from pathlib import Path\n"
              "from rag.ingest.sandbox import read_file\n"
              f"path = Path({str(pdf)!r})\n"
              "print(read_file(path, path.read_bytes()).text[:20])\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "harbour master" in done.stdout


def test_a_docx_declaring_too_many_files_is_refused_from_its_end_record_alone(monkeypatch) -> None:
    """A zip whose end record declares more files than the limit is refused without listing its directory."""
    import rag.readers.docx as docx_reader

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
        for n in range(30):
            archive.writestr(f"word/media/{n}.bin", b"x")
    data = out.getvalue()
    monkeypatch.setattr(docx_reader, "MAX_MEMBERS", 10)

    def listing(*args, **kwargs):
        raise AssertionError("the zip's directory was read")

    monkeypatch.setattr(zipfile.ZipFile, "infolist", listing)
    monkeypatch.setattr(zipfile.ZipFile, "namelist", listing)
    monkeypatch.setattr(zipfile.ZipFile, "__init__", listing)
    with pytest.raises(FormatError, match="31 files or more"):
        docx_reader.check_directory(data)
    from ui.uploads import check_content

    with pytest.raises(UploadError, match="31 files or more"):
        check_content("many.docx", data)
