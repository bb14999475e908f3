"""Gold-question sets: reading them and deciding what counts as relevant.

A gold set is JSONL, one question per line:

    {"id": "q001", "question": "...", "answerable": true,
     "evidence": [{"source": "report.txt", "text": "verbatim span"}],
     "kind": "paraphrase", "section": "Steps to Take"}

Evidence is given as exact text (found in the source) or as offsets
({"source", "start", "end"}), so a set survives re-chunking. A passage or
quote is relevant when it overlaps a piece of gold evidence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import InputError


@dataclass(frozen=True)
class Span:
    source: str
    start: int
    end: int


@dataclass(frozen=True)
class GoldQuestion:
    id: str
    question: str
    answerable: bool
    evidence: tuple[tuple[Span, ...], ...]  # per evidence item: every place its text occurs
    kind: str = ""
    section: str | None = None

    def texts(self, source_text: Any) -> list[str]:
        return [source_text(spans[0].source)[spans[0].start : spans[0].end] for spans in self.evidence if spans]


def load_gold(path: str | Path, source_text: Any) -> list[GoldQuestion]:
    """Read a gold set; `source_text(source)` returns a document's text for locating evidence."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Gold set {path} does not exist; pass a JSONL file (format in the README).")
    questions: list[GoldQuestion] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except ValueError as err:
            raise InputError(f"{where}: not valid JSON ({err}).") from None
        for field in ("question", "answerable"):
            if field not in record:
                raise InputError(f"{where}: missing field {field!r}; see the gold-set format in the README.")
        qid = str(record.get("id", f"line{number}"))
        if qid in seen:
            raise InputError(f"{where}: duplicate id {qid!r}.")
        seen.add(qid)
        evidence = tuple(_locate(item, source_text, where) for item in record.get("evidence", []))
        if record["answerable"] and not evidence:
            raise InputError(f"{where}: answerable question {qid!r} has no evidence.")
        questions.append(GoldQuestion(qid, record["question"], bool(record["answerable"]), evidence,
                                      record.get("kind", ""), record.get("section")))
    if not questions:
        raise InputError(f"Gold set {path} has no questions.")
    return questions


def _locate(item: dict[str, Any], source_text: Any, where: str) -> tuple[Span, ...]:
    source = str(item.get("source", ""))
    try:
        text = source_text(source)
    except Exception:  # noqa: BLE001 - any lookup failure is the same problem for the user
        raise InputError(f"{where}: evidence source {source!r} is not in the index.") from None
    if "start" in item and "end" in item:
        return (Span(source, int(item["start"]), int(item["end"])),)
    needle = item.get("text", "")
    spans = []
    at = text.find(needle) if needle else -1
    while at >= 0:
        spans.append(Span(source, at, at + len(needle)))
        at = text.find(needle, at + 1)
    if not spans and needle:
        spans = _locate_loosely(source, text, needle)
    if not spans:
        raise InputError(f"{where}: evidence text not found verbatim in {source}: {needle[:60]!r}.")
    return tuple(spans)


def overlaps(source: str, start: int, end: int, question: GoldQuestion) -> bool:
    """True when [start, end) in `source` overlaps any piece of the question's evidence."""
    return any(s.source == source and s.start < end and start < s.end for spans in question.evidence for s in spans)


def evidence_hit(source: str, start: int, end: int, question: GoldQuestion) -> set[int]:
    """Which evidence items (by position) the span overlaps."""
    return {
        n
        for n, spans in enumerate(question.evidence)
        if any(s.source == source and s.start < end and start < s.end for s in spans)
    }


_INVISIBLE = "\u00ad\u2010"  # a soft hyphen, or the hyphen a PDF draws where it broke a word at a line end


def _normalised(text: str) -> tuple[str, list[int]]:
    """`text` with runs of whitespace as one space and line-break hyphens dropped, and each kept
    character's offset in `text`."""
    chars: list[str] = []
    where: list[int] = []
    broken = False  # just after a line-break hyphen: the line break itself is not a space
    for i, ch in enumerate(text):
        if ch in _INVISIBLE:
            broken = True
            continue
        if ch.isspace() and (broken or (chars and chars[-1] == " ")):
            continue
        broken = False
        chars.append(" " if ch.isspace() else ch)
        where.append(i)
    return "".join(chars), where


def _locate_loosely(source: str, text: str, needle: str) -> list[Span]:
    """Where `needle` stands in `text` up to whitespace and line-break hyphens.

    A gold set written against a text file stays usable on the same document
    as a PDF, HTML or Word file, whose extracted text joins lines and breaks
    words differently; the spans returned are exact offsets into `text`.
    """
    hay, where = _normalised(text)
    want = _normalised(needle)[0].strip()
    spans = []
    at = hay.find(want) if want else -1
    while at >= 0:
        spans.append(Span(source, where[at], where[at + len(want) - 1] + 1))
        at = hay.find(want, at + 1)
    return spans
