"""Documents made on the fly for the format-reader tests (`tests/readers/test_formats.py`).

* `report_html` / `print_pdf`: the report from seeds/ laid out as printed
  pages (one or two columns, a running header, a "Page N" footer, soft
  hyphens so lines end in hyphenated words) and printed to PDF by Debian's
  headless Chromium.
* `article_html`: a web page with navigation, a cookie banner, a share bar
  and a footer around an article.
* `report_docx`: a Word file with a title, headings, a list and a table.
* `tiny_pdf`: a hand-written PDF (Helvetica text per page), optionally
  encrypted with the standard RC4 security handler and a user password.
* `zip_bomb_docx`: a .docx whose padding member unpacks to hundreds of MiB.
"""

from __future__ import annotations

import hashlib
import html
import io
import re
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest

REPORT = Path(__file__).resolve().parent.parent / "seeds" / "japan-nato-alignment.txt"
HEADER = "Konrad-Adenauer-Stiftung · International Reports · Japan-NATO Alignment"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PAGE_BUDGET = 2600  # characters of body text per printed page (the text area holds about 3,200)


def report_paragraphs() -> list[str]:
    """The report's paragraphs, whitespace collapsed (blank ones dropped)."""
    text = REPORT.read_text(encoding="utf-8")
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.split()]


def is_heading(paragraph: str) -> bool:
    """Short lines without closing punctuation are the report's headings (and its few label lines)."""
    return len(paragraph) < 90 and not re.search(r"[.!?:”\"]$", paragraph)


def paginate(paragraphs: list[str], budget: int = PAGE_BUDGET) -> list[list[tuple[str, str]]]:
    """Paragraphs cut into pages of about `budget` characters: (tag, text) pieces, split mid-paragraph.

    The piece of a paragraph that goes on at the top of a page is tagged "p class=cont" (no indent).
    """
    pages: list[list[tuple[str, str]]] = [[]]
    room = budget
    for p in paragraphs:
        if is_heading(p):
            if room < 400:  # no heading at the foot of a page
                pages.append([])
                room = budget
            pages[-1].append(("h2", p))
            room -= len(p) + 100
            continue
        tag = "p"
        while len(p) > room:
            cut = p.rfind(" ", 0, max(room, 1))
            if cut > 0:
                pages[-1].append((tag, p[:cut]))
                p, tag = p[cut + 1 :], "p class=cont"  # goes on at the top of the next page
            pages.append([])
            room = budget
        pages[-1].append((tag, p))
        room -= len(p) + 80
    return [page for page in pages if page]


def soft_hyphens(text: str) -> str:
    """Escaped text with soft hyphens in long words, so Chromium breaks lines inside them."""
    def split(m: re.Match[str]) -> str:
        word = m.group(0)
        cuts = range(4, len(word) - 3, 4)
        return "&shy;".join(word[a:b] for a, b in zip([0, *cuts], [*cuts, len(word)], strict=True))

    return re.sub(r"[A-Za-z]{9,}", split, html.escape(text))


def report_html(columns: int, *, indent: bool = False) -> tuple[str, list[list[tuple[str, str]]]]:
    """The report as printable HTML: page-sized sections with a header line and a "Page N" footer.

    Paragraphs are justified and spaced apart, or with `indent` ragged-right with a first-line
    indent and no space between them.
    """
    pages = paginate(report_paragraphs())
    css = f"""@page {{ size: 8.5in 11in; margin: 0 }}
body {{ margin: 0; font: 11pt/1.45 'DejaVu Serif', serif; text-align: justify; hyphens: manual }}
section {{ height: 11in; position: relative; overflow: hidden; box-sizing: border-box; padding: 1in;
          break-after: page }}
.hdr {{ position: absolute; top: 0.45in; left: 1in; right: 1in; font-size: 9pt; border-bottom: 1px solid #888 }}
.ftr {{ position: absolute; bottom: 0.45in; left: 1in; right: 1in; font-size: 9pt; text-align: center }}
.body {{ column-count: {columns}; column-gap: 0.35in; column-fill: auto; height: 9in }}
p {{ margin: 0 0 0.6em 0 }} p.cont {{ text-indent: 0 }} h2 {{ font-size: 14pt; margin: 0.5em 0 0.4em; text-align: left }}"""
    if indent:
        css += "\nbody { text-align: left } p { margin: 0; text-indent: 1.5em }"
    out = [f"<!doctype html><html lang=en><head><meta charset=utf-8><style>{css}</style></head><body>"]
    for n, page in enumerate(pages, 1):
        out.append(f"<section><div class=hdr>{html.escape(HEADER)}</div><div class=body>")
        out += [f"<{tag}>{soft_hyphens(text)}</{tag.split()[0]}>" for tag, text in page]
        out.append(f"</div><div class=ftr>Page {n}</div></section>")
    out.append("</body></html>")
    return "\n".join(out), pages


def print_pdf(html_text: str, folder: Path, name: str) -> Path:
    """Print HTML to PDF with headless Chromium (skips the test when Chromium is missing)."""
    if CHROMIUM is None:
        pytest.skip("needs Debian's chromium to print the PDF fixtures (`apt-get install -y chromium`)")
    source, target = folder / f"{name}.html", folder / f"{name}.pdf"
    source.write_text(html_text, encoding="utf-8")
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                    "--disable-background-networking", "--no-first-run", f"--print-to-pdf={target}",
                    source.as_uri()], check=True, capture_output=True, timeout=120)
    return target


FURNITURE = {
    "nav": "Home World Politics Business Subscribe Sign in",
    "cookie": "We use cookies to give you the best experience. Accept all cookies Manage preferences",
    "share": "Share on Facebook Share on X Share on LinkedIn Copy link",
    "footer": "© 2024 Example Media Group. Imprint · Privacy policy · Terms of use · Contact us",
}


def article_html() -> tuple[str, list[str], list[str]]:
    """A news page: furniture around an article. Returns (html, body paragraphs, h2 headings)."""
    paras = [p for p in report_paragraphs() if not is_heading(p) and len(p) > 200][:6]
    heads = ["Japan’s Security Environment and Potential for Cooperation", "Cybersecurity and Disinformation"]
    body = (f"<h1>Japan-NATO Alignment</h1><p class=lead>{html.escape(paras[0])}</p>"
            f"<p>{html.escape(paras[1])}</p><h2>{heads[0]}</h2><p>{html.escape(paras[2])}</p>"
            f"<p>{html.escape(paras[3])}</p><ul><li>Cyber defence exercises</li><li>Maritime domain awareness</li>"
            f"</ul><h2>{heads[1]}</h2><p>{html.escape(paras[4])}</p><p>{html.escape(paras[5])}</p>"
            "<table><tr><th>Partner</th><th>Since</th></tr><tr><td>Japan</td><td>2014</td></tr></table>")
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Japan-NATO Alignment | Example</title>
<script>document.write("script text must not appear")</script><style>.x{{color:red}}</style></head><body>
<header><nav class="menu"><ul>{"".join(f'<li><a href="/{w}">{w}</a></li>' for w in FURNITURE["nav"].split())}</ul></nav></header>
<div id="cookie-banner" class="cookie-consent"><p>{FURNITURE["cookie"]}</p></div>
<main><article>{body}
<div class="share-buttons social"><a href="#">{'</a> <a href="#">'.join(FURNITURE["share"].split(" Share"))}</a></div>
</article></main>
<footer class="site-footer"><p>{FURNITURE["footer"]}</p></footer></body></html>"""
    return page, paras, heads


def report_docx() -> bytes:
    """A Word file: Title, Heading 1/2, body paragraphs, a bulleted list and a table."""
    import docx

    doc = docx.Document()
    paras = [p for p in report_paragraphs() if not is_heading(p) and len(p) > 200]
    doc.add_heading("Japan-NATO Alignment", 0)
    doc.add_paragraph(paras[0])
    doc.add_heading("Japan’s Security Environment and Potential for Cooperation", 1)
    doc.add_paragraph(paras[1])
    doc.add_heading("Cybersecurity and Disinformation", 2)
    for item in ("Cyber defence exercises", "Maritime domain awareness", "Space situational awareness"):
        doc.add_paragraph(item, style="List Bullet")
    table = doc.add_table(rows=3, cols=2)
    for row, cells in zip(table.rows, [("Partner", "Since"), ("Japan", "2014"), ("Australia", "2013")], strict=True):
        for cell, value in zip(row.cells, cells, strict=True):
            cell.text = value
    doc.add_paragraph(paras[2])
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def zip_bomb_docx(unpacked_mib: int = 320) -> bytes:
    """A .docx-shaped zip whose padding member unpacks to `unpacked_mib` MiB of zeros (about 0.3 MiB packed)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
        with archive.open("word/media/padding.bin", "w", force_zip64=True) as member:
            chunk = bytes(2**20)
            for _ in range(unpacked_mib):
                member.write(chunk)
    return out.getvalue()


def xlsx_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return out.getvalue()


# --- a hand-written PDF, optionally RC4-encrypted --------------------------------

PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def rc4(key: bytes, data: bytes) -> bytes:
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    out, i, j = bytearray(), 0, 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


def _pdf_string(text: str) -> bytes:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1")


def tiny_pdf(pages: list[str | None], password: str | None = None) -> bytes:
    """A Letter-size PDF of Helvetica lines ("\n" splits them; None: a page with only a grey box, no text).

    Characters are Helvetica's standard encoding: "\xae" draws the fi ligature.

    With `password`, encrypted by the standard security handler (revision 2, RC4 40-bit): it opens
    only with that password.
    """
    n = len(pages)
    font = 3 + 2 * n
    objects: dict[int, bytes] = {1: b"<< /Type /Catalog /Pages 2 0 R >>",
                                 2: b"<< /Type /Pages /Kids [%s] /Count %d >>"
                                 % (b" ".join(b"%d 0 R" % (3 + 2 * k) for k in range(n)), n),
                                 font: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"}
    streams: dict[int, bytes] = {}
    for k, line in enumerate(pages):
        page, content = 3 + 2 * k, 4 + 2 * k
        objects[page] = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 %d 0 R"
                         b" >> >> /Contents %d 0 R >>" % (font, content))
        if line is None:
            streams[content] = b"0.5 g 72 72 468 648 re f"
        else:
            shown = [b"(" + _pdf_string(row) + b") Tj" for row in line.split("\n")]
            streams[content] = b"BT /F1 12 Tf 15 TL 72 720 Td " + b" T* ".join(shown) + b" ET"
    file_id = hashlib.md5(b"tiny").digest()
    trailer_extra = b""
    if password is not None:
        perms = -44
        user = (password.encode("latin-1") + PAD)[:32]
        owner_value = rc4(hashlib.md5(user).digest()[:5], user)
        key = hashlib.md5(user + owner_value + struct.pack("<i", perms) + file_id).digest()[:5]
        user_value = rc4(key, PAD)
        for num, data in streams.items():
            streams[num] = rc4(hashlib.md5(key + num.to_bytes(3, "little") + b"\0\0").digest()[:10], data)
        enc = font + 1
        objects[enc] = b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P %d >>" % (
            owner_value.hex().encode(), user_value.hex().encode(), perms)
        trailer_extra = b" /Encrypt %d 0 R" % enc
    for num, data in streams.items():
        objects[num] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(data), data)
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for num in sorted(objects):
        offsets[num] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (num, objects[num])
    xref = len(out)
    size = max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    out += b"".join(b"%010d 00000 n \n" % offsets[num] for num in range(1, size))
    out += b"trailer\n<< /Size %d /Root 1 0 R /ID [<%s> <%s>]%s >>\nstartxref\n%d\n%%%%EOF\n" % (
        size, file_id.hex().encode(), file_id.hex().encode(), trailer_extra, xref)
    return bytes(out)
