"""Rules that recognise page furniture and pull quotes.

General rules that fit other pages of the same kind, not a list of one
page's strings: a short line repeated three or more times (navigation), photo
credits, "download the PDF" lines, CMS widget names, contact cards (an e-mail
address or phone number with the short label lines around it, and not a
sentence among them), units with no words at all, table of contents entries
(leader dots and a page number: read as text they answer nothing), and pull quotes (a short
paragraph whose words stand, verbatim, inside a longer paragraph). Each rule
returns {unit position: reason}; `rag.ingest.parse` applies them.

Never drops a list item, definition, table or code unit (but a table of
contents, in whatever shape): those are the document's own structure. Every rule is linear in the size of the document.
"""

from __future__ import annotations

import re
from collections import defaultdict

from rag.ingest.headings import COPYRIGHT, has_words, is_sentence, n_words
from rag.ingest.text import WORD_RE, sentence_spans
from rag.ingest.units import HEADING, LIST, Unit

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
# A CMS part's name ("comment-portlet", "social_share-buttons"), not a hyphenated term ("www-data", "set-up"):
# one of its parts names a kind of page widget.
_WIDGET = re.compile(r"^[a-z]+(?:[-_][a-z]+)+$")
_WIDGET_PART = re.compile(
    r"(?:^|[-_])(?:portlet|widget|block|share|sharing|social|menu|nav|navbar|sidebar|footer|header|related|embed|"
    r"button|buttons|banner|cookie|cookies|comment|comments|newsletter|subscribe|breadcrumb|breadcrumbs|toolbar|"
    r"teaser|carousel|slider|ad|ads|promo|tags)(?:$|[-_])")
NAV_MAX_WORDS = 6
NO_WORDS = "no words"
# A table of contents entry: a title, a run of leader dots and a page number ("2.1 Naming . . . . . 3").
_LEADERS = re.compile(r"(?:\.\s?){4,}\s*(?:\d{1,4}|[ivxlc]{1,6})\b")
TOC_WORDS = 12  # words an entry of a table of contents holds at most, besides its dots and page number
_SHINGLE = 4  # words per key in the pull-quote index


def furniture(clean: list[str], units: list[Unit], raw: list[str]) -> dict[int, str]:
    """Units with no words, navigation labels, photo credits, PDF lines, widget names and contact cards.

    `clean` is each unit's text without markup, `raw` its text as written.
    """
    found: dict[int, str] = {i: NO_WORDS for i, c in enumerate(clean) if not has_words(c)}
    for i, c in enumerate(clean):
        if i not in found and is_contents_entry(c):
            found[i] = "table of contents"
    counts = navigation_counts(clean, units)
    for i, c in enumerate(clean):
        if i in found or units[i].role == HEADING or units[i].structural:
            continue
        if _nav_candidate(c, units[i]) and counts[c.casefold()] >= 3:
            found[i] = f"short line repeated {counts[c.casefold()]} times (navigation label)"
        elif n_words(c) <= 15 and _CREDIT.search(c) and not c.endswith(".") and not COPYRIGHT.match(c):
            found[i] = "photo credit"
        elif n_words(c) <= 25 and _PDF_LINE.search(c):
            found[i] = "download-the-PDF line"
        elif _WIDGET.match(raw[i]) and _WIDGET_PART.search(raw[i]):
            found[i] = "page widget name"
    for i in contact_blocks(clean, units):
        found.setdefault(i, "contact block (e-mail or phone number)")
    return found


def is_contents_entry(s: str) -> bool:
    """Entries of a table of contents: each a short title, leader dots and a page number, and little else."""
    entries = len(_LEADERS.findall(s))
    return entries > 0 and n_words(_LEADERS.sub(" ", s)) <= TOC_WORDS * entries


def _nav_candidate(c: str, unit: Unit) -> bool:
    """A standalone short line that could be a navigation label; a line ending in ':' introduces content."""
    return unit.lines == 1 and not unit.structural and unit.role != HEADING and n_words(c) <= NAV_MAX_WORDS \
        and not c.endswith(":")


def navigation_counts(clean: list[str], units: list[Unit]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for c, u in zip(clean, units, strict=True):
        if _nav_candidate(c, u):
            counts[c.casefold()] += 1
    return counts


def contact_blocks(clean: list[str], units: list[Unit]) -> set[int]:
    """An e-mail or phone line with the short label lines around it, holding no sentence, is a contact card.

    A card has at least one label besides the address (a name, a role); a lone
    address line under a heading ("AUTHOR") is the document's own content, and
    so is a mailing list described in a sentence.
    """
    n = len(clean)
    found: set[int] = set()
    hi = -1
    for i, c in enumerate(clean):
        if i <= hi or not _is_contact_line(c, units[i]):
            continue  # (a line inside the card just looked at belongs to it)
        lo = i
        while lo > 0 and _is_contact_label(clean[lo - 1], units[lo - 1]):
            lo -= 1
        hi = i
        while hi + 1 < n and (_is_contact_label(clean[hi + 1], units[hi + 1])
                              or _is_contact_line(clean[hi + 1], units[hi + 1])):
            hi += 1
        card = range(lo, hi + 1)
        if hi > lo and not any(is_sentence(clean[j]) for j in card):
            found.update(card)
    return found


def _is_contact_line(c: str, unit: Unit) -> bool:
    return unit.role not in (LIST, HEADING) and not unit.structural and n_words(c) <= 15 \
        and bool(_EMAIL.search(c) or _PHONE.search(c))


def _is_contact_label(c: str, unit: Unit) -> bool:
    short = unit.role != HEADING and not unit.structural and n_words(c) <= 8
    return (short and not c.endswith((".", "!", "?"))) or c.rstrip(".") in ("Dr", "Prof")


def normalised_words(s: str) -> list[str]:
    """Words only, case-folded: the form in which a pull quote and its source are compared."""
    return [w.casefold() for w in WORD_RE.findall(s)]


def pull_quotes(texts: list[str], units: list[Unit], taken: set[int]) -> dict[int, str]:
    """A short one-sentence paragraph whose words stand, in order, inside a different, longer paragraph.

    Pull quotes repeat a body sentence out of place, so we keep the body
    sentence (with its neighbours) and drop the copy. Only a verbatim repeat
    counts (case, punctuation and spacing aside): a paraphrase is real text,
    and two identical paragraphs are both kept. `taken` are units already
    classified, which are neither candidates nor sources. Paragraphs are
    indexed by their word 4-grams, so the cost is linear in the document.
    """
    norm = [normalised_words(t) if i not in taken else [] for i, t in enumerate(texts)]
    index: dict[tuple[str, ...], list[tuple[int, int]]] = defaultdict(list)
    for j, ws in enumerate(norm):
        for p in range(len(ws) - _SHINGLE + 1):
            index[tuple(ws[p : p + _SHINGLE])].append((j, p))
    found: dict[int, str] = {}
    # The paragraph a quote repeats is longer than the quote, so never the quote itself: the answer
    # depends on the words alone, and a line repeated a thousand times is looked up once.
    source_of: dict[tuple[str, ...], int | None] = {}
    for i, t in enumerate(texts):
        ws = norm[i]
        if i in taken or not could_be_pull_quote(t, ws, units[i]):
            continue
        key = tuple(ws)
        if key not in source_of:
            source_of[key] = _source(ws, norm, index)
        source = source_of[key]
        if source is not None:
            found[i] = f"pull quote repeating words of the paragraph on line {units[source].line}"
    return found


def could_be_pull_quote(text: str, words: list[str], unit: Unit) -> bool:
    """A short paragraph of one whole sentence, not a heading or a structural unit."""
    return (not unit.structural and unit.role != HEADING and 4 <= len(words) <= 35
            and len(sentence_spans(text)) == 1 and text.rstrip().endswith((".", "!", "?", "”")))


def _source(ws: list[str], norm: list[list[str]], index: dict[tuple[str, ...], list[tuple[int, int]]]) -> int | None:
    """The first paragraph longer than `ws` that holds its words in order, found by their rarest 4-gram."""
    offset = min(range(len(ws) - _SHINGLE + 1), key=lambda p: len(index[tuple(ws[p : p + _SHINGLE])]))
    for j, p in index[tuple(ws[offset : offset + _SHINGLE])]:
        at = p - offset
        if len(norm[j]) > len(ws) and at >= 0 and norm[j][at : at + len(ws)] == ws:
            return j
    return None
