"""The OpenAI-compatible endpoint (/v1) answered for the unmodified `openai` client and for curl, plain and
streaming: the reply is the library's answer as Markdown, the structured answer travels in `rag`, an abstention
is an ordinary reply, and earlier user messages are the history of a follow-up.

One server per module over SMALL_CORPUS indexed with the hash embedder (no model load).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess

import httpx
import openai
import pytest
from conftest import SMALL_CORPUS, quiet, write_seeds

import rag
from rag.embed.model import HashEmbedder
from ui.api.openai_compat import reply_markdown
from ui.chat import DEFAULT_K
from ui.server import start

WAIT = 60  # seconds: a limit against hanging, never a measured figure
BEES = "Which flowers do honey bees visit in early summer?"
PERU = "What is the capital of Peru?"
FIRST, FOLLOW = "Where do hives need shade?", "And what paint do beekeepers use on them?"


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    root = tmp_path_factory.mktemp("openai")
    return rag.build_index(write_seeds(root / "seeds", SMALL_CORPUS), root / "index", embedder=HashEmbedder(),
                           log=quiet)


@pytest.fixture(scope="module")
def url(index):
    demo, address = start(index, host="127.0.0.1", port=None)
    try:
        yield address.rstrip("/")
    finally:
        demo.close()


@pytest.fixture(scope="module")
def client(url):
    with openai.OpenAI(base_url=f"{url}/v1", api_key="any-key-will-do", max_retries=0, timeout=WAIT) as c:
        yield c


def as_json(answer: rag.Answer) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(answer)))


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def test_a_completion_is_the_librarys_answer_with_numbered_citations(client, index):
    done = client.chat.completions.create(model="rag", messages=[{"role": "system", "content": "Be brief."},
                                                                  user(BEES)])
    expected = index.answer(BEES, DEFAULT_K)
    assert done.object == "chat.completion" and done.id.startswith("chatcmpl-")
    choice = done.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    content = choice.message.content
    assert content == reply_markdown(expected)
    assert f"“{expected.quotes[0].text}” [1]" in content and "[1] bees.txt, characters 14–137" in content
    assert "**Question:**" not in content  # the question is not repeated back
    assert done.model_extra["rag"] == as_json(expected)


def test_an_abstention_is_an_ordinary_reply(client, index):
    done = client.chat.completions.create(model="anything", messages=[user(PERU)])
    assert done.choices[0].finish_reason == "stop" and done.model == "anything"
    assert done.choices[0].message.content.startswith("The documents do not answer this question.")
    assert done.model_extra["rag"]["abstained"] and done.model_extra["rag"] == as_json(index.answer(PERU, DEFAULT_K))


def test_earlier_user_messages_are_the_history_of_a_follow_up(client, index):
    messages = [user(FIRST), {"role": "assistant", "content": "(an earlier reply, not read)"}, user(FOLLOW)]
    done = client.chat.completions.create(model="rag", messages=messages)
    expected = index.answer(FOLLOW, DEFAULT_K, history=[FIRST])
    assert done.model_extra["rag"] == as_json(expected)
    assert expected.searched and expected != index.answer(FOLLOW, DEFAULT_K)  # the history changed what was searched


def test_streaming_sends_chunks_that_add_up_to_the_reply(client, index):
    stream = client.chat.completions.create(model="rag", messages=[user(BEES)], stream=True)
    chunks = list(stream)
    assert {c.object for c in chunks} == {"chat.completion.chunk"} and len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == reply_markdown(index.answer(BEES, DEFAULT_K))
    assert [c.choices[0].finish_reason for c in chunks][-1] == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    assert chunks[-1].model_extra["rag"] == as_json(index.answer(BEES, DEFAULT_K))


def test_the_event_stream_ends_with_done(url):
    body = {"model": "rag", "messages": [user(BEES)], "stream": True}
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=WAIT) as reply:
        assert reply.headers["content-type"].startswith("text/event-stream")
        events = [line for line in reply.iter_lines() if line]
    assert all(line.startswith("data: ") for line in events) and events[-1] == "data: [DONE]"
    assert json.loads(events[-2][6:])["choices"][0]["finish_reason"] == "stop"


def test_models_lists_the_one_model(client):
    assert [m.id for m in client.models.list()] == ["rag"]
    assert client.models.retrieve("rag").id == "rag"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4")


def test_the_client_gets_clear_errors(client):
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="rag", messages=[{"role": "assistant", "content": "hello"}])
    assert err.value.body["code"] == "no_question" and "role" in err.value.body["message"]
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="rag", messages=[])
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="rag", messages=[user("   \t ")])
    assert err.value.body["code"] == "no_question"


def test_content_parts_and_any_bearer_key_are_accepted(url, index):
    body = {"model": "rag", "temperature": 0.2, "max_tokens": 50,
            "messages": [{"role": "user", "content": [{"type": "text", "text": BEES}]}]}
    reply = httpx.post(f"{url}/v1/chat/completions", json=body, headers={"authorization": "Bearer sk-whatever"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["rag"] == as_json(index.answer(BEES, DEFAULT_K))


def test_curl_streams_the_reply(url, index):
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    body = json.dumps({"model": "rag", "stream": True, "messages": [user(BEES)]})
    out = subprocess.run([curl, "-sSN", f"{url}/v1/chat/completions", "-H", "Content-Type: application/json",
                          "-H", "Authorization: Bearer local", "-d", body], capture_output=True, text=True,
                         timeout=WAIT, check=True).stdout
    events = [line[6:] for line in out.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-1])
    assert text == reply_markdown(index.answer(BEES, DEFAULT_K))
