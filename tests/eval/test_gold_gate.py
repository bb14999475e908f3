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
    "mrr@10": 0.83,  # target 0.85; held out 0.852 when set
    "min_mrr@10": 0.645,  # 0.665 (python-json-module)
    "evidence_in_first_quote": 0.731,  # target 0.80, not met: 0.751 (0.714 before announced quotes)
    "evidence_in_top3_quotes": 0.832,  # target 0.90, not met: 0.852 (0.811 before)
    "quote_exactness": 1.0,
    "abstention": 0.453,  # target 0.75, not met: 0.473 (0.425 at 0.055 false before the version-or-default signal)
    "min_naive_margin": -0.02,  # target above 0 for every document, met: +0.043 (mpl-2.0 the closest)
}
DEV_MAXIMUMS = {"false_abstention": 0.07}  # target 0.05, met: 0.045 (0.055 before the in-sample limit went 4% → 3%)

# Two FAQs in no development set, scored with the shipped parameters: 0.939, 0.904, 0.785 and 0.898 when set
# (0.926, 0.912, 0.815 and 0.887 after the refit that followed numbered clause titles and centred headings).
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


# The GNU GPL 3 and Apache 2.0 licences, in no fit (the machine's copies, indexed together), with the
# shipped parameters: MRR@10 0.738 and 0.773 when set, against a target of 0.80 each, not met.
LICENCES = {"gpl-3": Path("/usr/share/common-licenses/GPL-3"), "apache-2.0": Path("/usr/share/common-licenses/Apache-2.0")}
LICENCE_MINIMUMS = {"min_mrr@10": 0.716, "quote_exactness": 1.0}


@pytest.mark.model
@pytest.mark.skipif(not all(p.is_file() for p in LICENCES.values()), reason="no /usr/share/common-licenses here")
def test_held_out_licences_keep_their_bar(tmp_path, capsys):
    seeds = tmp_path / "licences"
    seeds.mkdir()
    for name, path in LICENCES.items():
        (seeds / f"{name}.txt").write_bytes(path.read_bytes())
    args = ["eval", str(GOLD.parent / "heldout"), "--seeds", str(seeds), "--index", str(tmp_path / "index"), "--shipped"]
    _gate(args, LICENCE_MINIMUMS, {}, tmp_path / "licences.json", capsys)


@pytest.mark.model
def test_report_keeps_its_own_bar(real_index, tmp_path, capsys):
    args = ["eval", str(REPORT_GOLD), "--index", str(real_index.index_dir)]
    _gate(args, REPORT_MINIMUMS, {}, tmp_path / "report.json", capsys)


@pytest.mark.model
def test_eval_gate_fails_when_the_bar_is_out_of_reach(real_index, capsys):
    code = main(["eval", str(REPORT_GOLD), "--index", str(real_index.index_dir), "--min", "hit@1=1.01"])
    assert code == 1
    assert "hit@1" in capsys.readouterr().err
