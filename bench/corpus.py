"""Real prose for the scale benchmark: Debian's own documentation on this machine.

`real_corpus(folder, passages)` copies README, Markdown and text files from
/usr/share/doc (gzipped ones decompressed, changelogs and licences left out)
into `folder`, in a fixed order, until they make about `passages` passages.
`synthetic_corpus` repeats the development documents with their words
shuffled, for model-free builds of any size.
"""

from __future__ import annotations

import gzip
import random
from pathlib import Path

DOC_ROOT = Path("/usr/share/doc")
PROSE = ("readme", ".md", ".txt", "faq", "howto")
NOT_PROSE = ("changelog", "copyright", "license", "licence", "test_psl", "changes")


def _candidates() -> list[Path]:
    out = []
    for path in sorted(DOC_ROOT.rglob("*")):
        name = path.name.lower()
        if not path.is_file() or path.is_symlink() or any(bad in name for bad in NOT_PROSE):
            continue
        if any(tag in name for tag in PROSE) and path.stat().st_size < 400_000:
            out.append(path)
    return out


def _text(path: Path) -> str | None:
    try:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile):
        return None


def real_corpus(folder: Path, passages: int) -> int:
    """Fill `folder` with about `passages` passages of real documentation; return how many it holds."""
    from rag.ingest.chunk import chunk_document
    from rag.ingest.parse import parse

    folder.mkdir(parents=True, exist_ok=True)
    total, seen = 0, set()
    for n, path in enumerate(_candidates()):
        text = _text(path)
        if not text or len(text.split()) < 50 or text in seen:
            continue
        seen.add(text)
        name = f"{n:04d}-{path.parent.name}-{path.name.removesuffix('.gz')}"
        name = name if name.endswith((".txt", ".md")) else name + ".txt"
        count = len(chunk_document(parse(text, name)))
        if count == 0:
            continue
        (folder / name).write_text(text, "utf-8")
        total += count
        if total >= passages:
            break
    return total


def synthetic_corpus(folder: Path, passages: int, source: Path) -> int:
    """Fill `folder` with copies of the documents in `source`, each paragraph's words shuffled per copy."""
    from rag.ingest.chunk import chunk_document
    from rag.ingest.parse import parse

    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    texts = [(p.name, p.read_text("utf-8")) for p in sorted(source.glob("*.txt"))]
    per_copy = sum(len(chunk_document(parse(t, name))) for name, t in texts)
    copies = max(1, -(-passages // per_copy))
    for copy in range(copies):
        for name, text in texts:
            paragraphs = text.split("\n\n")
            shuffled = []
            for p in paragraphs:
                words = p.split()
                if len(words) > 12:
                    rng.shuffle(words)
                    p = " ".join(words)
                shuffled.append(p)
            (folder / f"{copy:05d}-{name}").write_text("\n\n".join(shuffled), "utf-8")
    return copies * per_copy
