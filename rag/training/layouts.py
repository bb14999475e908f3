"""Find question headings and the paragraphs that answer them, in plain text and HTML.

A document becomes a list of `Block`s (a paragraph with its indentation and the
marker it starts with); a block is a question when its layout says so:
- a numbered line ("4.", "1.2.4", " 7.") or a "Q:"/"Q." line that ends in "?";
- a Markdown heading, an underlined heading, an HTML heading or <dt> ending in "?";
- an unmarked line or two ending in "?" that the next paragraph is indented under;
- in a document named as a FAQ or a list of problems, also a problem statement:
  a numbered or "*" item ending in ".", or the first paragraph after a separator
  line ("*****", "-----"), or an HTML list item that opens with emphasised text.
The answer is the run of paragraphs after the question up to the next question or
heading. Does not judge whether an answer is good (length, code, URLs): that is
`rag.training.mine`, and does not read files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

NUMBERED = re.compile(r"^(\d{1,2}\.(?:\d{1,2}\.?)*)[ \t]+(\S.*)$")
QMARK = re.compile(r"^(?:Q(?:uestion)?\s*\d*\s*[:.)])\s*(\S.*)$")
AMARK = re.compile(r"^(?:A(?:nswer)?\s*\d*\s*[:.)])\s*")
HASHES = re.compile(r"^#{1,6}\s+(\S.*?)\s*#*$")
BULLET = re.compile(r"^[*-]\s+(\S.*)$")
RULE = re.compile(r"^\s*([-=*_#~+])\1{3,}\s*$")
MAX_QUESTION = 300


@dataclass
class Block:
    """One paragraph: its text lines (indentation removed) and how it is marked."""

    lines: list[str]
    indent: int
    mark: str = ""  # "num", "q", "a", "hash", "bullet", "under", "html-q", "html-lead" or ""
    after_rule: bool = False

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.lines).split())


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def text_blocks(text: str) -> list[Block]:
    """Paragraphs of a plain-text or Markdown document; a numbered line at the margin starts its own."""
    blocks: list[Block] = []
    cur: list[str] = []
    rule = False

    def flush() -> None:
        nonlocal rule
        if cur:
            blocks.append(_block(cur, rule))
            rule = False
        cur.clear()

    for raw in text.expandtabs(8).splitlines():
        line = raw.rstrip()
        if not line.strip():
            flush()
        elif RULE.match(line):
            if cur and len(cur) <= 3 and line.strip()[0] in "=-~^":  # an underline: the lines above are a heading
                blocks.append(_block(cur, rule, mark="under"))
                cur.clear()
                rule = False
            else:
                flush()
                rule = True
        elif HASHES.match(line):  # a Markdown heading is a block of its own
            flush()
            cur.append(line)
            flush()
        elif (NUMBERED.match(line) or QMARK.match(line.lstrip())) and _indent(line) <= 2:
            flush()
            cur.append(line)
        else:
            cur.append(line)
    flush()
    return blocks


def _block(lines: list[str], after_rule: bool, mark: str = "") -> Block:
    indent = min(_indent(x) for x in lines)
    body = [x[indent:] for x in lines]
    first = body[0].strip()
    for pattern, name in ((NUMBERED, "num"), (QMARK, "q"), (HASHES, "hash"), (BULLET, "bullet")):
        found = pattern.match(first) if indent <= 2 else None
        if found and not mark:
            body[0] = found.group(found.lastindex or 1) if name == "num" else found.group(1)
            mark = name
            break
    if not mark and AMARK.match(first):
        body[0], mark = AMARK.sub("", first), "a"
    return Block(body, indent, mark, after_rule)


def _question(block: Block, nxt: Block | None, faq: bool) -> bool:
    text = block.text
    if not text or len(text) > MAX_QUESTION or nxt is None or len(block.lines) > 4:
        return False
    asks = text.endswith("?")
    if block.mark in ("q", "hash", "under", "html-q", "html-lead"):
        if asks:
            return True
    elif block.mark == "num":  # outside a FAQ, a numbered question is a checklist item unless its answer is indented
        if asks and (faq or nxt.indent > block.indent):
            return True
    elif block.mark == "bullet":  # outside a FAQ, a bullet ending in "?" is a list item, not a heading
        if asks and faq and nxt.mark == "":
            return True
    elif block.mark == "" and asks and len(block.lines) <= 2 and (nxt.indent > block.indent or nxt.mark == "a"):
        return True
    # A problem statement ("compress() returns Z_BUF_ERROR.") heads an answer only in a FAQ, over prose.
    if not faq or nxt.mark not in ("", "li", "a") or len(block.lines) > 3:
        return False
    if block.mark == "num":
        return text.endswith(".") and nxt.indent > block.indent
    if block.mark == "bullet":
        return text.endswith(".")
    return block.mark == "html-lead" or (block.mark == "" and block.after_rule)


def _heading(block: Block) -> bool:
    return block.mark in ("num", "hash", "under", "html-q", "html-lead") or block.after_rule


def pairs(blocks: list[Block], *, faq: bool) -> list[tuple[str, list[Block]]]:
    """(question, answer paragraphs) in document order; a question with no paragraph under it is left out."""
    out: list[tuple[str, list[Block]]] = []
    i = 0
    while i < len(blocks):
        nxt = blocks[i + 1] if i + 1 < len(blocks) else None
        if not _question(blocks[i], nxt, faq):
            i += 1
            continue
        question = blocks[i]
        i += 1
        # Several "Q." blocks in a row share one "A." (they ask the same thing in other words).
        while question.mark == "q" and i < len(blocks) and blocks[i].mark == "q":
            i += 1
        body: list[Block] = []
        while i < len(blocks):
            cur = blocks[i]
            nxt = blocks[i + 1] if i + 1 < len(blocks) else None
            if _heading(cur) or cur.mark == "q" or (body and _question(cur, nxt, faq)):
                break
            if cur.indent < question.indent:
                break
            body.append(cur)
            i += 1
        if body:
            out.append((question.text, body))
    return out


class _Html(HTMLParser):
    """Block-level text of an HTML page: headings, <dt>, paragraphs and list-item openers."""

    BLOCKS = frozenset({"p", "dd", "pre", "div", "td", "blockquote", "ul", "ol", "table", "br"})
    SKIP = frozenset({"script", "style", "head", "title", "noscript"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self.buf: list[str] = []
        self.kind = ""
        self.skip = 0
        self.lead = False  # inside an <li>'s opening <em>/<strong>/<b>

    def _flush(self, next_kind: str = "") -> None:
        text = " ".join("".join(self.buf).split())
        if text:
            mark = "html-q" if self.kind in ("h1", "h2", "h3", "h4", "h5", "h6", "dt") else self.kind
            self.blocks.append(Block([text], 0, mark))
        self.buf, self.kind = [], next_kind

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skip += 1
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6", "dt") or tag in self.BLOCKS:
            self._flush(tag if tag not in self.BLOCKS else "")
        elif tag == "li":
            self._flush("li")
        elif tag in ("em", "strong", "b") and self.kind == "li" and not "".join(self.buf).strip():
            self.lead = True

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in ("em", "strong", "b") and self.lead:
            self.lead = False
            self.kind = "html-lead"
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6", "dt", "li") or tag in self.BLOCKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self.skip:
            if self.kind == "html-lead" and data.strip():  # text after the lead: the item is not a question heading
                self.kind = "li"
            self.buf.append(data)


def html_blocks(page: str) -> list[Block]:
    """Block-level text of an HTML page, with headings, <dt> and emphasised list openers marked."""
    parser = _Html()
    parser.feed(page)
    parser.close()
    parser._flush()
    return parser.blocks
