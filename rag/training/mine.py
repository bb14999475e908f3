"""Mine natural question-answer pairs from real documents, for training the answer checker.

`mine(path)` reads one document (plain text, Markdown or HTML, gzipped or not),
finds its questions by layout (`rag.training.layouts`) and returns one `MinedPair`
per question: the question as written, the first prose paragraph of its answer
(cut at a sentence end near 600 characters) and up to three more prose
paragraphs of the same answer as `context`. A question whose answer is shorter
than 40 characters, or is only a URL or code, gives no pair.

`python -m rag.training.mine OUT.jsonl [ROOT]` mines every file under ROOT
(default /usr/share/doc; files over 2 MB, symlinks and changelogs are skipped),
writes one JSON object per pair, sorted by document then position, and prints
each document's count to stderr.

Never mined (refused with an error by `mine`, skipped by the command):
- the held-out test documents: base-files' FAQ (= its README) and xz-utils' FAQ;
- valgrind's FAQ, a development gold document, and every other document a gold
  or held-out set under tests/ is drawn from (apt's README, bash's POSIX notes,
  git's 2.39.0 release notes, gnupg's README, gzip's and tar's NEWS, nodejs'
  GOVERNANCE, the Debian Python policy, systemd's UIDS-GIDS, and the sed and zlib
  FAQs, which the held-out follow-up conversations are written on);
- licence texts: GNU GPL/LGPL/AGPL, Apache, Mozilla (and copyright/COPYING files).
Does not judge answers beyond their layout and length: nothing here runs a model.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from rag.errors import InputError
from rag.training.layouts import Block, html_blocks, pairs, text_blocks

MAX_FILE = 2 * 2**20
MAX_ANSWER = 600
MIN_ANSWER = 40
MAX_CONTEXT = 3
ROOT = Path("/usr/share/doc")
HELD_OUT = (  # (name suffix, why), compared on whole path components, lower case, ".gz" removed
    ("base-files/faq", "a held-out test document"), ("base-files/readme", "a held-out test document"),
    ("xz-utils/faq.txt", "a held-out test document"),
    ("apt/readme.md", "a gold document"), ("bash/posix", "a gold document"),
    ("git/relnotes/2.39.0.txt", "a gold document"), ("gnupg/readme", "a gold document"),
    ("python3/python-policy.txt", "a gold document"), ("python3/python-policy.html", "a gold document"),
    ("gzip/news", "a held-out follow-up document"), ("tar/news", "a held-out follow-up document"),
    ("nodejs/governance.md", "a held-out follow-up document"), ("systemd/uids-gids.md", "a held-out follow-up document"),
    ("sed/sedfaq.txt", "a held-out follow-up document"), ("zlib1g-dev/faq", "a held-out follow-up document"),
)
LICENCE_NAME = re.compile(r"^(copying|copyright|licen[cs]e)\b", re.IGNORECASE)
LICENCE_TEXT = re.compile(r"GNU (?:LESSER |LIBRARY |AFFERO )?GENERAL PUBLIC LICEN[CS]E|Apache License,?\s+Version 2\.0"
                          r"|Mozilla Public License", re.IGNORECASE)
FAQ_NAME = re.compile(r"faq|problems|questions|troubleshoot", re.IGNORECASE)
# Change logs, news and to-do lists ask questions they do not answer; code and data have no prose.
SKIP_NAME = re.compile(r"changelog|^(?:news|history|todo)\b|\.(?:js|css|json|py|pl|pm|sh|c|h|el|xml|xsl|svg|png|gif|jpg|pdf"
                       r"|diff|patch|conf|cfg|ini)(?:\.gz)?$", re.IGNORECASE)
SECTION_NUMBER = re.compile(r"^\d{1,2}(?:\.\d{1,2})*\.?\s+(?=\S)")
SENTENCE_END = re.compile(r"[.!?][\"')\]]?(?=\s)")
URL_ONLY = re.compile(r"^(?:<?(?:https?|ftp)://\S+>?[\s,;.]*)+$")


@dataclass(frozen=True)
class MinedPair:
    """A question as its document asks it, the first paragraph answering it, and more of that answer."""

    doc: str
    question: str
    answer: str
    context: list[str]


def held_out(path: Path) -> str | None:
    """Why `path` must never be mined (held out, gold, or a licence), or None when it may be."""
    for candidate in (path, path.resolve()):
        parts = [p.lower() for p in candidate.parts]
        if parts and parts[-1].endswith(".gz"):
            parts[-1] = parts[-1][:-3]
        if "valgrind" in parts and "faq" in parts[-1]:
            return "a gold document (valgrind's FAQ)"
        for suffix, why in HELD_OUT:
            tail = suffix.split("/")
            if parts[-len(tail):] == tail:
                return why
        if LICENCE_NAME.match(parts[-1]):
            return "a licence or copyright file"
    return None


def read_text(path: Path) -> str | None:
    """A file's text (gunzipped when it ends in .gz), or None when it is binary or over 2 MB."""
    if path.stat().st_size > MAX_FILE:
        return None
    data = path.read_bytes()
    if path.suffix == ".gz":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
                data = f.read(MAX_FILE + 1)
        except (OSError, EOFError):
            return None
        if len(data) > MAX_FILE:
            return None
    if b"\x00" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def mine(path: Path, *, name: str | None = None) -> list[MinedPair]:
    """Question-answer pairs of one document, in document order; `name` defaults to "parent/file"."""
    path = Path(path)
    why = held_out(path)
    if why is not None:
        raise InputError(f"{path} is {why} and is never mined; pass another document")
    text = read_text(path)
    if text is None:
        raise InputError(f"{path} is binary or over {MAX_FILE:,} bytes; pass a text, Markdown or HTML document")
    if LICENCE_TEXT.search(text[:4000]) and "TERMS AND CONDITIONS" in text.upper():
        raise InputError(f"{path} is a licence text and is never mined; pass another document")
    bare = path.name[:-3] if path.name.endswith(".gz") else path.name
    name = name or f"{path.parent.name}/{bare}"
    html = bare.lower().endswith((".html", ".htm")) or text.lstrip()[:200].lower().startswith(("<!doctype html", "<html"))
    blocks = html_blocks(text) if html else text_blocks(text)
    faq = bool(FAQ_NAME.search(bare)) or "frequently asked questions" in text[:600].lower()
    out: list[MinedPair] = []
    seen: set[str] = set()
    for question, body in pairs(blocks, faq=faq):
        question = SECTION_NUMBER.sub("", question)
        if not _prose(body[0], body[0].indent):  # the answer opens with code, a quote or a list: no sentence answers
            continue
        prose = [cut(b.text) for b in body if _prose(b, body[0].indent)]
        kept = [p for p in prose if p is not None]
        key = question.lower()
        if not kept or kept[0] != cut(body[0].text) or len(kept[0]) < MIN_ANSWER or _lead_in(kept[0]) or key in seen:
            continue
        seen.add(key)
        out.append(MinedPair(name, question, kept[0], kept[1:1 + MAX_CONTEXT]))
    return out


def _prose(block: Block, base: int) -> bool:
    """A paragraph of sentences: not code, a command, a table or a bare URL, and not indented under the answer."""
    text = block.text
    if block.indent > base + 1 or URL_ONLY.match(text) or len(text.split()) < 4:
        return False
    chars = text.replace(" ", "")
    letters = sum(c.isalpha() for c in chars)
    return (letters >= 0.75 * len(chars) and " = " not in text and not text.startswith(("$ ", "# ", "|", "<", "{"))
            and text.rstrip("\"')]*_`").endswith((".", "!", "?", ":", ";")))


def _lead_in(answer: str) -> bool:
    """One sentence ending in ":" only introduces the code or list that holds the answer."""
    return answer.endswith(":") and not SENTENCE_END.search(answer)


def cut(text: str, limit: int = MAX_ANSWER) -> str | None:
    """`text` whole when it fits in `limit` characters, else up to its last sentence end before `limit`; None when none."""
    if len(text) <= limit:
        return text
    ends = [m.end() for m in SENTENCE_END.finditer(text[:limit + 1]) if m.end() >= MIN_ANSWER]
    return text[:ends[-1]] if ends else None


def mine_tree(root: Path) -> list[MinedPair]:
    """Every pair under `root`, by document name then position; counts per document go to stderr."""
    found: list[MinedPair] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        if SKIP_NAME.search(path.name) or held_out(path) or path.stat().st_size > MAX_FILE:
            continue
        name = path.relative_to(root).as_posix().removesuffix(".gz")
        try:
            got = mine(path, name=name)
        except (InputError, OSError):  # binary, refused or unreadable: not a document to mine
            continue
        found.extend(got)
    unique: list[MinedPair] = []
    seen: set[str] = set()
    for pair in sorted(found, key=lambda p: p.doc):  # stable: each document keeps its own order
        key = "".join(c for c in pair.answer.lower() if c.isalnum())[:120]
        if key not in seen:  # the same answer in a second copy of a document (README.md and its HTML page)
            seen.add(key)
            unique.append(pair)
    for doc in sorted({p.doc for p in unique}):
        print(f"{sum(p.doc == doc for p in unique):5d}  {doc}", file=sys.stderr)
    return unique


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not 1 <= len(args) <= 2:
        print("usage: python -m rag.training.mine OUT.jsonl [ROOT]  (ROOT defaults to /usr/share/doc)", file=sys.stderr)
        return 2
    out, root = Path(args[0]), Path(args[1]) if len(args) == 2 else ROOT
    if not root.is_dir():
        print(f"error: {root} is not a folder; pass the folder of documents to mine", file=sys.stderr)
        return 1
    found = mine_tree(root)
    with out.open("w", encoding="utf-8") as f:
        for pair in found:
            f.write(json.dumps(dataclasses.asdict(pair), ensure_ascii=False) + "\n")
    print(f"{len(found)} pairs from {len({p.doc for p in found})} documents -> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
