"""A question that asks for a version or a default needs quotes that name one (the `detail_missing` signal)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag.answers.abstain import expected_detail, expected_type
from rag.answers.pipeline import explain
from rag.search.tuning import shipped


@pytest.mark.parametrize("question", [
    "Which release first added the --posix option?",
    "What version of libgcrypt is required?",
    "What is the minimum CMake version needed to build it?",
    "Which Python 3 versions are supported?",
    "What is the default value of TIMEFORMAT?",
    "Which keyserver is used by default?",
])
def test_questions_that_ask_for_a_version_or_a_default(question: str) -> None:
    assert expected_detail(question) is not None


@pytest.mark.parametrize("question", [
    "Which version control system does the project use?",
    "What did the release notes say about grep?",
    "What is the release date of the next update?",
    "What does the release manager do?",
    "What is the press release about?",
    "What are the release criteria?",
    "How do I install the package?",
    "Why does the tool print a warning?",
])
def test_questions_that_do_not(question: str) -> None:
    assert expected_detail(question) is None


@pytest.mark.parametrize(("question", "text"), [
    ("Which version introduced it?", "It arrived in 2.39.0 with the sparse index."),
    ("Which version introduced it?", "Since version 3 the option is on."),
    ("Which licence version applies?", "The work is released under GPLv3."),
    ("What version of Python is required?", "Python 3 is required."),
    ("Which Debian release dropped it?", "It was dropped for the Bullseye release."),
    ("What is the default pager?", "The pager is less unless PAGER is set."),
])
def test_quotes_that_name_one(question: str, text: str) -> None:
    pattern = expected_detail(question)
    assert pattern is not None and pattern.search(text)


@pytest.mark.parametrize(("question", "text"), [
    ("Which version introduced it?", "The option changed how the shell starts."),
    ("Which Debian release dropped it?", "The release was delayed. Each release is tested."),
    ("What is the default pager?", "The pager shows one screen at a time."),
])
def test_quotes_that_do_not(question: str, text: str) -> None:
    pattern = expected_detail(question)
    assert pattern is not None and not pattern.search(text)


ALWAYS_ANSWER = replace(shipped(), threshold=0.0)


def test_the_signal_reads_what_a_colon_announces(make_seeds, build_hash_index) -> None:
    index = build_hash_index(make_seeds({
        "tide.txt": "Tide Tables\n\nThe tide tables tool supports these tide table versions:\n\n    2.4.1 and 3.0.2\n\n"
                    "Gulls nest on the pier.\n",
        "moor.txt": "Moorings\n\nThe mooring tool supports several mooring formats from many harbours.\n",
    }))
    _, announced = explain(index, "Which tide table versions does the tide tables tool support?", params=ALWAYS_ANSWER)
    _, missing = explain(index, "Which mooring format version does the mooring tool support?", params=ALWAYS_ANSWER)
    assert not announced.detail_missing
    assert missing.detail_missing


@pytest.mark.parametrize(("question", "text", "typed"), [
    ("When do the hook scripts get run?", "They are run after the package is removed.", True),
    ("When is the cache rebuilt?", "The cache is rebuilt whenever a key changes.", True),
    ("When is the cache rebuilt?", "The cache holds every key.", False),
    ("When was the treaty signed?", "The treaty was signed after long talks.", False),  # a past event: a date
    ("When was the treaty signed?", "The treaty was signed in 1951.", True),
    ("When will the series reach its end of life?", "The series ends once a new one starts.", False),
])
def test_a_when_question_about_an_occasion_is_answered_by_a_clause(question: str, text: str, typed: bool) -> None:
    pattern = expected_type(question)
    assert pattern is not None
    assert bool(pattern.search(text)) is typed
