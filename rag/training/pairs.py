"""Labelled (question, quote) pairs for the answer checker, from gold sets and mined FAQs.

From a gold set: every question is answered by today's pipeline without the
checker, and the quotes its best sentences would give are labelled by
whether they overlap the question's evidence (`rag.eval.gold.evidence_hit`),
the label `rag eval` scores the first quote by. An answerable question's
evidence is added as a positive when no candidate held it; an unanswerable
question's candidates are all negatives, the near-topic misses abstention
has to learn. From mined FAQ pairs (`rag/training/data/mined_pairs.jsonl`):
a question's own answer is a positive and other answers of the same
document are negatives.

Does not train or score: `rag.training.checker` does.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from rag.answers.index import Index
from rag.answers.pipeline import CHECKED, checked_texts, ranked_sentences
from rag.answers.quotes import quote_span
from rag.checker.model import quote_text
from rag.eval.gold import GoldQuestion, evidence_hit
from rag.search.query import check_question
from rag.search.tuning import Params

MINED = Path(__file__).with_name("data") / "mined_pairs.jsonl"
PER_QUESTION = 2 * CHECKED  # candidates labelled per gold question: the checked ones and as many below
MINED_NEGATIVES = 3  # other answers of the same document paired with each mined question
ANSWER_WORDS = 60  # a mined answer is cut to about a quote's length


@dataclass(frozen=True)
class Pair:
    doc: str  # the document the pair comes from: folds hold documents out, never single pairs
    question: str
    text: str
    label: bool


def gold_pairs(index: Index, sets: dict[str, list[GoldQuestion]], params: Params, *, k: int = 5) -> list[Pair]:
    """Pairs from every gold question's candidate quotes (see the module docstring)."""
    pairs: list[Pair] = []
    store = index.store
    for name, questions in sets.items():
        for q in questions:
            query = check_question(q.question, k)
            vectors, _ = index.encode_query(query)
            found, _, candidates = ranked_sentences(index, query, k, params, vectors)
            top = candidates[:PER_QUESTION]
            texts = checked_texts(found, store, top, params.quote_words)
            held = False
            seen: set[str] = set()
            for cand, text in zip(top, texts, strict=True):
                if text in seen:
                    continue
                seen.add(text)
                span = quote_span(found, store, cand, params.quote_words)
                hit = q.answerable and bool(evidence_hit(span.source, span.start, span.end, q))
                held |= hit
                pairs.append(Pair(name, q.question, text, hit))
            if q.answerable and not held:
                for spans in q.evidence:
                    if spans:
                        s = spans[0]
                        section = next((p.citation.section for p in index.passages_of(s.source)
                                        if p.citation.start <= s.start < p.citation.end), None)
                        pairs.append(Pair(name, q.question, quote_text(section, index.text_of(s.source)[s.start:s.end]),
                                          True))
    return pairs


def mined_pairs(path: Path = MINED, *, seed: int = 0) -> list[Pair]:
    """Pairs from mined question-answer records: each answer positive, `MINED_NEGATIVES` others negative."""
    if not path.is_file():
        return []
    records = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    by_doc: dict[str, list[dict[str, str]]] = {}
    for r in records:
        by_doc.setdefault(r["doc"], []).append(r)
    rng = random.Random(seed)
    pairs: list[Pair] = []
    for doc, rows in sorted(by_doc.items()):
        answers = [_cut(r["answer"]) for r in rows]
        for n, r in enumerate(rows):
            pairs.append(Pair(doc, r["question"], answers[n], True))
            others = [a for m, a in enumerate(answers) if m != n and a != answers[n]]
            for text in rng.sample(others, min(MINED_NEGATIVES, len(others))):
                pairs.append(Pair(doc, r["question"], text, False))
    return pairs


def _cut(text: str) -> str:
    words = text.split()
    return " ".join(words[:ANSWER_WORDS])


def write_pairs(pairs: list[Pair], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for p in pairs:
            out.write(json.dumps({"doc": p.doc, "question": p.question, "text": p.text, "label": p.label},
                                 ensure_ascii=False) + "\n")


def read_pairs(path: Path) -> list[Pair]:
    return [Pair(**json.loads(line)) for line in path.read_text("utf-8").splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    """`make checker-pairs`: label the gold pairs over the development documents and record them."""
    import argparse

    from rag.eval.gold import load_gold
    from rag.search.tuning import shipped
    from rag.service.loading import open_index

    parser = argparse.ArgumentParser(prog="python -m rag.training.pairs", description=main.__doc__)
    parser.add_argument("--gold", type=Path, default=Path("tests/gold"))
    parser.add_argument("--index", type=Path, default=Path(".rag-cache/dev"))
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("data") / "gold_pairs.jsonl")
    args = parser.parse_args(argv)
    index = open_index(args.gold / "docs", args.index)
    sets = {f.stem: load_gold(f, index.source_text) for f in sorted(args.gold.glob("*.jsonl"))}
    pairs = gold_pairs(index, sets, shipped())
    write_pairs(pairs, args.out)
    print(f"{len(pairs)} pairs ({sum(p.label for p in pairs)} positive) from {len(sets)} gold sets -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
