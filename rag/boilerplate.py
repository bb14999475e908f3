"""Rules that recognise page furniture and pull quotes in scraped articles.

General rules that fit other pages of the same kind, not a list of one
page's strings: a short line repeated three or more times (navigation), photo
credits, "download the PDF" lines, CMS widget names, contact blocks (an
e-mail address or phone number with the short label lines around it), and
pull quotes (a short paragraph repeating a body sentence out of place). Each
rule returns {unit position: reason}; `rag.ingest` applies them.
"""

from __future__ import annotations

import re

from .layout import Unit, n_words
from .text import content_words, sentence_spans

_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_PHONE = re.compile(r"(?:\+|\b0)\d[\d\s\-/().]{6,}\d\b")
_CREDIT = re.compile(
    r"picture[- ]alliance|getty ?images|reuters|shutterstock|imago|\bdpa\b|\bafp\b|"
    r"associated press|\bap photo|\bphoto(?:graph)?s?\s*(?:by|:|credit)|\bfoto\b|©|"
    r"\(c\)\s*\d{4}|\bcredits?:|\bimage:|\bsource: (?:picture|photo)",
    re.IGNORECASE,
)
_PDF_LINE = re.compile(
    r"\b(?:pdf)\b.*\b(?:download|format|version|full|print|file)\b|"
    r"\b(?:download|format|version|full|print|file)\b.*\bpdf\b",
    re.IGNORECASE,
)
_WIDGET = re.compile(r"^[a-z]+(?:[-_][a-z]+)+$")


def furniture(clean: list[str], units: list[Unit]) -> dict[int, str]:
    """Navigation labels, photo credits, PDF lines, widget names and contact blocks."""
    found: dict[int, str] = {}
    counts: dict[str, int] = {}
    for c in clean:
        if n_words(c) <= 6:
            counts[c.casefold()] = counts.get(c.casefold(), 0) + 1
    for i, c in enumerate(clean):
        if units[i].markdown_heading or units[i].structural:
            continue
        if n_words(c) <= 6 and counts.get(c.casefold(), 0) >= 3:
            found[i] = f"short line repeated {counts[c.casefold()]} times (navigation label)"
        elif n_words(c) <= 15 and _CREDIT.search(c) and not c.endswith("."):
            found[i] = "photo credit"
        elif n_words(c) <= 25 and _PDF_LINE.search(c):
            found[i] = "download-the-PDF line"
        elif _WIDGET.match(c):
            found[i] = "page widget name"
    for i in contact_blocks(clean, units):
        found.setdefault(i, "contact block (e-mail or phone number)")
    return found


def contact_blocks(clean: list[str], units: list[Unit]) -> set[int]:
    """An e-mail or phone line, and the short label lines around it, is a contact block."""
    n = len(clean)
    found: set[int] = set()
    for i, c in enumerate(clean):
        if not _is_contact_line(c):
            continue
        lo = i
        while lo > 0 and _is_contact_label(clean[lo - 1], units[lo - 1]):
            lo -= 1
        hi = i
        while hi + 1 < n and (_is_contact_label(clean[hi + 1], units[hi + 1]) or _is_contact_line(clean[hi + 1])):
            hi += 1
        found.update(range(lo, hi + 1))
    return found


def _is_contact_line(c: str) -> bool:
    return n_words(c) <= 15 and bool(_EMAIL.search(c) or _PHONE.search(c))


def _is_contact_label(c: str, unit: Unit) -> bool:
    short = not unit.markdown_heading and not unit.structural and n_words(c) <= 8
    return (short and not c.endswith((".", "!", "?"))) or c.rstrip(".") in ("Dr", "Prof")


def pull_quotes(clean: list[str], taken: set[int]) -> dict[int, str]:
    """A short one-sentence paragraph that repeats a body sentence elsewhere.

    Pull quotes repeat a body sentence out of place, so we keep the body
    sentence (with its neighbours) and drop the copy. The match allows a
    close paraphrase: most of the quote's content words must occur in one or
    two consecutive sentences of a different paragraph. `taken` are units
    already classified, which are neither candidates nor body.
    """
    candidates = [
        i
        for i, c in enumerate(clean)
        if i not in taken and 4 <= n_words(c) <= 35 and len(sentence_spans(c)) == 1
        and c.endswith((".", "!", "?", "”"))
    ]
    windows: list[tuple[int, set[str]]] = []
    for i, c in enumerate(clean):
        if i in taken or n_words(c) < 15:
            continue
        sents = [set(content_words(c[s:e])) for s, e in sentence_spans(c)]
        for k in range(len(sents)):
            windows.append((i, sents[k]))
            if k + 1 < len(sents):
                windows.append((i, sents[k] | sents[k + 1]))
    found: dict[int, str] = {}
    for i in candidates:
        want = set(content_words(clean[i]))
        if len(want) < 3:
            continue
        best = max((len(want & w) / len(want) for j, w in windows if j != i), default=0.0)
        if best >= 0.7:
            found[i] = f"pull quote repeating a body sentence ({best:.0%} of its words)"
    return found
