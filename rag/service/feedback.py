"""Feedback on answers: a JSONL log, and gold-set candidates made from it.

    record("feedback.jsonl", verdict="wrong", question=..., history=[...], answer=answer, index_version=v)
    export("feedback.jsonl")  # -> gold-set lines in the `rag eval` format, each "reviewed": false

Each log line holds the verdict ("helpful", "wrong" or "should_abstain"), the
question, the earlier questions of the conversation, the answer's quotes with
their citations (and whether it abstained), the index version that answered
and the time. Lines are appended with one write each under a lock, so
concurrent users of one process never interleave (two processes should not
share a log).

The log is bounded: a record over `MAX_RECORD_BYTES` is refused (InputError
saying so; nothing is cut, since a shortened question or quote would export as
a gold-set line that no longer matches what was asked or quoted), and a log
that would pass `MAX_LOG_BYTES` is rotated first: feedback.jsonl becomes
feedback.jsonl.1, .1 becomes .2 and so on, the oldest past `KEEP` removed.
Export reads the rotated files too, oldest first. Lines are split at "\n"
only: U+2028, U+0085 and the like inside a question are text, not line ends.

A candidate is what an evaluator reviews before adding it to a gold set:
- helpful: answerable, the quotes as evidence (verbatim text, so it survives
  re-chunking);
- should_abstain: not answerable, no evidence;
- wrong: answerable, with no evidence yet (the evaluator must find the right
  passage; `rag eval` refuses it until then) and the quotes it must not count
  as evidence under "wrong_quotes".
Does not decide whether feedback is right: nothing here edits a gold set.
"""

from __future__ import annotations

import dataclasses
import datetime
import glob
import hashlib
import json
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rag.errors import InputError

VERDICTS = ("helpful", "wrong", "should_abstain")
MAX_RECORD_BYTES = 256 << 10  # one record's line: a question of 2,000 characters and k quotes take a few KB
MAX_LOG_BYTES = 8 << 20  # a log is rotated before a record would take it past this
KEEP = 4  # rotated files kept (feedback.jsonl.1 newest … feedback.jsonl.4 oldest): at most ~40 MB in all
_lock = threading.Lock()


def _answer_record(answer: Any) -> dict[str, Any]:
    """The parts of an answer a reviewer needs (an `Answer` or its `asdict` form)."""
    data = dataclasses.asdict(answer) if dataclasses.is_dataclass(answer) and not isinstance(answer, type) else answer
    if not isinstance(data, Mapping):
        raise InputError(f"answer must be an rag.Answer or its dict form, got {type(answer).__name__}.")
    quotes = []
    for q in data.get("quotes") or []:
        c = q.get("citation") or {}
        quotes.append({"text": q.get("text", ""), "citation": {k: c.get(k) for k in
                                                              ("source", "section", "paragraph", "start", "end", "page")}})
    return {"question": data.get("question", ""), "abstained": bool(data.get("abstained")),
            "message": data.get("message", ""), "searched": data.get("searched", ""), "quotes": quotes}


def entry(*, verdict: str, question: str, history: Sequence[str], answer: Any, index_version: str,
          sources: Sequence[str] | None = None) -> dict[str, Any]:
    """The log record for one piece of feedback (InputError for a verdict not in VERDICTS)."""
    if verdict not in VERDICTS:
        raise InputError(f"verdict must be one of {', '.join(VERDICTS)}, got {verdict!r}.")
    if not isinstance(question, str) or not question.strip():
        raise InputError("feedback needs the question that was answered.")
    return {
        "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "verdict": verdict,
        "question": question,
        "history": [str(h) for h in history],
        "sources": None if sources is None else [str(s) for s in sources],
        "index_version": str(index_version),
        "answer": _answer_record(answer),
    }


_last: dict[str, str] = {}  # per log file, the last record written (without its time)


def record(log_path: str | Path, *, verdict: str, question: str, history: Sequence[str], answer: Any,
           index_version: str, sources: Sequence[str] | None = None) -> dict[str, Any]:
    """Append one feedback line to `log_path` (created with its folder if missing); returns the record."""
    line = entry(verdict=verdict, question=question, history=history, answer=answer, index_version=index_version,
                 sources=sources)
    path = Path(log_path)
    data = (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8")
    if len(data) > MAX_RECORD_BYTES:
        raise InputError(f"This feedback takes {len(data):,} bytes, more than the {MAX_RECORD_BYTES:,} one record may "
                         "hold (question, earlier questions and quotes), so it was not recorded; ask a shorter question.")
    # The same verdict on the same answer twice in a row (a double click, a button firing twice) is one record.
    same = json.dumps({k: v for k, v in line.items() if k != "time"}, sort_keys=True, ensure_ascii=False)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _lock:
            if _last.get(str(path.resolve())) == same:
                return line
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                size = 0
            if size and size + len(data) > MAX_LOG_BYTES:
                _rotate(path)
            with open(path, "ab") as out:
                out.write(data)
            _last[str(path.resolve())] = same
    except OSError as err:
        raise InputError(f"Cannot write feedback to {path} ({err.strerror or err}); pass a writable file.") from None
    return line


def _rotate(path: Path) -> None:
    """feedback.jsonl -> feedback.jsonl.1, .1 -> .2, …; the file past `KEEP` (the oldest) is removed."""
    path.with_name(f"{path.name}.{KEEP}").unlink(missing_ok=True)
    for n in range(KEEP - 1, 0, -1):
        older = path.with_name(f"{path.name}.{n}")
        if older.exists():
            os.replace(older, path.with_name(f"{path.name}.{n + 1}"))
    os.replace(path, path.with_name(f"{path.name}.1"))


def log_files(log_path: str | Path) -> list[Path]:
    """The files of a log, oldest first: its rotated files (highest number first), then the log itself."""
    path = Path(log_path)
    rotated = []
    for other in path.parent.glob(f"{glob.escape(path.name)}.*"):
        number = other.name[len(path.name) + 1:]
        if number.isdigit() and other.is_file():
            rotated.append((int(number), other))
    return [p for _, p in sorted(rotated, reverse=True)] + ([path] if path.exists() or not rotated else [])


def read_log(log_path: str | Path) -> list[dict[str, Any]]:
    """The log's records, its rotated files' first (oldest first); InputError naming the file and line for one
    that is not a feedback record."""
    records = []
    for path in log_files(log_path):
        records += _read_file(path)
    return records


def _read_file(path: Path) -> list[dict[str, Any]]:
    records = []
    try:
        with open(path, "rb") as handle:  # binary lines end at b"\n" only, whatever a question holds
            for number, raw in enumerate(handle, start=1):
                line = raw.decode("utf-8")
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                except ValueError:
                    raise InputError(f"{path}:{number}: not valid JSON; each line must be one feedback record.") from None
                if (not isinstance(data, dict) or data.get("verdict") not in VERDICTS
                        or not isinstance(data.get("question"), str)):
                    raise InputError(f"{path}:{number}: not a feedback record (needs a verdict in "
                                     f"{', '.join(VERDICTS)} and a question).")
                records.append(data)
    except FileNotFoundError:
        raise InputError(f"Feedback log {path} does not exist; it is written by the web chat's feedback buttons "
                         "(`rag serve --feedback-log FILE`).") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"Cannot read feedback log {path} ({err}).") from None
    return records


def candidate(record: Mapping[str, Any]) -> dict[str, Any]:
    """One gold-set line (the `rag eval` format) for a feedback record, marked unreviewed."""
    verdict = record["verdict"]
    history = [str(h) for h in record.get("history") or []]
    answer = record.get("answer") or {}
    quotes = [{"source": q["citation"]["source"], "text": q["text"]} for q in answer.get("quotes") or []
              if isinstance(q, Mapping) and isinstance(q.get("citation"), Mapping) and q.get("text")]
    key = json.dumps([record["question"], history, verdict], ensure_ascii=False)
    out: dict[str, Any] = {
        "id": "feedback-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:10],
        "question": record["question"],
        "answerable": verdict != "should_abstain",
        "evidence": quotes if verdict == "helpful" else [],
        "kind": f"feedback-{verdict.replace('_', '-')}",
        "section": None,
        "reviewed": False,
    }
    if history:
        out["history"] = history
    if verdict == "wrong":
        out["wrong_quotes"] = quotes
        out["note"] = "The answer was marked wrong: add the passage that answers it as evidence, or mark it unanswerable."
    elif verdict == "should_abstain" and quotes:
        out["note"] = "The answer quoted text where it should have said the documents do not answer."
    elif verdict == "helpful" and not quotes:
        out["answerable"] = False  # a helpful abstention
        out["note"] = "An abstention marked helpful."
    out["index_version"] = record.get("index_version", "")
    return out


def export(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Gold-set candidates, one per (question, earlier questions, verdict), the latest feedback winning."""
    latest: dict[str, dict[str, Any]] = {}
    for rec in records:
        c = candidate(rec)
        latest.pop(c["id"], None)
        latest[c["id"]] = c
    return list(latest.values())


def export_lines(log_path: str | Path) -> list[str]:
    """The candidates of a log as JSONL lines (what `rag feedback export` prints)."""
    return [json.dumps(c, ensure_ascii=False) for c in export(read_log(log_path))]


__all__ = ["KEEP", "MAX_LOG_BYTES", "MAX_RECORD_BYTES", "VERDICTS", "candidate", "entry", "export", "export_lines",
           "log_files", "read_log", "record"]
