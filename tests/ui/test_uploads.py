"""Documents added from the page: names cleaned, content checked against the name, sizes limited, removal undoable."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from format_fixtures import tiny_pdf

from rag.readers import read_document
from rag.readers.limits import Limits
from ui.seeds_folder import remove_upload, save_upload
from ui.uploads import (
    MAX_NAME_CHARS,
    UploadError,
    clean_name,
    removable,
)

ROOMY = Limits(max_file_bytes=10_000_000, max_corpus_bytes=50_000_000)
TEXT = b"Barn owls hunt at night over open fields, listening for voles in the grass.\n"


def docx_bytes() -> bytes:
    from docx import Document

    out = io.BytesIO()
    doc = Document()
    doc.add_paragraph("Barn owls hunt at night over open fields.")
    doc.save(out)
    return out.getvalue()


@pytest.mark.parametrize(("name", "expected"), [
    ("report.pdf", "report.pdf"),
    ("Annual Report 2024.PDF", "Annual Report 2024.pdf"),
    ("../../etc/passwd.txt", "passwd.txt"),
    ("..\\..\\windows\\win.ini.txt", "win.ini.txt"),
    ("/abs/path/notes.md", "notes.md"),
    ("a\x00b.txt", "ab.txt"),
    ("line\nbreak\r.txt", "linebreak.txt"),
    ("..hidden.txt", "hidden.txt"),
    ("-rf.txt", "rf.txt"),
    ("$(rm -rf ~);`x`|y>z.txt", "(rm -rf _)__x__y_z.txt"),
    ("bad\udcff name.txt", "bad name.txt"),  # a name that was not UTF-8 (surrogate-escaped byte)
    ("\ufffdodd.txt", "odd.txt"),  # the replacement character a broken percent-encoding gives
    ("Überblick – Bericht.md", "Überblick _ Bericht.md"),
    (".txt", "document.txt"),
    ("README.md", "readme (uploaded).md"),
])
def test_names_are_cleaned_to_a_plain_file_name(name, expected):
    assert clean_name(name) == expected


def test_a_very_long_name_is_cut_keeping_its_suffix():
    cleaned = clean_name("x" * 5000 + ".pdf")
    assert cleaned == "x" * MAX_NAME_CHARS + ".pdf"
    assert len(cleaned.encode("utf-8")) < 255


@pytest.mark.parametrize("name", ["program.exe", "archive.zip", "noextension", "report.pdf.exe", "", "x."])
def test_other_kinds_of_file_are_refused_by_name(name):
    with pytest.raises(UploadError, match=r"can be \.pdf \.docx \.html \.htm \.txt \.md \.png \.jpg \.jpeg \.tif \.tiff files"):
        clean_name(name)


def test_documents_of_each_kind_are_kept_under_uploads(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    pdf = tiny_pdf(["The harbour was quiet at dawn."])
    kept = {
        "a.pdf": pdf,
        "b.docx": docx_bytes(),
        "c.html": b"<!doctype html><html><body><p>Owls hunt at night.</p></body></html>",
        "d.htm": b"<p>Owls hunt at night.</p>",
        "e.txt": TEXT,
        "f.md": b"# Owls\n\n" + TEXT,
    }
    for name, data in kept.items():
        saved = save_upload(seeds, name, data, ROOMY)
        assert saved.source == f"uploads/{name}" and saved.size == len(data)
        assert (seeds / saved.source).read_bytes() == data
        read_document(seeds / saved.source, data)  # and the build's readers can read it
    assert not [p for p in (seeds / "uploads").iterdir() if p.name.startswith(".")]  # no temporary files left


@pytest.mark.parametrize(("name", "data", "why"), [
    ("invoice.pdf", b"MZ\x90\x00" + b"\x00" * 200, "is a program, not a document"),  # an .exe renamed .pdf
    ("tool.pdf", b"\x7fELF\x02\x01\x01" + b"\x00" * 100, "is a program"),
    ("fake.pdf", b"just some text pretending\n", "is not a PDF"),
    ("fake.docx", b"PK\x03\x04 not really a zip", "is not a Word .docx file"),
    ("fake.docx", TEXT, "is not a Word .docx file"),
    ("notes.txt", b"caf\xe9 au lait\n", "is not UTF-8 text (byte 3)"),
    ("notes.txt", b"text\x00with NUL\n", "binary data (NUL bytes)"),
    ("notes.md", tiny_pdf(["A PDF named .md."]), "holds a PDF file; rename it to end in .pdf"),
    ("page.html", TEXT, "has no HTML tags"),
    ("empty.txt", b"   \n", "is empty"),
])
def test_content_that_is_not_what_the_name_says_is_refused(tmp_path, name, data, why):
    with pytest.raises(UploadError, match=re.escape(why)):
        save_upload(tmp_path, name, data, ROOMY)
    assert not (tmp_path / "uploads").exists() or not list((tmp_path / "uploads").iterdir())


def test_zip_that_is_not_a_word_file_is_refused(tmp_path):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(UploadError, match=r"is not a Word \.docx file"):
        save_upload(tmp_path, "x.docx", out.getvalue(), ROOMY)


def test_size_limits_per_file_and_for_all_documents(tmp_path):
    (tmp_path / "old.txt").write_bytes(b"x" * 600)
    small = Limits(max_file_bytes=500, max_corpus_bytes=1000)
    with pytest.raises(UploadError, match="is 501 bytes; the limit is 500 bytes a file"):
        save_upload(tmp_path, "big.txt", b"y" * 501, small)
    with pytest.raises(UploadError, match="would take the documents to 1 KB, over the 1 KB limit"):
        save_upload(tmp_path, "more.txt", b"y" * 450, small)
    assert save_upload(tmp_path, "fits.txt", b"y" * 400, small).size == 400


def test_a_taken_name_gets_a_number_instead_of_replacing_a_document(tmp_path):
    first = save_upload(tmp_path, "notes.txt", TEXT, ROOMY)
    second = save_upload(tmp_path, "NOTES.txt", TEXT + b"more\n", ROOMY)
    assert (first.source, second.source) == ("uploads/notes.txt", "uploads/NOTES (2).txt")
    assert (tmp_path / first.source).read_bytes() == TEXT


def test_removing_moves_an_upload_aside_and_nothing_else_can_be_removed(tmp_path):
    saved = save_upload(tmp_path, "notes.txt", TEXT, ROOMY)
    (tmp_path / "original.txt").write_bytes(TEXT)
    assert removable(saved.source) and not removable("original.txt") and not removable("uploads/.removed/x.txt")
    moved = remove_upload(tmp_path, saved.source)
    assert not (tmp_path / saved.source).exists() and moved.read_bytes() == TEXT
    assert moved.parent == tmp_path / "uploads" / ".removed"  # hidden: never indexed, still there
    for source in ("original.txt", "../original.txt", "uploads/../original.txt", "uploads/.removed/notes.txt", None):
        with pytest.raises(UploadError, match="Only documents added from the page"):
            remove_upload(tmp_path, source)  # type: ignore[arg-type]
    assert (tmp_path / "original.txt").exists()
    with pytest.raises(UploadError, match="no longer in the documents folder"):
        remove_upload(tmp_path, saved.source)
