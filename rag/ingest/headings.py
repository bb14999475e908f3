"""The shapes of headings, labels and sentences in plain-text documents.

Small predicates on one line or one unit's text, shared by `rag.ingest.units`
(which splits a file into units), `rag.ingest.parse` (which decides what each unit
is) and `rag.ingest.chunk` (which keeps a run-in label with its sentence). The forms
are the ones documents use: numbered ("8. Termination", "1.2 Scope"),
"Article 9" / "Section 3(a)", ALL-CAPS man-page and pydoc sections, Markdown
ATX headings, Setext / reStructuredText underlines, Org-mode outline stars,
Sphinx's pilcrow, and FAQ questions (numbered, or "Q:").

Does not look at a unit's neighbours: whether a heading-shaped line really
heads something is decided in `rag.ingest.parse`.
"""

from __future__ import annotations

import re

_SENTENCE_END = (".", "!", "?", ".”", '."', ".)", "?”", '?"', "!”")

ATX = re.compile(r"^#{1,6}\s+\S")
BULLETS = "-*+•◦○●▪▫■□‣⁃"  # the marks lists are drawn with, a man page's "○" among them
BULLET = re.compile(rf"^[{re.escape(BULLETS)}]\s")
RULE = re.compile(r"^([=\-~*^+#_])\1{2,}$")  # a line of one repeated mark: an underline or a rule
LIST_ITEM = re.compile(f"^(?:[{re.escape(BULLETS)}]|" + r"\d{1,3}[.)]|\([a-z]\)|[a-z]\)|\((?:i|ii|iii|iv|v|vi|vii|viii|ix|x)\))\s+\S")
TABLE_ROW = re.compile(r"^[|+].*[|+]$")
_GRID_BORDER = re.compile(r"^\+[-=+:]+\+$")
OUTLINE = re.compile(r"^\*{1,6}\s+\S")  # Org-mode: "* INTRODUCTION", "** Socket directory"
NUMBER = re.compile(r"^(?:\d{1,3}(?:\.\d{1,3})*\.?|[IVXLC]{1,6}\.|[A-Z]\.)(?=\s)")
MULTI_LEVEL = re.compile(r"^\d{1,3}(?:\.\d{1,3})+\.?(?=\s)")  # "1.2" / "1.2." / "3.5.1."
ASKED = re.compile(r"^(?:Q|Question)\s*:\s+\S")  # an FAQ's "Q:  How do I ...?"
# A URL, a shell prompt, an option, an assignment, code or markup (a MyST target: "(label)=").
CODE_LIKE = re.compile(r"://|^\$\s|^--?\w|\w\s?=(?!=)|[|;{}<>`]|^\(.*\)=$")
# The document's own notice ("Copyright © 2005 A. Name", "Copyright 2019 The Authors"): never a credit or a heading.
# A section named "Copyright" or "Copyright and licence" has no year and no sign, and is a heading as any other.
COPYRIGHT = re.compile(r"^copyright\b.*(?:\b\d{4}\b|©|\(c\))", re.IGNORECASE)
ANSWERED = re.compile(r"^(?:A|Answer)\s*:\s+\S")  # and its "A:  ..."
ARTICLE = re.compile(
    r"^(?:article|section|chapter|part|appendix|annex|schedule|clause|exhibit|§)\s*"
    r"(?:\d{1,4}|[ivxlcdm]{1,7}|[a-z])\b[\w.()\-]*(?=\s|$)",
    re.IGNORECASE,
)
# A bare marker as sentence_spans cuts it off a paragraph's start: "5.1.", "2.", "(a)".
_BARE_MARKER = re.compile(r"^(?:\d{1,3}(?:\.\d{1,3})*\.?|[IVXLC]{1,6}\.|\(?[a-z0-9]{1,3}\))$")
_WORD = re.compile(r"[^\W_]")


def n_words(s: str) -> int:
    return len(s.split())


def has_words(s: str) -> bool:
    """Whether `s` holds any letter or digit at all."""
    return bool(_WORD.search(s))


def is_short_label(s: str) -> bool:
    """A short line with no sentence punctuation: a heading, a name, a label."""
    return n_words(s) <= 12 and len(s) <= 120 and not s.rstrip("*_ \"”’)]").endswith(tuple(".!?,;:…"))


def is_prose(s: str) -> bool:
    return n_words(s) >= 15 or (n_words(s) >= 4 and s.rstrip("*_ ").endswith((".", "!", "?", ".”", '."')))


def is_sentence(s: str) -> bool:
    """Four or more words ending in . ! or ? (closing quotes and brackets allowed)."""
    return n_words(s) >= 4 and s.rstrip().endswith(_SENTENCE_END)


def is_all_caps(s: str) -> bool:
    """An upper-case label such as a man page's "DESCRIPTION" or "EXIT STATUS"."""
    letters = [c for c in s if c.isalpha()]
    return (
        len(letters) >= 2
        and not any(c.islower() for c in letters)
        and n_words(s) <= 8
        and not s.rstrip().endswith(tuple(".!?,;"))
    )


def is_table_row(s: str) -> bool:
    """A pipe-table row ("| a | b |") or a grid-table border ("+---+---+")."""
    return bool(TABLE_ROW.match(s)) and (s.count("|") >= 2 or bool(_GRID_BORDER.match(s)))


def numbered_label(s: str) -> bool:
    """A numbered label that may end in a full stop: "8. Termination.", "2.1 Grants",
    "13. Use with the GNU Affero General Public License." (a clause's title in headline case)."""
    m = NUMBER.match(s)
    if not m:
        return False
    rest = s[m.end() :].strip()
    return bool(rest) and (is_short_label(rest) or (n_words(s) <= 6 and rest.endswith(".") and title_case(rest)) or (
        rest.endswith(".") and is_short_label(rest[:-1]) and headline_case(rest[:-1])))


def heading_name(clean: str) -> str:
    """A heading's name as a section: "8. Termination." names section "8. Termination"."""
    return clean[:-1].rstrip() if clean.endswith(".") and numbered_label(clean) else clean


def underlinable(s: str) -> bool:
    """A line that a following line of ===, --- or ~~~ makes a heading."""
    return (
        has_words(s)
        and n_words(s) <= 12
        and len(s) <= 100
        and (not s.endswith(tuple(".!,;:")) or numbered_label(s) or (s.endswith(".") and title_case(s)))
    )  # an underlined question is an FAQ's heading


def question(s: str) -> bool:
    """An FAQ-style question: "1.2. Where does the name come from?" or "Q:  Why is it named so?".

    A question may also be posed as "... fails with this:" when its number
    is multi-level ("2.2."), as FAQs number their questions.
    """
    s = s.rstrip()
    if not (NUMBER.match(s) or ASKED.match(s)) or n_words(s) > 60:
        return False
    if s.endswith(("?", "?”", '?"')):
        return True
    return s.endswith(":") and bool(MULTI_LEVEL.match(s))


_ASKING = re.compile(r"^(?:why|how|what|when|where|which|who|can|could|is|are|do|does|did|should|will|would|"
                     r"may|must|has|have|i|my)\b", re.IGNORECASE)
# A word a heading never ends on: "…/usr/local/share/mime/text/html.xml, and" is a line cut from a sentence.
_OPEN_END = re.compile(r"(?:,|\b(?:and|or|nor|but|the|a|an|of|to|in|on|at|by|for|with|from|as|if|that|than))$",
                       re.IGNORECASE)
# A path ("/usr/share/mime"), a "type:name" pair or a lone token with a slash: a file's line, not a heading.
_LISTING = re.compile(r"(?:^|\s)[~.$]?/\w|^\S*\w[/:]\w\S*$")


def plain_question(s: str) -> bool:
    """An unnumbered FAQ question on a line of its own: "Why do long usernames get printed as numbers?"."""
    s = s.rstrip()
    return s.endswith(("?", "?”", '?"')) and n_words(s) <= 30 and bool(_ASKING.match(s))


def cut_or_listed(s: str) -> bool:
    """A short line that is no heading by its words: it stops mid-phrase, or it is a path or a "type:name" entry."""
    return bool(_OPEN_END.search(s.rstrip())) or bool(_LISTING.search(s))


def title_case(s: str) -> bool:
    """Every word of four or more letters is capitalised, and there is one."""
    long_words = [w for w in re.findall(r"[^\W\d_]+", s) if len(w) >= 4]
    return bool(long_words) and all(w[0].isupper() for w in long_words)


# Short words a title leaves in lower case ("Revised Versions of this License", "Use with the GNU Affero ...").
_MINOR = frozenset(["about", "after", "against", "among", "before", "between", "from", "into", "onto", "over", "than",
                    "that", "their", "these", "this", "those", "through", "under", "upon", "when", "where", "which",
                    "with", "within", "without", "your"])


def headline_case(s: str) -> bool:
    """A title as headlines write it: two or more capitalised words of four or more letters, and every other
    word that long is one a title leaves in lower case ("with", "this", "from")."""
    long_words = [w for w in re.findall(r"[^\W\d_]+", s) if len(w) >= 4]
    major = [w for w in long_words if w.lower() not in _MINOR]
    return len(major) >= 2 and all(w[0].isupper() for w in major)


def is_bare_marker(s: str) -> bool:
    return bool(_BARE_MARKER.match(s.strip()))


def run_in_label(text: str, spans: list[tuple[int, int]], *, max_words: int = 6) -> int:
    """How many leading sentences of a paragraph are a run-in label ("2. Grant of Copyright License.").

    A bare number ("5.1.") or a short Title-Case phrase ending in a full stop
    at the start of a paragraph labels what follows; it is not a sentence to
    quote on its own. Returns 0 when there is no label, and never counts the
    paragraph's last sentence.
    """
    count = words = 0
    while count < len(spans) - 1:
        s = text[spans[count][0] : spans[count][1]]
        words += n_words(s)
        if words > max_words:
            break
        if is_bare_marker(s):
            count += 1
            continue
        if s.endswith(".") and title_case(_unnumbered(s)):
            count += 1
        break
    return count


def label_text(text: str, spans: list[tuple[int, int]], count: int) -> str | None:
    """The section name a run-in label gives ("2. Grant of Copyright License"), or None for a bare number."""
    if count == 0:
        return None
    label = " ".join(text[spans[0][0] : spans[count - 1][1]].split())
    if not NUMBER.match(label) or not has_words(_unnumbered(label)):
        return None
    return label.rstrip(".").strip()


def _unnumbered(s: str) -> str:
    """`s` without its leading number ("2.1. Grants" -> "Grants")."""
    m = NUMBER.match(s)
    return s[m.end() :].strip() if m else s
