"""Document text as the chat shows it: inert HTML (`text_html`), with the line breaks that only wrap a paragraph
shown as spaces (`reflow`).

Safety: every piece of text that comes from a user or a document goes through `text_html`, which HTML-escapes it
*and* turns every character that Markdown, LaTeX or Mermaid could treat as syntax into a numeric entity, and turns
line breaks into `<br>`. The chat renders messages as Markdown with raw HTML allowed (then sanitises), so escaping
only `<>&` would still let a document line such as `![](http://tracker/x.png)` or `[x](javascript:...)` become an
image or a link.

Does not build a message (`ui.render` does) and never changes a character of the copied text or the JSON.
"""

from __future__ import annotations

import re

from rag.ingest.breaks import reflowed

# Characters with a meaning in Markdown (CommonMark + GFM), KaTeX delimiters,
# or HTML. As numeric entities they display as themselves and mean nothing.
_SPECIAL = "\\`*_{}[]()#+-.!|~$:<>&\"'=^%@/"
_ENTITIES = {ch: f"&#{ord(ch)};" for ch in _SPECIAL}


def text_html(text: str) -> str:
    """`text` as inert HTML: displays literally, is never markup, link, image or formula."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out = "".join(_ENTITIES.get(ch, ch) for ch in text)
    # No raw line breaks at all: a blank line would end the HTML block and let Markdown in.
    return out.replace("\n", "<br>").replace("\u2028", "<br>").replace("\u2029", "<br>")


def copy_text_html(text: str) -> str:
    """`text` as inert HTML whose DOM text is exactly `text`, line breaks included (as &#10;, never raw)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out = "".join(_ENTITIES.get(ch, ch) for ch in text)
    return out.replace("\n", "&#10;").replace("\u2028", "&#8232;").replace("\u2029", "&#8233;")


def reflow(text: str, document: str = "", start: int = 0) -> str:
    """`text` for reading on screen: line breaks that only wrap a paragraph become spaces.

    Keeps its length, so offsets into it still point at the same characters
    (the page shows runs of spaces as one); blank lines, list items, table
    rows and every line of a code block (fenced, or indented past the prose,
    also after a prose lead-in: `rag.ingest.breaks`) keep their breaks.
    A word broken by a hyphen at the line end ("Eu-" / "rope") is joined with
    a zero-width space instead, so it reads "Eu-rope". Only for display: the
    copied text and the JSON keep the document's characters. Given the `document` that `text` starts at
    `start` of, a line opening with "7." that ingest reads as its sentence going on goes on too.
    """
    def soft(shown: str, match: re.Match[str]) -> str:
        gap = match.group(0)
        before = shown[match.start() - 1] if match.start() else ""
        after = shown[match.end()] if match.end() < len(shown) else ""
        joined = before != "" and before in "-\u2010\u00ad" and after.islower() and match.start() >= 2 and shown[match.start() - 2].isalpha()
        return ("\u200b" if joined else " ") * len(gap)

    return reflowed(text, document, start, soft)
