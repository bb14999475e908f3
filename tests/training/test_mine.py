"""Question-answer mining: each FAQ layout, the documents never mined, cut answers, and a deterministic command."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from rag.errors import InputError
from rag.training.mine import MinedPair, mine

ROOT = Path(__file__).resolve().parents[2]

NUMBERED = """\
                Frequently Asked Questions about frobz

Contents

1.1\tWhere do I get frobz?
1.2\tWhy does frobz refuse files larger than the
\tconfigured limit?

1.1\tWhere do I get frobz?

\tThe sources of frobz are published on the project page, and every
\trelease is signed with the maintainer's key.

1.2\tWhy does frobz refuse files larger than the
\tconfigured limit?

\tFrobz keeps the whole file in memory while it works, so the limit
\tprotects small machines from running out of memory.

\t    frobz --limit 10M big.dat

\tRaise the limit with the --limit option when the machine has memory
\tto spare.

1.3\tIs frobz fast?

\tYes, quite.
"""

QA = """\
Questions about the widget

Q: How do I reset the widget to its factory settings?

A: Hold the reset button for ten seconds until the light blinks twice, then
release it and wait for the widget to restart.

Q: Where is the manual?

A: http://example.org/widget/manual.html
"""

INDENTED = """\
Common questions
================

Why does the gauge show a bogus value at startup?

\tThe gauge reads its sensor before the sensor has warmed up, so the first
\treading is always off by a few degrees.

Why use gauge-ng instead of gauge?
==================================

Gauge-ng reads every sensor in parallel and keeps a history of readings,
which the old gauge never did.
"""

MARKDOWN = """\
# Relay

Relay forwards messages between queues.

## How does relay handle a full queue?

Relay waits for the queue to drain and retries every second, so no message
is dropped while the consumer catches up.

## Installing

Run the installer.
"""

HTML = """<!DOCTYPE html><html><head><title>Pump FAQ</title></head><body>
<h1>Pump FAQ</h1>
<dl>
<dt>Can the pump run dry?</dt>
<dd><p>No. The pump stops itself when its inlet sensor reports no water for five seconds.</p></dd>
</dl>
<h3>Why is the pump loud at night?</h3>
<p>At night the pump runs its weekly flush cycle, which opens the bypass valve and doubles the flow.</p>
<ol><li><em>Pump does not start after a power cut</em>
<p>Press the restart button once; the pump waits for a manual restart after any power cut by design.</p></li></ol>
</body></html>
"""


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_numbered_faq_in_a_gzip_file(tmp_path):
    pairs = mine(_write(tmp_path / "frobz" / "FAQ.gz", NUMBERED))
    # The contents list repeats the questions with no answer under them: each question is mined once.
    assert [p.question for p in pairs] == [
        "Where do I get frobz?", "Why does frobz refuse files larger than the configured limit?"]
    assert pairs[0] == MinedPair("frobz/FAQ", "Where do I get frobz?",
                            "The sources of frobz are published on the project page, and every release is signed "
                            "with the maintainer's key.", [])
    # The code line is neither the answer nor its context; the later paragraph of the answer is context.
    assert pairs[1].answer.startswith("Frobz keeps the whole file in memory")
    assert pairs[1].context == ["Raise the limit with the --limit option when the machine has memory to spare."]
    # "Yes, quite." is under 40 characters: no pair.


def test_q_and_a_lines_and_url_only_answers(tmp_path):
    pairs = mine(_write(tmp_path / "widget" / "README", QA))
    assert [(p.question, p.answer) for p in pairs] == [(
        "How do I reset the widget to its factory settings?",
        "Hold the reset button for ten seconds until the light blinks twice, then release it and wait for the "
        "widget to restart.")]


def test_question_lines_with_indented_or_underlined_answers(tmp_path):
    pairs = mine(_write(tmp_path / "gauge" / "notes.txt", INDENTED))
    assert [(p.doc, p.question, p.answer[:40]) for p in pairs] == [
        ("gauge/notes.txt", "Why does the gauge show a bogus value at startup?", "The gauge reads its sensor before the se"),
        ("gauge/notes.txt", "Why use gauge-ng instead of gauge?", "Gauge-ng reads every sensor in parallel "),
    ]


def test_markdown_headings_and_html_headings_definitions_and_list_leads(tmp_path):
    md = mine(_write(tmp_path / "relay" / "README.md", MARKDOWN))
    assert [(p.question, p.answer.split(",")[0]) for p in md] == [
        ("How does relay handle a full queue?", "Relay waits for the queue to drain and retries every second")]
    html = mine(_write(tmp_path / "pump" / "faq.html", HTML))
    assert [(p.question, p.answer.split(" ")[0]) for p in html] == [
        ("Can the pump run dry?", "No."), ("Why is the pump loud at night?", "At"),
        ("Pump does not start after a power cut", "Press")]


def test_a_long_answer_is_cut_at_a_sentence_end(tmp_path):
    sentence = "The cache keeps every block it has read until the process exits or memory runs short. "
    text = "Why does the cache grow?\n\n" + "".join("    " + sentence + "\n" for _ in range(12))
    (pair,) = mine(_write(tmp_path / "cache" / "FAQ", text))
    whole = " ".join((sentence * 12).split())
    assert len(whole) > 600 and 500 < len(pair.answer) <= 600
    assert whole.startswith(pair.answer) and pair.answer.endswith("short.")


@pytest.mark.parametrize("name", ["base-files/FAQ", "base-files/README", "xz-utils/faq.txt.gz",
                                  "valgrind/FAQ.txt.gz", "valgrind/html/faq.html"])
def test_held_out_and_gold_documents_are_refused(tmp_path, name):
    path = _write(tmp_path / name, INDENTED)
    with pytest.raises(InputError, match="never mined"):
        mine(path)


def test_a_link_to_a_held_out_document_and_licence_texts_are_refused(tmp_path):
    target = _write(tmp_path / "base-files" / "README", INDENTED)
    link = tmp_path / "other" / "FAQ"
    link.parent.mkdir()
    link.symlink_to(target)
    with pytest.raises(InputError, match="never mined"):
        mine(link)
    gpl = "GNU GENERAL PUBLIC LICENSE\nVersion 3\n\nTERMS AND CONDITIONS\n\n" + INDENTED
    with pytest.raises(InputError, match="licence"):
        mine(_write(tmp_path / "gauge" / "GPL-3", gpl))
    assert mine(_write(tmp_path / "gauge" / "FAQ", INDENTED))  # the same text elsewhere is mined


def test_the_command_is_deterministic_and_skips_held_out_documents(tmp_path):
    docs = tmp_path / "doc"
    _write(docs / "widget" / "README", QA)
    _write(docs / "frobz" / "FAQ.gz", NUMBERED)
    _write(docs / "base-files" / "FAQ", INDENTED)
    _write(docs / "gauge" / "changelog", INDENTED)
    runs = []
    for out in (tmp_path / "a.jsonl", tmp_path / "b.jsonl"):
        done = subprocess.run([sys.executable, "-m", "rag.training.mine", str(out), str(docs)], cwd=ROOT,
                              capture_output=True, text=True, check=True)
        runs.append(out.read_bytes())
    assert runs[0] == runs[1]
    rows = [json.loads(line) for line in runs[0].decode().splitlines()]
    assert [(r["doc"], r["question"][:20]) for r in rows] == [
        ("frobz/FAQ", "Where do I get frobz"), ("frobz/FAQ", "Why does frobz refus"), ("widget/README", "How do I reset the w")]
    assert set(rows[0]) == {"doc", "question", "answer", "context"}
    assert "2  frobz/FAQ" in done.stderr and "1  widget/README" in done.stderr and "base-files" not in done.stderr
