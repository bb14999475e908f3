"""The light chat in headless Chromium: earlier messages come as keyed stubs the page fills from what it shows.

A question asked twice gives two identical messages; each must keep its own
key, or the page would move one's nodes into the other's stub and the first
would go blank. A follow-up leans on the questions stored in the browser
(sent up by `ui.light.SLIM_JS`), before and after a reload: one that cannot
be resolved without them ("Who said that?") is answered, not refused as
unresolved.

One server (127.0.0.1, free port) over a short text file indexed with the
hash embedder. Needs /usr/bin/chromium; skipped without it.
"""

from __future__ import annotations

import re

import pytest
from conftest import quiet, serving
from test_browser import Page, browser  # noqa: F401 - browser: the shared Chromium fixture

import rag
from rag.embed.model import HashEmbedder
from rag.search.followup import UNRESOLVED_MESSAGE
from ui.light import keyed

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

NOTES = ("# Harbour notes\n\n## Traffic\n\nThe harbour authority said that shipping traffic through the northern "
         "canal doubled in 2023.\n\n## Fleet\n\nThe fishing fleet has shrunk by a third since 2010 because younger "
         "people prefer jobs in logistics.\n")
QUESTION = "How did shipping traffic through the northern canal change?"
FOLLOW_UP = "Who said that?"


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    root = tmp_path_factory.mktemp("light")
    seeds = root / "seeds"
    seeds.mkdir()
    (seeds / "notes.md").write_text(NOTES, "utf-8")
    index = rag.build_index(seeds, root / "index", embedder=HashEmbedder(), log=quiet)
    assert index.answer(FOLLOW_UP, 5, history=[]).message == UNRESOLVED_MESSAGE  # without its history: refused
    with serving(index) as served:
        yield served


def keys(messages: list[dict]) -> list[str]:
    return [re.search(r"rag-k-\w+", m["content"]).group() for m in messages]  # type: ignore[union-attr]


def test_identical_messages_each_get_their_own_key_and_keep_it():
    question, answer = {"role": "user", "content": "<p>Same?</p>"}, {"role": "assistant", "content": "<p>Same.</p>"}
    full = keyed([question, answer, question, answer], full=None)
    assert len(set(keys(full))) == 4
    stubbed = keyed([question, answer, question, answer, question, answer])
    assert keys(stubbed)[:4] == keys(full)  # the stubs carry the keys the page showed them under
    assert all("Same" not in m["content"] for m in stubbed[:4]) and "Same." in stubbed[5]["content"]


def shown(tab: Page) -> tuple[list[str], list[str]]:
    chat = tab.page.locator("#rag-chat")
    return ([" ".join(t.split()) for t in chat.locator(".rag-question").all_inner_texts()],
            [" ".join(t.split()) for t in chat.locator(".rag-answer").all_inner_texts()])


def test_a_question_asked_twice_keeps_both_and_a_follow_up_has_its_history_before_and_after_a_reload(
        browser, url):  # noqa: F811
    tab = Page(browser, url)
    try:
        tab.ask(QUESTION)
        tab.ask(QUESTION)
        tab.ask(FOLLOW_UP)
        questions, answers = shown(tab)
        assert questions == [QUESTION, QUESTION, FOLLOW_UP]
        assert len(answers) == 3 and answers[0] == answers[1] and "doubled" in answers[0]
        assert UNRESOLVED_MESSAGE not in answers[2] and "harbour authority" in answers[2]

        tab.page.reload(wait_until="load")
        tab.page.wait_for_function("document.querySelectorAll('#rag-chat .rag-answer').length === 3")
        tab.ask(FOLLOW_UP)
        questions, answers = shown(tab)
        assert questions == [QUESTION, QUESTION, FOLLOW_UP, FOLLOW_UP]
        assert UNRESOLVED_MESSAGE not in answers[3] and "harbour authority" in answers[3]
        assert not tab.errors and not tab.dialogs
    finally:
        tab.context.close()
