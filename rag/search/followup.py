"""Follow-up questions: decide whether a question leans on earlier turns, and what to search for.

"And at the bilateral level?", "Why does that help?", "Is it safe to
enable?" or "What's the second one?" say little on their own. `resolve`
looks for the signs that a question leans on the conversation (an opening
"and"/"what about", a pronoun or demonstrative, an ordinal, a comparison
word, or hardly any words of its own) and, when it does, searches the
follow-up together with the content words of the previous question, itself
resolved the same way. Fixed rules only: nothing here is fitted to a
document.

A reference that cannot be resolved (no earlier question with content, or
"the second one" when the previous answer holds no list) is reported as
unresolved, and the answer says so instead of quoting unrelated text.

Does not rewrite the question with a language model, and never changes what
is quoted: only the text searched.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

from rag.errors import InputError
from rag.ingest.text import QUESTION_WORDS, STOPWORDS, word_set

UNRESOLVED_MESSAGE = ("I could not tell what this question refers to; ask it in full, naming what it is about "
                      "(for example the option, section or country).")

_TOKEN = re.compile(r"[^\s\"“”‘’'()\[\]{},;:?!]+(?:['’][^\s\"“”‘’'()\[\]{},;:?!]+)?")
_OPENING = re.compile(r"^\s*(?:and|but|or|so|also|plus|then|what about|how about|what if|same for|"
                      r"and what about|and how about)\b", re.IGNORECASE)
_PRONOUNS = frozenset(["it", "its", "it's", "itself", "they", "them", "their", "theirs", "they're", "those",
                       "these", "that", "this", "that's", "he", "him", "his", "she", "her", "hers", "one",
                       "ones"])
_PERSONAL = frozenset(["it", "its", "itself", "they", "them", "their", "theirs", "he", "him", "his", "she", "her",
                      "hers"])
_DEMONSTRATIVES = frozenset(["that", "this", "these", "those"])
# Verbs that say nothing of what is asked ("who gave that figure?"): an answer need not hold them.
_LIGHT = frozenset(["give", "gave", "given", "gives", "get", "gets", "got", "make", "makes", "made", "take",
                    "takes", "took", "use", "uses", "used", "do", "did", "done", "put", "puts", "come", "came"])
_ORDINALS = frozenset(["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
                       "tenth", "last", "latter", "former", "next", "previous"])
_COMPARISON = frozenset(["too", "else", "instead", "either", "other", "others", "another"])
# Words that carry no subject of their own in a follow-up ("what does it say about that?").
_GENERIC = frozenset(["say", "says", "mean", "means", "happen", "happens", "work", "works", "thing", "things",
                      "case", "cases", "detail", "details", "more", "part", "bit", "help", "helps", "thanks",
                      "thank", "ok", "okay", "great", "please", "yes", "no", "sure", "why", "how", "not",
                      "again", "about"]) | _PRONOUNS | _ORDINALS | _COMPARISON
_LIST_MARK = re.compile(r"(?m)^\s*(?:\d+[.)]|\([a-z]\)|\([ivx]+\)|[*•-])\s+|(?:^|[.!?:;]\s+)(?:First|Second|Third|"
                        r"Firstly|Secondly|Thirdly|Lastly|Finally),")
MAX_CONTEXT_WORDS = 24  # earlier words carried into a search, so a long history cannot crowd out the question
MAX_TURNS = 8  # earlier questions looked at, so a long conversation costs the same each turn
STEM_PREFIX = 4  # a word of this many letters or more matches any word it starts ("enabl"/"enable")
SHARED_START = 6  # else two words match when they share this many first letters, and all but one of the shorter
SHORT = 2  # a question with this many subject words or fewer is taken to lean on the previous one


@dataclass(frozen=True)
class Resolution:
    """What to search for a question asked after `history`.

    `searched` is the text to search when it differs from the question ("" when the question
    stands on its own); `unresolved` is True when it leans on earlier turns that cannot supply
    what it refers to.
    """

    searched: str
    unresolved: bool = False
    reason: str = ""  # which sign made it a follow-up, for people reading a report
    context: str = ""  # the earlier question it leans on, itself resolved


def check_history(history: object) -> list[str]:
    """The earlier questions as a list of strings; raise InputError on anything else."""
    if isinstance(history, (str, bytes)) or not isinstance(history, Sequence):
        raise InputError("history must be a list of the earlier questions (strings, oldest first), "
                         f"got {type(history).__name__}.")
    for item in history:
        if not isinstance(item, str):
            raise InputError(f"history must hold strings (the earlier questions), got {type(item).__name__}.")
    return [" ".join(item.split()) for item in history]


def tokens(text: str) -> list[str]:
    """Words as written ("-A", "json.dumps", "sort_keys"), without surrounding punctuation."""
    out = []
    for token in _TOKEN.findall(text):
        token = token.replace("\ufffd", "").strip(".")  # U+FFFD stands for undecodable input bytes
        token = re.sub(r"['’]s$", "", token)
        if token:
            out.append(token)
    return out


def subject_words(text: str) -> list[str]:
    """The words of `text` that say what it is about, as written: no stopwords, question or generic words."""
    seen: set[str] = set()
    out = []
    for token in tokens(text):
        low = token.lower()
        if low in STOPWORDS or low in QUESTION_WORDS or low in _GENERIC or low in seen or len(low) < 2:
            continue
        seen.add(low)
        out.append(token)
    return out


def leans(question: str) -> str:
    """Why `question` seems to lean on earlier turns ("" when it stands on its own)."""
    low = [t.lower() for t in tokens(question)]
    if any(t in _ORDINALS for t in low) and any(t in ("one", "ones", "item", "point", "step") for t in low):
        return "ordinal"
    if _OPENING.match(question):
        return "opening"
    if any(t in _PRONOUNS for t in low):
        return "pronoun"
    if any(t in _COMPARISON for t in low):
        return "comparison"
    if len(subject_words(question)) <= SHORT:
        return "short"
    return ""


def resolve(question: str, history: Sequence[str], *,
            has_list: Callable[[str], bool] | None = None) -> Resolution:
    """What to search for `question` asked after `history` (earlier questions, oldest first).

    `has_list(searched)` tells whether the answer to an earlier (resolved) question holds a
    list, which an ordinal follow-up ("the second one?") needs; without it, any is assumed.
    """
    context = ""
    for earlier in history[-MAX_TURNS:]:
        if not earlier.strip():
            continue
        step = _merge(earlier, context)
        if subject_words(step.searched or earlier):
            context = step.searched or earlier
    step = _merge(question, context)
    if step.reason == "ordinal" and not step.unresolved and has_list is not None and not has_list(context):
        return Resolution("", True, "ordinal without a list", context)
    return replace(step, context=context) if step.searched else step


def _merge(question: str, context: str) -> Resolution:
    reason = leans(question)
    if not reason:
        return Resolution("")
    own = subject_words(question)
    if not context:
        # Nothing earlier to lean on: a question with words of its own is searched as asked, unless
        # all it says is what is done to "it" or "them" ("Why was it removed?", "Who wrote it?").
        vague = bool(_PERSONAL.intersection(t.lower() for t in tokens(question))) and len(own) <= 1 and all(
            w.isalpha() and w.islower() for w in own)
        return Resolution("", not own or vague, reason)
    mine = {w.lower() for w in own}
    extra = [w for w in subject_words(context) if w.lower() not in mine][:MAX_CONTEXT_WORDS]
    if not extra:
        return Resolution("", not own, reason)
    return Resolution(f"{question} ({' '.join(extra)})", False, reason)


def grounded(question: str, quoted: Sequence[str]) -> bool:
    """True when a quote holds one of `question`'s own subject words, or it has none ("Why?").

    The noun of a back-reference ("that figure", "those blocks") names the earlier answer, not
    what is asked, so it is not required. Words match on their light stems, when one starts the
    other, or on a long common start ("enable"/"enabled", "cooperation"/"cooperate").
    """
    return known(question, set().union(*(word_set(text) for text in quoted)) if quoted else set())


def known(question: str, words: set[str] | frozenset[str]) -> bool:
    """True when one of `question`'s own subject words is among `words` (matched as `grounded` does),
    or it has none.

    With the words of the documents an answer was searched in, this says whether they mention
    what the follow-up itself asks about ("Does that work on ext4?" in a manual that never
    names ext4 cannot be answered from it, whatever the earlier question's words find).
    """
    own = own_words(question)
    return not own or any(_matches(word, words) for word in own)


def own_words(question: str) -> frozenset[str]:
    """The search tokens of `question`'s subject words, without back-references' nouns and light verbs."""
    toks = [t.lower() for t in tokens(question)]
    referents = {after for before, after in pairwise(toks) if before in _DEMONSTRATIVES}
    return word_set(" ".join(w for w in subject_words(question) if w.lower() not in referents | _LIGHT))


def _matches(word: str, found: set[str] | frozenset[str]) -> bool:
    if word in found:
        return True
    if len(word) < STEM_PREFIX:  # a shorter word matches only itself
        return False
    head = word[:STEM_PREFIX]  # every other match shares this start (both rules need it)
    for other in found:
        if not other.startswith(head):
            continue
        shorter = min(len(word), len(other))
        common = next((n for n, (a, b) in enumerate(zip(word, other, strict=False)) if a != b), shorter)
        if common == shorter >= STEM_PREFIX or common >= max(SHARED_START, shorter - 1):
            return True
    return False


def holds_list(text: str) -> bool:
    """True when `text` enumerates: numbered or lettered items, bullets, or "First, … Second, …"."""
    return _LIST_MARK.search(text) is not None


__all__ = ["UNRESOLVED_MESSAGE", "Resolution", "check_history", "grounded", "holds_list", "known", "leans",
           "own_words", "resolve", "subject_words"]
