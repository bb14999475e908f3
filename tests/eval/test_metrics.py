"""rag.eval.metrics and rag.eval.gold: hand-computed IR metrics, token F1, and gold-set errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rag
from rag.eval.gold import evidence_hit, load_gold, overlaps
from rag.eval.metrics import percentile, retrieval_metrics, token_f1, tradeoff

# --- retrieval metrics -----------------------------------------------------------


def test_retrieval_metrics_on_a_hand_computed_three_question_example() -> None:
    relevant = {"q1": {"a"}, "q2": {"a", "b"}, "q3": {"z"}}
    ranked = {
        "q1": ["a", "b", "c"],  # first relevant at rank 1
        "q2": ["c", "a", "d", "e", "f", "b"],  # relevant at ranks 2 and 6
        "q3": ["a", "b", "c", "d", "e", "f", "z"],  # relevant at rank 7
    }
    # hit@1:  q1 1, q2 0, q3 0                    -> 1/3
    # hit@5:  q1 1, q2 1 (rank 2), q3 0 (rank 7)  -> 2/3
    # MRR@10: 1, 1/2, 1/7                         -> (1 + 0.5 + 0.142857) / 3 = 0.547619
    # nDCG@10 (binary gain, DCG = sum 1/log2(rank + 1)):
    #   q1: 1/log2(2) / 1 = 1
    #   q2: (1/log2(3) + 1/log2(7)) / (1/log2(2) + 1/log2(3))
    #       = (0.630930 + 0.356207) / 1.630930 = 0.987137 / 1.630930 = 0.605260
    #   q3: (1/log2(8)) / 1 = 1/3
    #   mean = (1 + 0.605260 + 0.333333) / 3 = 1.938593 / 3 = 0.646198
    m = retrieval_metrics(relevant, ranked)
    assert m["hit@1"] == pytest.approx(1 / 3)
    assert m["hit@5"] == pytest.approx(2 / 3)
    assert m["mrr@10"] == pytest.approx(0.547619, abs=1e-6)
    assert m["ndcg@10"] == pytest.approx(0.646198, abs=1e-6)


def test_retrieval_metrics_cut_off_at_ten_and_count_missing_runs_as_zero() -> None:
    relevant = {"late": {"x"}, "absent": {"y"}}
    ranked = {"late": [f"d{n}" for n in range(10)] + ["x"]}  # relevant only at rank 11; "absent" not run
    m = retrieval_metrics(relevant, ranked)
    assert m == {"hit@1": 0.0, "hit@5": 0.0, "mrr@10": 0.0, "ndcg@10": 0.0}


def test_retrieval_metrics_leave_out_questions_with_nothing_relevant() -> None:
    with_empty = retrieval_metrics({"q1": {"a"}, "q2": set()}, {"q1": ["b", "a"], "q2": ["c"]})
    alone = retrieval_metrics({"q1": {"a"}}, {"q1": ["b", "a"]})
    assert with_empty == alone
    assert alone["mrr@10"] == pytest.approx(0.5)
    assert alone["hit@1"] == 0.0 and alone["hit@5"] == 1.0
    assert alone["ndcg@10"] == pytest.approx(1 / math.log2(3))


def test_retrieval_metrics_with_no_relevant_at_all_are_nan() -> None:
    m = retrieval_metrics({"q": set()}, {"q": ["a"]})
    assert all(math.isnan(v) for v in m.values())


def _reference(relevant: dict[str, set[str]], ranked: dict[str, list[str]]) -> dict[str, float]:
    """Plain-Python hit@k, MRR@10 and binary nDCG@10, averaged over questions with something relevant."""
    rows = []
    for q, rel in relevant.items():
        if not rel:
            continue
        run = ranked.get(q, [])[:10]
        ranks = [n for n, doc in enumerate(run, start=1) if doc in rel]
        dcg = sum(1 / math.log2(r + 1) for r in ranks)
        idcg = sum(1 / math.log2(r + 1) for r in range(1, min(len(rel), 10) + 1))
        rows.append({
            "hit@1": float(bool(ranks) and ranks[0] <= 1),
            "hit@5": float(bool(ranks) and ranks[0] <= 5),
            "mrr@10": 1 / ranks[0] if ranks else 0.0,
            "ndcg@10": dcg / idcg,
        })
    return {k: sum(r[k] for r in rows) / len(rows) for k in ("hit@1", "hit@5", "mrr@10", "ndcg@10")}


_docs = st.sampled_from([f"p{n}" for n in range(15)])
_question = st.tuples(st.sets(_docs, min_size=1, max_size=4), st.lists(_docs, max_size=14, unique=True))


@settings(max_examples=60, deadline=None)
@given(st.lists(_question, min_size=1, max_size=6))
def test_retrieval_metrics_agree_with_a_plain_python_reference(questions) -> None:
    relevant = {f"q{n}": rel for n, (rel, _) in enumerate(questions)}
    ranked = {f"q{n}": run for n, (_, run) in enumerate(questions)}
    got = retrieval_metrics(relevant, ranked)
    want = _reference(relevant, ranked)
    for name in want:
        assert got[name] == pytest.approx(want[name], abs=1e-6), name


# --- token F1, percentiles, trade-off ----------------------------------------------


def test_token_f1_hand_example() -> None:
    # predicted words: the, cat, sat, on, the, mat (6); gold: the, cat, sat (3)
    # common = the, cat, sat = 3 -> precision 3/6, recall 3/3 -> F1 = 2 * 0.5 * 1 / 1.5 = 2/3
    assert token_f1("The cat sat on the mat.", "the cat sat") == pytest.approx(2 / 3)


def test_token_f1_counts_repeated_words_once_per_occurrence() -> None:
    # predicted: a a a b (4); gold: a b b (3); common = min(3,1) a + min(1,2) b = 2
    # precision 2/4, recall 2/3 -> F1 = 2 * (1/2)(2/3) / (1/2 + 2/3) = (2/3) / (7/6) = 4/7
    assert token_f1("a a a b", "a b b") == pytest.approx(4 / 7)


def test_token_f1_identical_disjoint_and_empty() -> None:
    assert token_f1("Japan and NATO", "japan AND nato") == pytest.approx(1.0)
    assert token_f1("ships", "bees") == 0.0
    assert token_f1("", "anything") == 0.0


def test_percentile_and_tradeoff_by_hand() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 50) == 3.0
    assert math.isnan(percentile([], 50))
    rows = tradeoff(answerable=[0.9, 0.6, 0.4], unanswerable=[0.2, 0.5], thresholds=[0.5])
    # abstain when support < 0.5: unanswerable 0.2 -> 1 of 2; answerable 0.4 -> 1 of 3
    assert rows == [{"threshold": 0.5, "abstention": 0.5, "false_abstention": pytest.approx(1 / 3)}]


# --- gold sets -----------------------------------------------------------------------

DOC = "Ships carry oil. Ships carry grain. Bees make honey."
TEXTS = {"doc.txt": DOC}


def _source_text(source: str) -> str:
    return TEXTS[source]


def _write(tmp_path: Path, records: list[dict | str]) -> Path:
    path = tmp_path / "gold.jsonl"
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def _q(qid: str, text: str = "Bees make honey.", **extra) -> dict:
    return {"id": qid, "question": "What do bees make?", "answerable": True,
            "evidence": [{"source": "doc.txt", "text": text}], **extra}


def test_load_gold_locates_every_occurrence_of_evidence_text(tmp_path) -> None:
    path = _write(tmp_path, [_q("a", "Ships carry"), _q("b"), {"id": "c", "question": "Unrelated?", "answerable": False}])
    gold = load_gold(path, _source_text)
    assert [q.id for q in gold] == ["a", "b", "c"]
    spans = gold[0].evidence[0]
    first, second = DOC.find("Ships carry"), DOC.find("Ships carry", 1)
    assert [(s.start, s.end) for s in spans] == [(first, first + 11), (second, second + 11)]
    assert gold[1].texts(_source_text) == ["Bees make honey."]
    assert gold[2].answerable is False and gold[2].evidence == ()


def test_gold_overlap_helpers(tmp_path) -> None:
    gold = load_gold(_write(tmp_path, [_q("b")]), _source_text)[0]
    start = DOC.find("Bees")
    assert overlaps("doc.txt", start - 5, start + 1, gold)
    assert not overlaps("doc.txt", 0, start, gold)  # touching is not overlapping
    assert not overlaps("other.txt", start, start + 4, gold)
    assert evidence_hit("doc.txt", start, start + 4, gold) == {0}


def test_load_gold_evidence_given_as_offsets(tmp_path) -> None:
    record = {"id": "o", "question": "?", "answerable": True, "evidence": [{"source": "doc.txt", "start": 17, "end": 35}]}
    gold = load_gold(_write(tmp_path, [record]), _source_text)
    assert gold[0].texts(_source_text) == [DOC[17:35]]


def test_load_gold_missing_evidence_text_raises_input_error_naming_the_line(tmp_path) -> None:
    path = _write(tmp_path, [_q("ok"), _q("bad", "Bees make jam.")])
    with pytest.raises(rag.InputError, match=r"gold\.jsonl:2\b") as info:
        load_gold(path, _source_text)
    assert "not found" in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("records", "needle"),
    [
        ([_q("a"), "{not json"], r"gold\.jsonl:2: not valid JSON"),
        ([{"id": "a", "answerable": True}], r"gold\.jsonl:1: missing field 'question'"),
        ([{"id": "a", "question": "?"}], r"gold\.jsonl:1: missing field 'answerable'"),
        ([_q("a"), _q("a")], r"gold\.jsonl:2: duplicate id 'a'"),
        ([{"id": "a", "question": "?", "answerable": True}], r"gold\.jsonl:1: answerable question 'a' has no evidence"),
        ([{**_q("a"), "evidence": [{"source": "nope.txt", "text": "x"}]}],
         r"gold\.jsonl:1: evidence source 'nope.txt'"),
    ],
)
def test_load_gold_errors_name_the_line(tmp_path, records, needle: str) -> None:
    with pytest.raises(rag.InputError, match=needle):
        load_gold(_write(tmp_path, records), _source_text)


def test_load_gold_missing_or_empty_file(tmp_path) -> None:
    with pytest.raises(rag.InputError, match="does not exist"):
        load_gold(tmp_path / "none.jsonl", _source_text)
    (tmp_path / "empty.jsonl").write_text("\n\n", "utf-8")
    with pytest.raises(rag.InputError, match="no questions"):
        load_gold(tmp_path / "empty.jsonl", _source_text)


def test_repo_gold_set_loads_against_the_report() -> None:
    repo = Path(__file__).resolve().parent.parent.parent
    text = (repo / "seeds" / "japan-nato-alignment.txt").read_bytes().decode("utf-8")
    gold = load_gold(repo / "tests" / "gold" / "japan-nato-alignment.jsonl",
                     lambda s: {"japan-nato-alignment.txt": text}[s])
    assert len(gold) >= 10
    assert any(not q.answerable for q in gold)
    for q in gold:
        for spans in q.evidence:
            for span in spans:
                assert 0 <= span.start < span.end <= len(text)
