"""Read an HTML page's main content (trafilatura): headings, paragraphs, lists and tables as text.

Navigation, cookie banners, share bars, comments and footers are left out by
trafilatura's main-content extraction. Each heading (h1-h6) is its own block
and is recorded in `headings`; blocks are separated by a blank line; list
items are "- item" lines and table rows "| a | b |" lines. When trafilatura finds
no main content, all visible text is used instead and a note says so.

Nothing is fetched and no script runs: the page is parsed by lxml's HTML
parser, and trafilatura's XML output is parsed without entities, DTDs or
network access. Does not keep links, images or inline formatting.
"""

from __future__ import annotations

import re
from typing import Any

from rag.readers.base import Extracted, FormatError, TextBuilder, need, table_row

MAX_BYTES = 50 * 2**20
CHARSET = re.compile(rb"""(?i)<meta[^>]+charset\s*=\s*["']?\s*([a-z0-9_.:-]+)""")
HEADINGS = {f"h{n}": n for n in range(1, 7)}
# A page with any of these has furniture for the main-content reader to leave out.
FURNISHED = re.compile(r"""<(?:nav|header|footer|aside)\b|\b(?:class|id)\s*=\s*["'][^"']*"""
                       r"(?:nav|menu|footer|sidebar|cookie|share|banner|breadcrumb)", re.IGNORECASE)
KEEP_SHARE = 0.95  # below this share of an unfurnished page's visible words, the reader lost text
SKIP = {"script", "style", "noscript", "template", "head", "svg", "iframe", "object", "canvas", "select"}
BLOCKS = {"p", "div", "section", "article", "main", "header", "footer", "aside", "nav", "li", "ul", "ol", "dl",
          "dt", "dd", "table", "tr", "blockquote", "pre", "figure", "figcaption", "form", "br", "hr", "address"}


def read(data: bytes, name: str) -> Extracted:
    """The main content of an HTML page as text, with its headings."""
    if len(data) > MAX_BYTES:
        raise FormatError(f"the HTML file is {len(data):,} bytes, over the {MAX_BYTES:,}-byte limit")
    if not data.strip():
        raise FormatError("the file is empty")
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FormatError("looks like a binary file, not an HTML page")
    need("trafilatura", "trafilatura", "HTML pages")
    import trafilatura
    from lxml import etree

    page = decode(data)
    xml = trafilatura.extract(page, output_format="xml", include_tables=True, include_comments=False,
                              include_links=False, include_images=False, include_formatting=False,
                              with_metadata=True)
    if xml:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
        doc = etree.fromstring(xml.encode("utf-8"), parser)
        main, title = doc.find("main"), " ".join((doc.get("title") or "").split())
        words = " ".join(main.itertext()).split() if main is not None else []
        # Only the page title is no main content either (trafilatura returns it when it finds nothing else).
        if words and words != title.split():
            whole = _unfurnished_text(page, len(words))
            if whole is not None:
                return whole
            out = TextBuilder()
            names = {_text(h) for h in main.iter("head")}
            if title and main.find(".//head[@rend='h1']") is None and title not in names:
                out.block(title, level=1)
            _walk_xml(main, out)
            return out.build("html", [])
    out = TextBuilder()
    _visible_text(page, out)
    if not out.size:
        raise FormatError("the page has no visible text")
    return out.build("html", ["no main content found; kept all visible text of the page"])


def decode(data: bytes) -> str:
    """The page's text: by its byte-order mark, else its declared charset, else UTF-8, else windows-1252.

    windows-1252 is what browsers assume for an undeclared page that is not UTF-8 (the HTML standard's
    default), so a Latin-1 page reads "café crème" rather than a guess from byte statistics.
    """
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    declared = CHARSET.search(data[:4096])
    codecs = [declared.group(1).decode("ascii").lower()] if declared else []
    for codec in [*codecs, "utf-8"]:
        try:
            text = data.decode(codec)
        except (LookupError, UnicodeDecodeError):
            continue
        break
    else:
        text = data.decode("windows-1252", errors="replace")
    # lxml refuses a str that still declares an encoding in an XML declaration.
    return re.sub(r"^\s*<\?xml[^>]*\?>", "", text)


def _text(el: Any) -> str:
    return " ".join("".join(el.itertext()).split())


def _walk_xml(el: Any, out: TextBuilder) -> None:
    """trafilatura's XML (head, p, list/item, table/row/cell, quote, code) into blocks."""
    out.block(el.text or "")
    for child in el:
        tag = child.tag
        if tag == "head":
            rend = child.get("rend", "h2")
            out.block(_text(child), level=HEADINGS.get(rend, 2))
        elif tag == "list":
            out.lines(_items(child))
        elif tag == "table":
            out.lines([table_row([_text(c) for c in row.iter("cell")]) for row in child.iter("row")])
        elif tag in ("quote", "div", "main") and len(child):
            _walk_xml(child, out)
        else:
            out.block(_text(child))
        out.block(child.tail or "")


def _items(lst: Any) -> list[str]:
    """A list's items as "- item" lines, each nested list's items after their item."""
    lines: list[str] = []
    for item in lst.findall("item"):
        own = [item.text or ""]
        for child in item:
            if child.tag != "list":
                own.append("".join(child.itertext()))
            own.append(child.tail or "")
        lines.append("- " + " ".join("".join(own).split()))
        for sub in item.findall("list"):
            lines += _items(sub)
    return lines


def _unfurnished_text(page: str, kept: int) -> Extracted | None:
    """All visible text, when the main-content reader kept under `KEEP_SHARE` of a page that has no navigation,
    header, footer, menu or banner to leave out: an old-style page whose text sits between tags, which the
    reader loses. None otherwise."""
    if FURNISHED.search(page):
        return None
    out = TextBuilder()
    _visible_text(page, out)
    visible = len("".join(out.parts).split())
    if kept >= KEEP_SHARE * visible:
        return None
    return out.build("html", [f"kept all visible text: the main-content reader found {kept:,} of its {visible:,} "
                              "words on a page with no navigation, header or footer to leave out"])


def _visible_text(page: str, out: TextBuilder) -> None:
    """Every visible text of the page, block by block (used when no main content was found)."""
    import lxml.html
    from lxml import etree

    try:
        root = lxml.html.document_fromstring(page)
    except (ValueError, etree.LxmlError) as err:
        raise FormatError(f"the HTML cannot be parsed ({type(err).__name__}: {err})") from None
    buf: list[str] = []

    def flush() -> None:
        out.block(" ".join(buf))
        buf.clear()

    def walk(el: Any) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in SKIP or not tag:
            return
        if tag in HEADINGS:
            flush()
            out.block(el.text_content(), level=HEADINGS[tag])
            return
        if tag in BLOCKS:
            flush()
        buf.append(el.text or "")
        for child in el:
            walk(child)
            buf.append(child.tail or "")
        if tag in BLOCKS:
            flush()

    body = root.find("body")
    walk(body if body is not None else root)
    flush()
