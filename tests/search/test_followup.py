"""Follow-up questions: the rules that spot one and build what is searched, and `history=` end to end
on a small corpus indexed with the fast HashEmbedder (no model load)."""

from __future__ import annotations

import io
import json
import sys

import pytest

from rag.answers.pipeline import explain
from rag.cli import main
from rag.errors import InputError
from rag.search.followup import (
    MAX_TURNS,
    UNRESOLVED_MESSAGE,
    check_history,
    grounded,
    holds_list,
    known,
    leans,
    resolve,
    subject_words,
)

# --- spotting a follow-up ----------------------------------------------------------------


@pytest.mark.parametrize(("question", "reason"), [
    ("And at the bilateral level?", "opening"),
    ("What about South Korea?", "opening"),
    ("Is it safe to enable?", "pronoun"),
    ("Why does that help?", "pronoun"),
    ("What's the second one?", "ordinal"),
    ("And the third one?", "ordinal"),
    ("Who else can publish new versions?", "comparison"),
    ("Why?", "short"),
    ("How much did shipping costs rise when ships avoided the Red Sea?", ""),
    ("Which ssh option forces IPv4 addresses only?", ""),
])
def test_leans_names_the_sign_of_a_follow_up(question, reason):
    assert leans(question) == reason


def test_subject_words_keep_words_as_written_and_drop_question_and_generic_words():
    assert subject_words("What does the sort_keys argument of json.dumps do?") == ["sort_keys", "argument",
                                                                                    "json.dumps"]
    assert subject_words("Which option does ssh -A set?") == ["option", "ssh", "-A", "set"]
    assert subject_words("What does it say about that?") == []


# --- what is searched --------------------------------------------------------------------


def test_a_question_that_stands_alone_is_searched_as_asked():
    resolution = resolve("Which ssh option forces IPv4 addresses only?", ["What does ssh -A do?"])
    assert resolution == resolve("Which ssh option forces IPv4 addresses only?", [])
    assert resolution.searched == "" and not resolution.unresolved


def test_a_follow_up_is_searched_with_the_earlier_questions_words():
    resolution = resolve("Is it safe to enable?", ["What does the ssh -A option do?"])
    assert resolution.searched == "Is it safe to enable? (ssh -A option)"
    assert resolution.context == "What does the ssh -A option do?"


def test_a_chain_of_follow_ups_carries_the_first_questions_subject():
    history = ["What did Japan's November 2022 National Security Strategy advocate?", "And at the bilateral level?"]
    searched = resolve("What about minilateral arrangements?", history).searched
    assert searched.startswith("What about minilateral arrangements? (")
    for word in ("bilateral", "Japan", "Strategy"):
        assert word in searched


def test_a_new_subject_resets_the_context():
    history = ["What does the ssh -A option do?", "Which library is Python's json module derived from?"]
    searched = resolve("Is it fast?", history).searched
    assert "json" in searched and "ssh" not in searched


def test_a_long_earlier_question_lends_a_bounded_number_of_words():
    earlier = "What about " + " ".join(f"topic{n}" for n in range(500)) + "?"
    searched = resolve("Why is it so?", [earlier]).searched
    assert searched.startswith("Why is it so? (topic0 topic1 ") and len(searched.split()) < 40


def test_undecodable_bytes_are_not_carried_into_the_search():
    resolution = resolve("Why?", ["What does the \ufffd\ufffd budget treaty say about defence?"])
    assert resolution.searched == "Why? (budget treaty defence)"
    assert subject_words("\ufffd \ufffdssh\ufffd -A") == ["ssh", "-A"]


def test_only_the_last_turns_are_looked_at():
    old = ["What does the ssh -A option do?"] + ["Thanks, that helps."] * MAX_TURNS
    assert resolve("Is it safe?", old).searched == ""  # the ssh question is too far back: searched as asked
    assert resolve("Is it safe?", old[1:] + old[:1]).searched == "Is it safe? (ssh -A option)"
    long = ["What does the ssh -A option do?"] * 20_000
    assert resolve("Is it safe?", long) == resolve("Is it safe?", long[-MAX_TURNS:])


@pytest.mark.parametrize(("question", "quoted", "expected"), [
    ("Who invented it?", ["Valgrind reports a leak when a block of memory can no longer be reached."], False),
    ("Who invented it?", ["Julian Seward is the inventor of Valgrind."], True),
    ("What colour is it?", ["If sort_keys is true, the output of dictionaries will be sorted by key."], False),
    ("Is it safe to enable?", ["Agent forwarding should be enabled with caution."], True),
    ("Is it sorted?", ["If sort_keys is true, the output will be sorted by key."], True),
    ("Who won it in 1998?", ["It was first released in 2002."], False),
    ("Why?", ["Anything at all."], True),  # no words of its own: the earlier subject is all it has
    ("Why does that help?", [], True),
    ("Who gave that figure?", ["Costs rose 4%, according to Marco Forgione."], True),  # "that figure" points back
    ("Who gave that figure?", ["Costs rose 4%."], True),  # a light verb and a back-reference: nothing of its own
    ("Who wrote that licence?", ["The licence is version 2.0."], False),
    ("Why is it a hurdle for cooperation?", ["It hamstrung Japan's ability to cooperate."], True),
    ("Who controls it?", ["Anyone may contribute."], False),
    ("What colour is it?", ["The separators default to a comma and a colon."], False),
    ("What colour is it?", [], False),
])
def test_an_answer_through_the_history_must_hold_the_follow_ups_own_words(question, quoted, expected):
    assert grounded(question, quoted) is expected


@pytest.mark.parametrize(("question", "history"), [
    ("Why?", []),
    ("And the second one?", []),
    ("What does it say about that?", ["Thanks, that helps."]),
    ("Why?", ["", "   "]),
    ("Why was it deprecated?", []),  # all it says is what was done to "it"
    ("Who wrote it?", ["OK, thanks."]),
    ("How do I install them?", []),
])
def test_a_reference_with_nothing_to_lean_on_is_unresolved(question, history):
    resolution = resolve(question, history)
    assert resolution.unresolved and resolution.searched == ""


@pytest.mark.parametrize("question", [
    "What does this licence say about patents?",
    "What does it say about Taiwan?",  # "it" is the document; the question names its subject
    "Is it possible to sort the keys?",
    "How do I enable -execdir with it?",
])
def test_a_follow_up_with_words_of_its_own_and_no_history_is_searched_as_asked(question):
    resolution = resolve(question, [])
    assert not resolution.unresolved and resolution.searched == ""


def test_an_ordinal_needs_an_earlier_answer_that_listed_things():
    history = ["What are the effects of the attacks?"]
    asked: list[str] = []

    def listed(context: str) -> bool:
        asked.append(context)
        return True

    assert resolve("What's the second one?", history, has_list=listed).searched
    assert asked == history
    assert resolve("What's the second one?", history, has_list=lambda _: False).unresolved
    assert not resolve("Is it safe?", history, has_list=lambda _: False).unresolved  # only ordinals need a list


@pytest.mark.parametrize(("text", "listed"), [
    ("First, the use of sea routes increases the cost.", True),
    ("It rose. Second, disruptions may follow.", True),
    ("  1. Bash ensures that the variable is set.", True),
    ("(a) for any code that a Contributor has removed", True),
    ("* apt-get for retrieval of packages", True),
    ("Don't feel bad: almost everyone gets it wrong at first.", False),
    ("The first time gpg needs a secret key it checks the file.", False),
])
def test_holds_list(text, listed):
    assert holds_list(text) is listed


@pytest.mark.parametrize("history", ["What is ssh?", {"a": 1}, 3, [1, 2], b"bytes"])
def test_history_must_be_a_list_of_strings(history):
    with pytest.raises(InputError, match="history must"):
        check_history(history)


# --- Index.answer(history=...) -------------------------------------------------------------


def test_without_history_the_answer_is_todays(hash_index):
    for question in ("What do honey bees visit?", "Why?", "What powers ships at berth?"):
        today = explain(hash_index, question)[0]
        assert hash_index.answer(question) == today
        assert hash_index.answer(question, history=None) == today
        assert today.searched == ""


def test_a_question_standing_alone_gets_the_same_answer_with_a_history(hash_index):
    question = "Where do honey bees gather pollen in early summer?"
    assert not leans(question)
    assert hash_index.answer(question, history=["Which opening answers the king pawn?"]) == explain(hash_index,
                                                                                                     question)[0]


def test_an_unresolvable_follow_up_abstains_saying_so(hash_index):
    result = hash_index.answer("And the second one?", history=[])
    assert result.abstained and result.quotes == [] and result.passages == []
    assert result.message == UNRESOLVED_MESSAGE and result.text == UNRESOLVED_MESSAGE
    assert result.question == "And the second one?"


def test_a_resolved_follow_up_says_what_was_searched_and_quotes_exactly(hash_index):
    result = hash_index.answer("Why do they paint them white?", history=["How do beekeepers keep hives cool?"])
    assert result.question == "Why do they paint them white?"
    if result.searched:
        assert result.searched.startswith("Why do they paint them white? (")
    for quote in result.quotes:
        c = quote.citation
        assert hash_index.text_of(c.source)[c.start : c.end] == quote.text


def test_history_is_checked(hash_index):
    with pytest.raises(InputError, match="history must"):
        hash_index.answer("Why?", history="What do honey bees visit?")


# --- rag ask --conversation --------------------------------------------------------------------


def test_ask_conversation_passes_the_earlier_lines_as_history(hash_index, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("Why?\nWhat do honey bees visit?\n\nAnd the second one?\n"))
    assert main(["ask", "--index", str(hash_index.index_dir), "--json", "--conversation"]) == 0
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [a["question"] for a in answers] == ["Why?", "What do honey bees visit?", "And the second one?"]
    assert answers[0]["message"] == UNRESOLVED_MESSAGE  # nothing earlier to lean on
    assert answers[1]["message"] != UNRESOLVED_MESSAGE and answers[1]["searched"] == ""


def test_ask_without_conversation_answers_each_line_alone(hash_index, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("Why?\n"))
    assert main(["ask", "--index", str(hash_index.index_dir), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["message"] != UNRESOLVED_MESSAGE
    assert answer == json.loads(json.dumps(_asdict(explain(hash_index, "Why?")[0])))


def _asdict(result):
    from dataclasses import asdict

    return asdict(result)


def test_a_conversation_encodes_each_search_once_and_answers_the_same(hash_index, monkeypatch):
    import rag.answers.pipeline as answering

    conversation = ["How do beekeepers keep hives cool?", "Why do they paint them white?", "Is it hard?"]
    answering._RECENT.clear()
    fresh = [hash_index.answer(q, history=conversation[:n]) for n, q in enumerate(conversation)]
    encoded: list[str] = []
    encode = hash_index.encode_query
    monkeypatch.setattr(hash_index, "encode_query", lambda query: (encoded.append(query.text), encode(query))[1])
    answering._RECENT.clear()
    again = [hash_index.answer(q, history=conversation[:n]) for n, q in enumerate(conversation)]
    assert again == fresh
    assert encoded and len(encoded) == len(set(encoded))  # the earlier question is not encoded again


@pytest.mark.parametrize(("question", "words", "expected"), [
    ("Does that work on ext4?", {"file", "system", "birth", "time"}, False),  # never named: the documents do not say
    ("Does that work on ext4?", {"file", "ext4"}, True),
    ("Is there a downside?", {"downsides", "cost"}, True),  # a long common start
    ("Why?", set(), True),  # no words of its own: the earlier subject is all it has
    ("Who gave that figure?", set(), True),  # a light verb and a back-reference
])
def test_the_history_is_used_only_when_the_documents_mention_what_the_follow_up_asks(question, words, expected):
    assert known(question, words) is expected
