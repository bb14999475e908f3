"""The JSON API (/api/v1) served for real beside the page: the library's answers as JSON, the documents listed,
added and removed under the page's rules, and every refusal as {"error": {"code", "message"}}, never a 500.

One server per module over SMALL_CORPUS in a LiveIndex with the hash embedder (no model load). The in-process
checks of the access seam and the quota use `ui.api.build` with Starlette's test client.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from conftest import SMALL_CORPUS, write_seeds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from ui.access import Denied, OneWorkspace
from ui.api import MAX_BODY_BYTES, build
from ui.quota import Quota
from ui.server import start
from ui.workspace import Workspace

WAIT = 60  # seconds: a limit against hanging, never a measured figure
BEES = "Which flowers do honey bees visit in early summer?"
OWLS = b"Owl Survey\n\nBarn owls in the valley nest in old church towers, and the survey counted forty-two pairs.\n"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from rag.service.live import LiveIndex

    root = tmp_path_factory.mktemp("api")
    index = LiveIndex(write_seeds(root / "seeds", SMALL_CORPUS), root / "index", model="hash-embedder",
                      poll_seconds=3600)
    index.current()
    yield index
    index.close()
    index.wait(WAIT)


@pytest.fixture(scope="module")
def url(live):
    demo, address = start(live, host="127.0.0.1", port=None)
    try:
        yield address.rstrip("/")
    finally:
        demo.close()


@pytest.fixture(scope="module")
def http(url):
    with httpx.Client(base_url=url, timeout=WAIT) as client:  # one connection pool: a new client costs ~0.1 s
        yield client


def seeds_of(live) -> Path:
    return Path(live.current().manifest.seeds_dir)


def error_of(reply: httpx.Response) -> dict:
    """The error of a refusal, checked to have the one shape."""
    body = reply.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert "Traceback" not in reply.text
    return body["error"]


def settled(live) -> list[str]:
    live.refresh()
    live.wait(WAIT)
    return list(live.current().sources)


def test_the_answer_is_the_librarys_answer_as_json(url, live):
    index = live.current()
    for body, expected in (
        ({"question": BEES}, index.answer(BEES, 5)),
        ({"question": BEES, "k": 2, "sources": ["bees.txt"]}, index.answer(BEES, 2, sources=["bees.txt"])),
        ({"question": "What is the capital of Peru?"}, index.answer("What is the capital of Peru?", 5)),
        ({"question": "And what paint do beekeepers use on them?", "history": ["Where do hives need shade?"]},
         index.answer("And what paint do beekeepers use on them?", 5, history=["Where do hives need shade?"])),
    ):
        reply = httpx.post(f"{url}/api/v1/answer", json=body, timeout=WAIT)
        assert reply.status_code == 200, reply.text
        assert reply.json() == json.loads(json.dumps(dataclasses.asdict(expected))), body
    abstained = httpx.post(f"{url}/api/v1/answer", json={"question": "What is the capital of Peru?"}).json()
    assert abstained["abstained"] and abstained["quotes"] == [] and abstained["message"]
    quote = httpx.post(f"{url}/api/v1/answer", json={"question": BEES}).json()["quotes"][0]
    c = quote["citation"]
    assert index.text_of(c["source"])[c["start"]:c["end"]] == quote["text"]


def test_search_is_the_librarys_retrieve(url, live):
    reply = httpx.post(f"{url}/api/v1/search", json={"question": "shore power", "k": 3}, timeout=WAIT)
    assert reply.status_code == 200, reply.text
    expected = [dataclasses.asdict(p) for p in live.current().retrieve("shore power", 3)]
    assert reply.json() == {"question": "shore power", "passages": json.loads(json.dumps(expected))}
    only = httpx.post(f"{url}/api/v1/search", json={"question": "pawn", "sources": ["chess.txt"]}).json()
    assert only["passages"] and {p["citation"]["source"] for p in only["passages"]} == {"chess.txt"}


def test_curl_gets_the_same_answer(url, live):
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    out = subprocess.run([curl, "-sS", "-X", "POST", f"{url}/api/v1/answer", "-H", "Content-Type: application/json",
                          "-d", json.dumps({"question": BEES, "k": 3})], capture_output=True, text=True,
                         timeout=WAIT, check=True)
    assert json.loads(out.stdout) == json.loads(json.dumps(dataclasses.asdict(live.current().answer(BEES, 3))))


def test_the_documents_are_listed_with_their_status(url, live):
    reply = httpx.get(f"{url}/api/v1/documents", timeout=WAIT)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert [d["source"] for d in body["documents"]] == list(live.current().sources)
    ports = next(d for d in body["documents"] if d["source"] == "ports.txt")
    assert ports["title"] == "Harbour Report" and ports["kind"] == "text" and ports["passages"] >= 2
    assert not ports["removable"]  # not added through the page or the API
    assert body["status"]["state"] == "ready" and body["can_change"] is True


def test_an_upload_is_indexed_answered_and_removed_to_the_bin(url, live):
    seeds = seeds_of(live)
    added = httpx.post(f"{url}/api/v1/documents", files={"file": ("Owl survey.txt", OWLS)}, timeout=WAIT)
    assert added.status_code == 201, added.text
    assert added.json()["source"] == "uploads/Owl survey.txt"
    assert (seeds / "uploads" / "Owl survey.txt").read_bytes() == OWLS
    assert "uploads/Owl survey.txt" in settled(live)
    listed = {d["source"]: d for d in httpx.get(f"{url}/api/v1/documents").json()["documents"]}
    assert listed["uploads/Owl survey.txt"]["removable"]
    answer = httpx.post(f"{url}/api/v1/answer", json={"question": "Where do barn owls nest?"}, timeout=WAIT).json()
    assert [q["citation"]["source"] for q in answer["quotes"]][:1] == ["uploads/Owl survey.txt"]

    removed = httpx.delete(f"{url}/api/v1/documents/uploads/Owl survey.txt", timeout=WAIT)
    assert removed.status_code == 200, removed.text
    assert not (seeds / "uploads" / "Owl survey.txt").exists()
    assert (seeds / "uploads" / ".removed" / "Owl survey.txt").read_bytes() == OWLS  # kept, out of the index
    assert "uploads/Owl survey.txt" not in settled(live)
    assert error_of(httpx.delete(f"{url}/api/v1/documents/uploads/Owl survey.txt"))["code"] == "not_found"


def test_an_upload_never_replaces_a_file_and_meets_the_pages_checks(url, live, monkeypatch):
    mine = seeds_of(live) / "uploads" / "notes.txt"
    mine.parent.mkdir(exist_ok=True)
    mine.write_bytes(b"My own notes, written by hand.\n")
    second = httpx.post(f"{url}/api/v1/documents", files={"file": ("notes.txt", OWLS)}, timeout=WAIT)
    assert second.status_code == 201 and second.json()["source"] == "uploads/notes (2).txt", second.text
    assert mine.read_bytes() == b"My own notes, written by hand.\n"
    hostile = httpx.post(f"{url}/api/v1/documents", files={"file": ("../../../etc/cron.d/x.txt", OWLS)})
    assert hostile.status_code == 201 and hostile.json()["source"] == "uploads/x.txt", hostile.text
    for name, data, code in (("tool.exe", b"MZ\x90\x00", "upload_refused"), ("run.txt", b"MZ\x90\x00" * 4, "upload_refused"),
                             ("fake.pdf", b"not a pdf at all", "upload_refused"), ("empty.txt", b"  \n", "upload_refused")):
        reply = httpx.post(f"{url}/api/v1/documents", files={"file": (name, data)})
        assert reply.status_code == 422 and error_of(reply)["code"] == code, (name, reply.text)
    monkeypatch.setenv("RAG_MAX_FILE_MB", "0.001")  # read per request, as the page's route reads it
    big = httpx.post(f"{url}/api/v1/documents", files={"file": ("big.txt", b"word " * 2000)})
    assert big.status_code == 413 and "RAG_MAX_FILE_MB" in error_of(big)["message"]
    monkeypatch.delenv("RAG_MAX_FILE_MB")
    for reply in (httpx.post(f"{url}/api/v1/documents", content=OWLS, headers={"content-type": "text/plain"}),
                  httpx.post(f"{url}/api/v1/documents", files={"other": ("a.txt", OWLS)})):
        assert reply.status_code in (400, 415) and "multipart/form-data" in error_of(reply)["message"]
    outside = httpx.delete(f"{url}/api/v1/documents/bees.txt")
    assert outside.status_code == 403 and error_of(outside)["code"] == "not_removable"
    assert (seeds_of(live) / "bees.txt").exists()
    for source in ("uploads/../bees.txt", "uploads/.removed", "../seeds/bees.txt"):
        assert httpx.delete(f"{url}/api/v1/documents/{source}").status_code in (403, 404)
    assert (seeds_of(live) / "bees.txt").exists()
    for name in ("notes (2).txt", "x.txt"):
        assert httpx.delete(f"{url}/api/v1/documents/uploads/{name}").status_code == 200
    assert mine.read_bytes() == b"My own notes, written by hand.\n"
    settled(live)


def test_another_sites_page_cannot_add_or_remove(url, live):
    foreign = {"origin": "http://evil.example"}
    add = httpx.post(f"{url}/api/v1/documents", files={"file": ("a.txt", OWLS)}, headers=foreign)
    assert add.status_code == 403 and error_of(add)["code"] == "foreign_origin"
    own = url.replace("127.0.0.1", "localhost")
    assert httpx.get(f"{url}/api/v1/documents", headers={"origin": own}).status_code == 200
    assert not (seeds_of(live) / "uploads" / "a.txt").exists()
    gone = httpx.delete(f"{url}/api/v1/documents/uploads/a.txt", headers=foreign)
    assert gone.status_code == 403 and error_of(gone)["code"] == "foreign_origin"


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "code"), [
    ("POST", "/api/v1/answer", {"content": b"{not json", "headers": {"content-type": "application/json"}}, 400,
     "invalid_json"),
    ("POST", "/api/v1/answer", {"content": b"question=hi"}, 400, "invalid_json"),
    ("POST", "/api/v1/answer", {"json": ["a list"]}, 400, "invalid_json"),
    ("POST", "/api/v1/answer", {"json": {"question": 7}}, 400, "invalid_request"),
    ("POST", "/api/v1/answer", {"json": {"question": "hi", "k": "5"}}, 400, "invalid_request"),
    ("POST", "/api/v1/answer", {"json": {"question": "hi", "kk": 5}}, 400, "invalid_request"),
    ("POST", "/api/v1/answer", {"json": {}}, 400, "invalid_request"),
    ("POST", "/api/v1/answer", {"json": {"question": "hi", "k": 0}}, 422, "invalid_value"),
    ("POST", "/api/v1/answer", {"json": {"question": "   "}}, 422, "invalid_input"),
    ("POST", "/api/v1/answer", {"json": {"question": "hi", "sources": ["nope.txt"]}}, 422, "invalid_input"),
    ("POST", "/api/v1/answer", {"json": {"question": "hi", "sources": []}}, 422, "no_sources"),
    ("POST", "/api/v1/search", {"json": {"question": "hi", "sources": []}}, 422, "no_sources"),
    ("POST", "/api/v1/answer", {"json": {"question": "x" * (MAX_BODY_BYTES + 10)}}, 413, "too_large"),
    ("POST", "/api/v1/search", {"json": {"question": "hi", "k": 10**9}}, 422, "invalid_value"),
    ("GET", "/api/v1/answer", {}, 405, "method_not_allowed"),
    ("PUT", "/api/v1/documents", {}, 405, "method_not_allowed"),
    ("GET", "/api/v1/nothing", {}, 404, "not_found"),
    ("GET", "/v1/nothing", {}, 404, "not_found"),
    # paths the page's guard closes (/monitoring) or answers itself (/rag/upload) still reach the API
    ("DELETE", "/api/v1/documents/uploads/monitoring.txt", {}, 404, "not_found"),
    ("DELETE", "/api/v1/documents/uploads/rag/upload", {}, 403, "not_removable"),
])
def test_refusals_have_the_error_shape_and_status(url, method, path, kwargs, status, code):
    reply = httpx.request(method, url + path, timeout=WAIT, **kwargs)
    assert reply.status_code == status, reply.text
    assert error_of(reply)["code"] == code
    assert reply.headers["content-type"].startswith("application/json")


def test_the_schema_and_its_page_are_served_offline(url):
    schema = httpx.get(f"{url}/api/v1/openapi.json").json()
    assert {"/api/v1/answer", "/api/v1/search", "/api/v1/documents", "/api/v1/documents/{source}",
            "/v1/chat/completions", "/v1/models"} <= set(schema["paths"])
    assert "multipart/form-data" in schema["paths"]["/api/v1/documents"]["post"]["requestBody"]["content"]
    page = httpx.get(f"{url}/api/v1/docs")
    assert page.status_code == 200 and "openapi.json" in page.text
    assert "http" not in page.text.replace("http-equiv", "")  # nothing loaded from elsewhere
    assert httpx.get(f"{url}/").status_code == 200  # the page is still Gradio's


class Caller:
    """An Access that refuses callers without the key and lets only `writer` change documents."""

    def __init__(self, workspace: Workspace):
        self.ws = workspace

    def workspace(self, request):
        key = request.headers.get("authorization", "")
        if not key:
            raise Denied(401, "login_required", "Log in, or send an API key: Authorization: Bearer KEY.")
        if key != "Bearer reader" and key != "Bearer writer":
            raise Denied(403, "forbidden", "That key has no access to this collection.")
        return self.ws

    def can_change(self, request):
        return request.headers.get("authorization") == "Bearer writer"

    def user(self, request):
        return None


def test_every_route_asks_the_access_seam(live):
    client = TestClient(build(Caller(Workspace(live, upload=True))))
    calls = [("POST", "/api/v1/answer", {"json": {"question": BEES}}), ("POST", "/api/v1/search", {"json": {"question": "x"}}),
             ("GET", "/api/v1/documents", {}), ("POST", "/api/v1/documents", {"files": {"file": ("a.txt", OWLS)}}),
             ("DELETE", "/api/v1/documents/uploads/a.txt", {}), ("GET", "/v1/models", {}),
             ("POST", "/v1/chat/completions", {"json": {"model": "rag", "messages": [{"role": "user", "content": BEES}]}})]
    for method, path, kwargs in calls:
        nobody = client.request(method, path, **kwargs)
        assert nobody.status_code == 401 and error_of(nobody)["code"] == "login_required", path
        assert nobody.headers["www-authenticate"] == "Bearer"
        stranger = client.request(method, path, headers={"authorization": "Bearer other"}, **kwargs)
        assert stranger.status_code == 403 and error_of(stranger)["code"] == "forbidden", path
    reader = {"authorization": "Bearer reader"}
    assert client.post("/api/v1/answer", json={"question": BEES}, headers=reader).status_code == 200
    refused = client.post("/api/v1/documents", files={"file": ("a.txt", OWLS)}, headers=reader)
    assert refused.status_code == 403 and error_of(refused)["code"] == "read_only"
    assert not (seeds_of(live) / "uploads" / "a.txt").exists()
    assert client.get("/api/v1/documents", headers=reader).json()["can_change"] is False


def test_uploads_past_the_quota_are_told_when_to_come_back(live):
    client = TestClient(build(OneWorkspace(Workspace(live, upload=True)), Quota(per_client=1)))
    first = client.post("/api/v1/documents", files={"file": ("quota one.txt", OWLS)})
    assert first.status_code == 201, first.text
    second = client.post("/api/v1/documents", files={"file": ("quota two.txt", OWLS)})
    assert second.status_code == 429 and int(second.headers["retry-after"]) > 0
    assert error_of(second)["code"] == "too_many_uploads"
    assert client.delete("/api/v1/documents/uploads/quota one.txt").status_code == 200
    fixed = TestClient(build(OneWorkspace(Workspace(live.current(), upload=True))))  # a fixed index takes none
    assert error_of(fixed.post("/api/v1/documents", files={"file": ("a.txt", OWLS)}))["code"] == "read_only"
    settled(live)


ROUTES = [("POST", "/api/v1/answer"), ("POST", "/api/v1/search"), ("GET", "/api/v1/documents"),
          ("POST", "/api/v1/documents"), ("DELETE", "/api/v1/documents/uploads/zzz-none.txt"),
          ("POST", "/v1/chat/completions"), ("GET", "/v1/models"), ("PATCH", "/api/v1/answer"), ("GET", "/v1")]
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                        st.sampled_from(["question", "k", "sources", "history", "messages", "role", "content",
                                         "model", "stream", "file", "x"]) | st.text(max_size=8), inner, max_size=5),
                    max_leaves=12)
HEADER_VALUE = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40).map(str.strip)  # h11 sends no other
HEADERS = st.dictionaries(st.sampled_from(["content-type", "authorization", "origin", "accept", "x-file-name",
                                           "content-encoding", "transfer-encoding-x", "cookie"]),
                          st.sampled_from(["application/json", "multipart/form-data; boundary=x", "text/plain",
                                           "application/json; charset=latin-1", "Bearer x", "http://evil.example",
                                           "gzip", ""]) | HEADER_VALUE, max_size=4)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(ROUTES), body=JSON.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=200),
       headers=HEADERS)
def test_fuzzed_bodies_and_headers_never_get_a_500(http, route, body, headers):
    method, path = route
    reply = http.request(method, path, content=body, headers=headers)
    assert reply.status_code < 500, (route, body, headers, reply.text)
    if reply.status_code >= 400:
        error_of(reply)
    else:
        assert isinstance(reply.json(), dict)
