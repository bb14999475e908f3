"""`rag serve` started as its own process answers on its JSON API through curl and on its
OpenAI-compatible endpoint through the unmodified `openai` client, plain and streaming.

The in-process tests (tests/ui/test_http_api.py, tests/ui/test_openai_endpoint.py) cover
every route and refusal; these check that the command users run serves them as documented.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import SMALL_CORPUS, quiet, write_seeds

import rag
from ui.server import free_port

REPO = Path(__file__).resolve().parents[2]
QUESTION = "Why do beekeepers paint the hives white?"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`rag serve` over SMALL_CORPUS (real model), on a free port; yields its URL and the seeds folder."""
    folder = tmp_path_factory.mktemp("serve")
    seeds = write_seeds(folder / "seeds", SMALL_CORPUS)
    rag.build_index(seeds, folder / "index", log=quiet)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    log = (folder / "serve.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--port", str(port), "--index",
                               str(folder / "index"), "--feedback-log", str(folder / "feedback.jsonl")],
                              cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180
        while True:
            if server.poll() is not None:
                pytest.fail(f"rag serve exited with {server.returncode}: {(folder / 'serve.log').read_text()}")
            try:
                if httpx.get(url + "api/v1/documents", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"rag serve did not answer in 180 s: {(folder / 'serve.log').read_text()}")
            time.sleep(0.5)
        yield url, seeds
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _verbatim(answer: dict, seeds: Path) -> None:
    assert answer["quotes"], answer
    for quote in answer["quotes"]:
        c = quote["citation"]
        text = (seeds / c["source"]).read_text("utf-8")
        assert text[c["start"]:c["end"]] == quote["text"]


@pytest.mark.model
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_gets_a_cited_answer_and_a_json_error(served) -> None:
    url, seeds = served
    body = json.dumps({"question": QUESTION, "k": 3})
    done = subprocess.run(["curl", "-sS", "-X", "POST", url + "api/v1/answer", "-H", "Content-Type: application/json",
                           "-d", body], capture_output=True, text=True, timeout=60, check=True)
    answer = json.loads(done.stdout)
    assert not answer["abstained"] and "white" in answer["quotes"][0]["text"]
    _verbatim(answer, seeds)
    bad = subprocess.run(["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "-X", "POST", url + "api/v1/answer",
                          "-H", "Content-Type: application/json", "-d", "{not json"],
                         capture_output=True, text=True, timeout=60, check=True)
    payload, status = bad.stdout.rsplit("\n", 1)
    assert status == "400" and set(json.loads(payload)["error"]) == {"code", "message"}


@pytest.mark.model
def test_the_openai_client_gets_the_quoted_answer_plain_and_streamed(served) -> None:
    from openai import OpenAI

    url, seeds = served
    client = OpenAI(base_url=url + "v1", api_key="local")
    assert [m.id for m in client.models.list().data]
    plain = client.chat.completions.create(model="rag", messages=[{"role": "user", "content": QUESTION}])
    content = plain.choices[0].message.content or ""
    extra = plain.model_extra or {}
    _verbatim(extra["rag"], seeds)
    assert extra["rag"]["quotes"][0]["text"].split()[0] in content
    pieces = client.chat.completions.create(model="rag", messages=[{"role": "user", "content": QUESTION}],
                                            stream=True)
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in pieces if chunk.choices)
    assert streamed == content
    none = client.chat.completions.create(model="rag", messages=[
        {"role": "user", "content": "What is the boiling point of mercury in kelvin?"}])
    assert none.model_extra["rag"]["abstained"] and "do not answer" in (none.choices[0].message.content or "")
