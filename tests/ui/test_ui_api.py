"""The web app's HTTP surface, served for real: uploads (limits, hostile names, types), Gradio's upload
route, and malformed API calls. A LiveIndex (real model) serves two short documents (so each rebuild is
quick), and an accepted upload is indexed and then answered from.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from conftest import SMALL_CORPUS, write_seeds
from format_fixtures import tiny_pdf

from rag.readers.limits import size_text
from ui.guard import UPLOAD_OFF
from ui.server import start, upload_allowed
from ui.workspace import Workspace

pytestmark = [pytest.mark.model,
              pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

OTHER = "harbour.md"
OTHER_TEXT = ("# Harbour report\n\n## Traffic\n\nThe harbour authority said that shipping traffic through the "
              "northern canal doubled in 2023, and officials expect further growth next year.\n")
OWLS = ("Owl Survey\n\nBarn owls in the valley nest in old church towers, and the survey counted forty-two "
        "breeding pairs in the spring of 2024.\n")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from rag.service.live import LiveIndex

    root = tmp_path_factory.mktemp("workspace")
    seeds = write_seeds(root / "seeds", {"ports.txt": SMALL_CORPUS["ports.txt"], OTHER: OTHER_TEXT})
    live = LiveIndex(seeds, root / "index", poll_seconds=0.5)
    live.current()
    yield live
    live.close()


@pytest.fixture(scope="module")
def server(live, tmp_path_factory):
    demo, url = start(live, host="127.0.0.1", port=None, feedback_log=tmp_path_factory.mktemp("fb") / "f.jsonl")
    try:
        yield url
    finally:
        demo.close()


def seeds_of(live) -> Path:
    return Path(live.current().manifest.seeds_dir)


def upload(url: str, name: str, data: bytes, **headers: str) -> httpx.Response:
    sent = {"X-File-Name": quote(name, safe=""), "Content-Type": "application/octet-stream", **headers}
    return httpx.post(url + "rag/upload", content=data, headers=sent, timeout=60)


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_uploads_follow_the_address_unless_told(live):
    assert upload_allowed("127.0.0.1", None) and upload_allowed("::1", None)
    assert not upload_allowed("0.0.0.0", None) and not upload_allowed("192.168.1.5", None)
    assert upload_allowed("0.0.0.0", True) and not upload_allowed("127.0.0.1", False)
    assert Workspace(live, upload=True).upload
    assert not Workspace(live.current(), upload=True).upload  # a fixed index never shows a new document


def test_an_upload_is_indexed_and_answered_with_a_citation_of_it(server, live):
    from gradio_client import Client

    reply = upload(server, "Owl survey.txt", OWLS.encode())
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert data == {"ok": True, "source": "uploads/Owl survey.txt", "message": data["message"]}
    assert "/" + seeds_of(live).name not in data["message"] and str(seeds_of(live)) not in reply.text  # no server path
    assert (seeds_of(live) / "uploads" / "Owl survey.txt").read_text("utf-8") == OWLS
    status = live.wait(300)
    assert status.state == "ready", status.message
    answer = Client(server, verbose=False).predict("How many breeding pairs of barn owls were counted?", 5, None,
                                                   api_name="/ask")
    assert not answer["abstained"]
    first = answer["quotes"][0]
    assert first["citation"]["source"] == "uploads/Owl survey.txt" and "forty-two" in first["text"]


@pytest.mark.parametrize(("name", "data", "status", "saved", "says"), [
    ("../../escape.txt", OWLS.encode(), 200, "uploads/escape.txt", "Added uploads/escape.txt"),
    ("/etc/cron.d/job.md", OWLS.encode(), 200, "uploads/job.md", "Added uploads/job.md"),
    ("nul\x00byte.txt", OWLS.encode(), 200, "uploads/nulbyte.txt", "Added uploads/nulbyte.txt"),
    ("y" * 3000 + ".txt", OWLS.encode(), 200, "uploads/" + "y" * 100 + ".txt", "Added uploads/yyy"),
    ("invoice.pdf", b"MZ\x90\x00\x03" + b"\x00" * 500, 422, None, "is a program, not a document"),
    ("setup.exe", b"MZ\x90\x00\x03" + b"\x00" * 500, 422, None, "the documents can be .pdf .docx"),
    ("latin1.txt", "café crème\n".encode("latin-1"), 422, None, "is not UTF-8 text"),
])
def test_hostile_names_and_types_over_http(server, live, name, data, status, saved, says):
    seeds = seeds_of(live)
    before = files_under(seeds.parent)
    reply = upload(server, name, data)
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert body["ok"] is (status == 200) and says in body["message"]
    assert str(seeds) not in reply.text and "/tmp" not in reply.text  # never a path on the server
    added = files_under(seeds.parent) - before
    assert added == ({f"{seeds.name}/{saved}"} if saved else set())  # inside the seeds folder, or nothing at all
    live.wait(300)


def test_a_name_that_is_not_utf8_is_cleaned(server, live):
    raw = "%FF%FEowls.txt"  # percent-encoded bytes that are not UTF-8
    reply = httpx.post(server + "rag/upload", content=OWLS.encode(), timeout=60,
                       headers={"X-File-Name": raw, "Content-Type": "application/octet-stream"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["source"] == "uploads/owls.txt"
    live.wait(300)


def test_size_limit_is_checked_before_the_body_is_kept(server, live, monkeypatch):
    monkeypatch.setenv("RAG_MAX_FILE_MB", "0.001")  # 1,000 bytes
    before = files_under(seeds_of(live))
    reply = upload(server, "big.txt", b"word " * 1000)
    assert reply.status_code == 413
    assert reply.json()["message"] == (f"That file is {size_text(5000)}; the limit is {size_text(1000)} a file "
                                       "(RAG_MAX_FILE_MB on the server).")

    def chunks():  # no Content-Length: the body is cut off at the limit while it streams
        for _ in range(50):
            yield b"word " * 100

    reply = httpx.post(server + "rag/upload", content=chunks(), timeout=60,
                       headers={"X-File-Name": "streamed.txt", "Content-Type": "application/octet-stream"})
    assert reply.status_code == 413 and f"over the {size_text(1000)} limit" in reply.json()["message"]
    assert files_under(seeds_of(live)) == before


def test_corpus_limit(server, live, monkeypatch):
    monkeypatch.setenv("RAG_MAX_CORPUS_MB", "0.001")
    reply = upload(server, "more.txt", OWLS.encode())
    assert reply.status_code == 422 and f"over the {size_text(1000)} limit for all of them" in reply.json()["message"]


def test_requests_that_are_not_a_plain_upload_from_this_page_are_refused(server):
    assert httpx.get(server + "rag/upload", timeout=30).status_code == 405
    missing = httpx.post(server + "rag/upload", content=b"x", timeout=30)
    assert missing.status_code == 400 and "X-File-Name" in missing.json()["message"]
    foreign = upload(server, "owls.txt", OWLS.encode(), Origin="http://evil.example")
    assert foreign.status_code == 403 and "own page" in foreign.json()["message"]
    preflight = httpx.options(server + "rag/upload", timeout=30, headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-file-name"})
    assert preflight.headers.get("access-control-allow-origin") != "http://evil.example"


def test_gradio_upload_route_is_closed_and_echoes_no_path(server):
    reply = httpx.post(server + "gradio_api/upload", files={"files": ("a.txt", b"hello")}, timeout=30)
    assert reply.status_code == 404
    assert "/tmp" not in reply.text and "gradio" not in reply.text.lower().replace("gradio_api", "")


def test_uploads_are_refused_when_turned_off(live):
    demo, url = start(live, host="127.0.0.1", port=None, upload=False)
    try:
        reply = upload(url, "owls.txt", OWLS.encode())
        assert reply.status_code == 403 and reply.json()["message"] == UPLOAD_OFF
        assert "--allow-upload" in UPLOAD_OFF
    finally:
        demo.close()


def result_of(url: str, api: str, body: dict) -> tuple[int, str]:
    """POST /gradio_api/call/API, then read its event stream: (status of the POST, the stream or the reply)."""
    reply = httpx.post(url + f"gradio_api/call/{api}", json=body, timeout=30)
    if reply.status_code != 200:
        return reply.status_code, reply.text
    event = reply.json()["event_id"]
    return 200, httpx.get(url + f"gradio_api/call/{api}/{event}", timeout=60).text


@pytest.mark.parametrize(("data", "expected"), [
    ([], "question must be a string"),
    ([None], "question must be a string"),
    (["   "], "question is blank"),
    ([42, 5, None], "question must be a string"),
    (["How did shipping traffic through the northern canal change?", "five", None], "k must be"),
    (["How did shipping traffic through the northern canal change?", 5, OTHER], "sources must be a list"),
    (["How did shipping traffic through the northern canal change?", 5, [None]], "sources must be a list"),
])
def test_malformed_api_calls_get_a_clear_error(server, data, expected):
    status, text = result_of(server, "ask", {"data": data})
    assert status == 200 and "event: error" in text
    error = json.loads(text.split("data:", 1)[1].strip().splitlines()[0])["error"]
    assert error and expected in error and "Traceback" not in error


def test_too_many_values_are_named(server):
    status, text = result_of(server, "ask", {"data": ["q", 5, None, "extra"]})
    assert status == 422
    assert "takes 3 values (question, k, sources), got 4" in json.loads(text)["error"]


def test_a_short_call_uses_the_defaults(server):
    status, text = result_of(server, "ask", {"data": ["How did shipping traffic through the northern canal change?"]})
    assert status == 200 and "event: complete" in text
    answer = json.loads(text.split("data:", 1)[1].strip())[0]
    assert len(answer["passages"]) == 5 and not answer["abstained"]


def test_a_pdf_upload_keeps_its_bytes(server, live):
    pdf = tiny_pdf(["Lighthouse Keeping", "The lamp on the northern cape was automated in 1987."])
    reply = upload(server, "Light house.PDF", pdf)
    assert reply.status_code == 200, reply.text
    assert (seeds_of(live) / reply.json()["source"]).read_bytes() == pdf
    deadline = time.monotonic() + 300  # an upper bound for slow machines, not a performance assertion
    while "uploads/Light house.pdf" not in live.current().sources and time.monotonic() < deadline:
        live.wait(5)
    assert "uploads/Light house.pdf" in live.current().sources
