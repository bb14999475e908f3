"""CI gate: held-out quality on the development gold sets, and the report on its own.

The development corpus (tests/gold/docs, ten documents of different kinds)
is indexed once per session with the real model (shared with the follow-up gate), and `rag eval` scores every document's
set with parameters fitted on the other nine (leave-one-document-out). The
bars are the targets less 0.02 for noise where a target is met; where a
target is not yet met (see the README's "Where it falls short"), the bar
sits 0.02 below today's held-out figure, so a regression still fails.
Two FAQs kept out of every fit (tests/faq) are scored with the shipped
parameters against bars 0.02 to 0.03 below their figures. Runs through the
same CLI an evaluator uses.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.cli import main

GOLD = Path(__file__).parent.parent / "gold"
REPORT_GOLD = GOLD / "japan-nato-alignment.jsonl"

DEV_MINIMUMS = {
    "mrr@10": 0.78,  # target 0.80; held out 0.835 when set
    "min_mrr@10": 0.63,  # target 0.65 for every document; 0.652 (python-json-module)
    "evidence_in_first_quote": 0.63,  # target 0.65; 0.698
    "evidence_in_top3_quotes": 0.77,  # target 0.85, not met: 0.806
    "quote_exactness": 1.0,
    "abstention": 0.39,  # target 0.85, not met: 0.419
    "min_naive_margin": -0.04,  # target above 0 for every document, not met: -0.014 (mpl-2.0)
}
DEV_MAXIMUMS = {"false_abstention": 0.085}  # target 0.05, not met: 0.064

# Two FAQs in no development set, scored with the shipped parameters: 0.939, 0.904, 0.785 and 0.898 when set.
FAQ_MINIMUMS = {"mrr@10": 0.92, "min_mrr@10": 0.88, "evidence_in_first_quote": 0.76,
                "evidence_in_top3_quotes": 0.87, "quote_exactness": 1.0}
FAQ = Path(__file__).parent.parent / "faq"

REPORT_MINIMUMS = {"hit@5": 0.96, "mrr@10": 0.83, "quote_exactness": 1.0}  # targets 0.98 and 0.85; 0.989 and 0.871


def _gate(args: list[str], minimums: dict[str, float], maximums: dict[str, float], out: Path,
          capsys: pytest.CaptureFixture[str]) -> dict[str, float]:
    args = [*args, "--json", str(out)]
    args += [f"--min={name}={value}" for name, value in minimums.items()]
    args += [f"--max={name}={value}" for name, value in maximums.items()]
    code = main(args)
    printed = capsys.readouterr()
    metrics = json.loads(out.read_text("utf-8"))["metrics"]
    assert code == 0, f"gold sets below the bar: {printed.err}\n{metrics}"
    assert "MRR@10" in printed.out and "Failures" in printed.out
    return metrics


@pytest.mark.model
def test_development_sets_meet_the_held_out_bar(dev_index, tmp_path, capsys):
    args = ["eval", str(GOLD), "--seeds", str(GOLD / "docs"), "--index", str(dev_index.index_dir), "--ablations"]
    metrics = _gate(args, DEV_MINIMUMS, DEV_MAXIMUMS, tmp_path / "dev.json", capsys)
    report = json.loads((tmp_path / "dev.json").read_text("utf-8"))
    assert report["held_out"] is True
    assert len(report["sets"]) >= 9
    # Every set was scored with parameters fitted without it.
    for s in report["sets"]:
        assert s["name"] not in s["params"]["fitted_on"].split(", ")
    assert metrics["quote_exactness"] == 1.0


@pytest.mark.model
def test_faqs_no_number_was_fitted_on_keep_their_bar(tmp_path, capsys):
    args = ["eval", str(FAQ), "--seeds", str(FAQ / "docs"), "--index", str(tmp_path / "index"), "--shipped"]
    _gate(args, FAQ_MINIMUMS, {}, tmp_path / "faq.json", capsys)


@pytest.mark.model
def test_report_keeps_its_own_bar(real_index, tmp_path, capsys):
    args = ["eval", str(REPORT_GOLD), "--index", str(real_index.index_dir)]
    _gate(args, REPORT_MINIMUMS, {}, tmp_path / "report.json", capsys)


@pytest.mark.model
def test_eval_gate_fails_when_the_bar_is_out_of_reach(real_index, capsys):
    code = main(["eval", str(REPORT_GOLD), "--index", str(real_index.index_dir), "--min", "hit@1=1.01"])
    assert code == 1
    assert "hit@1" in capsys.readouterr().err
