"""The web app served for real on 127.0.0.1 and called with gradio_client's `/ask`.

Builds a small index with the real model (the report from seeds/ plus one
short second document, so the document filter can be checked), starts the app
on a free port in background threads, and stops it at the end.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import report_and, serving

pytestmark = [pytest.mark.model,
              # Gradio's queue statistics use pandas options that pandas 3 deprecates: not ours.
              pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

ROOT = Path(__file__).resolve().parent.parent.parent
REPORT = "japan-nato-alignment.txt"
OTHER = "harbour.md"
OTHER_TEXT = """# Harbour report

## Traffic

The harbour authority said that shipping traffic through the northern canal doubled in 2023, and officials expect further growth in container volumes next year.

The fishing fleet has shrunk by a third since 2010 because younger people prefer jobs in the growing logistics sector around the harbour.
"""


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return report_and(tmp_path_factory, OTHER, OTHER_TEXT)


@pytest.fixture(scope="module")
def server(index):
    with serving(index) as url:
        yield url


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server, verbose=False)


def check_quotes(index, data: dict) -> None:
    for quote in data["quotes"]:
        c = quote["citation"]
        assert set(c) == {"source", "section", "paragraph", "start", "end", "page"}
        assert index.source_text(c["source"])[c["start"]:c["end"]] == quote["text"]
        assert isinstance(c["paragraph"], int) and c["paragraph"] >= 1
        assert c["section"] is None or isinstance(c["section"], str)


def test_server_binds_loopback(server):
    assert server.startswith("http://127.0.0.1:")


def test_ask_returns_the_structured_answer(index, client):
    data = client.predict("Why does Taiwan matter to Japan?", 5, index.sources, api_name="/ask")
    assert data["question"] == "Why does Taiwan matter to Japan?"
    assert data["abstained"] is False
    assert 1 <= len(data["quotes"]) <= 3
    assert all(q["citation"]["source"] == REPORT for q in data["quotes"])
    assert any("Taiwan" in q["text"] for q in data["quotes"])
    check_quotes(index, data)
    assert len(data["passages"]) == 5
    for p in data["passages"]:
        c = p["citation"]
        assert index.source_text(c["source"])[c["start"]:c["end"]] == p["text"]
    assert "[1]" in data["text"]
    # The same answer as calling the library directly.
    import dataclasses

    assert data == dataclasses.asdict(index.answer("Why does Taiwan matter to Japan?", 5))


def test_ask_defaults_k_and_sources(index, client):
    data = client.predict("How did the Red Sea attacks affect shipping costs?", api_name="/ask")
    assert data["abstained"] is False
    assert any("shipping costs" in q["text"] for q in data["quotes"])
    assert len(data["passages"]) == 5
    check_quotes(index, data)


def test_ask_honours_k(client):
    data = client.predict("What obstacles limit Japan's cooperation with NATO?", 2, None, api_name="/ask")
    assert len(data["passages"]) == 2


def test_ask_filters_by_document(index, client):
    data = client.predict("How did shipping traffic through the northern canal change?", 5, [OTHER],
                          api_name="/ask")
    assert data["passages"] and all(p["citation"]["source"] == OTHER for p in data["passages"])
    assert all(q["citation"]["source"] == OTHER for q in data["quotes"])
    check_quotes(index, data)
    data = client.predict("How did shipping traffic through the northern canal change?", 5, [REPORT],
                          api_name="/ask")
    assert all(p["citation"]["source"] == REPORT for p in data["passages"])


def test_unanswerable_question_abstains(client):
    data = client.predict("What is the recipe for a chocolate souffle?", 5, None, api_name="/ask")
    assert data["abstained"] is True
    assert data["quotes"] == []
    assert data["message"]


@pytest.mark.parametrize(("question", "k", "sources", "expected"), [
    ("   ", 5, None, "question is blank"),
    ("Why does Taiwan matter to Japan?", 0, None, "k must be at least 1"),
    ("Why does Taiwan matter to Japan?", 5, ["nope.txt"], "unknown document"),
    ("Why does Taiwan matter to Japan?", 5, [], "Select at least one document"),
])
def test_bad_input_gets_a_polite_error_not_a_traceback(client, question, k, sources, expected):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as info:
        client.predict(question, k, sources, api_name="/ask")
    message = str(info.value)
    assert expected in message
    assert "Traceback" not in message


def test_twenty_users_at_once_each_get_their_own_answer(index, server):
    """Concurrent asks share one index: every user must get the answer to the question it asked."""
    import dataclasses
    import json
    import threading

    from gradio_client import Client

    gold = ROOT / "tests" / "gold" / "japan-nato-alignment.jsonl"
    questions = [json.loads(line)["question"] for line in gold.read_text("utf-8").splitlines() if line.strip()][:20]
    assert len(set(questions)) == 20
    expected = {q: dataclasses.asdict(index.answer(q, 5)) for q in questions}
    clients = [Client(server, verbose=False) for _ in questions]
    results: dict[int, object] = {}
    start = threading.Barrier(len(questions))

    def user(n: int) -> None:
        try:
            start.wait(timeout=60)
            results[n] = clients[n].predict(questions[n], 5, None, api_name="/ask")
        except Exception as err:  # noqa: BLE001 - reported below with the user's number
            results[n] = err

    threads = [threading.Thread(target=user, args=(n,), daemon=True) for n in range(len(questions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)  # a bound so a hang fails the test instead of blocking the run; not a speed check
    assert sorted(results) == list(range(len(questions))), "some users got no reply"
    for n, question in enumerate(questions):
        got = results[n]
        assert not isinstance(got, Exception), f"user {n}: {got!r}"
        assert got["question"] == question
        assert got == expected[question]
