"""Uploads served for real on 127.0.0.1: none lost or overwritten, nothing left by a refusal, no look through the
whole seeds folder inside a request, limits on how many, pages of other sites refused, Gradio's unused routes closed.

A LiveIndex with the hash embedder (no model) serves three short documents; its watcher polls rarely, so the
only looks at the seeds are the ones an upload asks for.
"""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from conftest import SMALL_CORPUS, write_seeds

from ui.server import start

pytestmark = [pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

TEXT = "Owl Survey\n\nBarn owls in the valley nest in old church towers; the survey counted {n} breeding pairs.\n"


@pytest.fixture
def live(tmp_path):
    from rag.service.live import LiveIndex

    seeds = write_seeds(tmp_path / "seeds", SMALL_CORPUS)
    index = LiveIndex(seeds, tmp_path / "index", model="hash-embedder", poll_seconds=3600)
    index.current()
    yield index
    index.close()


@pytest.fixture
def serve(live):
    """serve(**start_options) -> URL of the app over `live` on a free port; stopped after the test."""
    demos = []

    def run(**options) -> str:
        demo, url = start(live, host="127.0.0.1", port=None, **options)
        demos.append(demo)
        return url

    yield run
    for demo in demos:
        demo.close()
    live.wait(120)


def roomy_quota(monkeypatch) -> None:
    """Limits on how many uploads high enough for the test to send what it needs to."""
    try:
        import ui.quota
    except ImportError:  # a version without limits: nothing to raise
        return
    monkeypatch.setattr(ui.quota, "AT_ONCE", 64)
    monkeypatch.setattr(ui.quota, "PER_CLIENT_PER_MINUTE", 1000)
    monkeypatch.setattr(ui.quota, "PER_MINUTE", 1000)


def seeds_of(live) -> Path:
    return Path(live.current().manifest.seeds_dir)


def upload(url: str, name: str, data: bytes, **headers: str) -> httpx.Response:
    sent = {"X-File-Name": quote(name, safe=""), "Content-Type": "application/octet-stream", **headers}
    return httpx.post(url + "rag/upload", content=data, headers=sent, timeout=120)


def everything_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_same_name_uploads_at_once_are_each_kept_under_a_name_of_their_own(live, serve, monkeypatch):
    roomy_quota(monkeypatch)
    url = serve()
    bodies = [TEXT.format(n=n).encode() for n in range(20)]
    replies: dict[int, httpx.Response | Exception] = {}
    gate = threading.Barrier(len(bodies))

    def send(n: int) -> None:
        try:
            gate.wait(timeout=60)
            replies[n] = upload(url, "survey.txt", bodies[n])
        except Exception as err:  # noqa: BLE001 - shown below with its number
            replies[n] = err

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)  # a bound so a hang fails the test; not a speed check
    kept = {}
    for n in range(len(bodies)):
        reply = replies[n]
        assert isinstance(reply, httpx.Response), f"upload {n}: {reply!r}"
        data = reply.json()
        if reply.status_code == 200:
            assert data["ok"] and data["message"].startswith(f"Added {data['source']} ")
            assert data["source"] not in kept, f"two uploads told they were kept as {data['source']}"
            kept[data["source"]] = bodies[n]
        else:  # a refusal is allowed, but it must say so
            assert 400 <= reply.status_code < 500 and not data["ok"] and data["message"], reply.text
    assert kept, "every upload was refused"
    seeds = seeds_of(live)
    assert {f"uploads/{name}" for name in os.listdir(seeds / "uploads")} == set(kept)  # no hidden leftovers either
    for source, body in kept.items():
        assert (seeds / source).read_bytes() == body, f"{source} holds another upload's bytes"


def test_a_refused_upload_leaves_nothing_behind_and_names_no_path(live, serve, monkeypatch):
    url = serve()
    seeds = seeds_of(live)
    before = everything_under(seeds)
    # A name of 4-byte letters: 100 of them are 400 bytes, past every file system's 255.
    reply = upload(url, "\U0001d400" * 150 + ".txt", TEXT.format(n=1).encode())
    assert str(seeds.parent) not in reply.text and "/tmp" not in reply.text
    added = everything_under(seeds) - before
    if reply.status_code == 200:
        source = reply.json()["source"]
        assert added == {source} and len(Path(source).name.encode()) <= 255
    else:
        assert not reply.json()["ok"] and added == set()

    # The disk refuses the file after its body was written: the temporary file goes, the reply names no path.
    real_link, real_replace = os.link, os.replace
    uploads = str(seeds / "uploads")

    def full(real):
        def call(src, dst, *args, **kwargs):
            if os.fspath(dst).startswith(uploads) and not os.fspath(dst).startswith(uploads + "/.removed"):
                raise OSError(errno.ENOSPC, "No space left on device", os.fspath(dst))
            return real(src, dst, *args, **kwargs)
        return call

    before = everything_under(seeds)
    monkeypatch.setattr(os, "link", full(real_link))
    monkeypatch.setattr(os, "replace", full(real_replace))
    reply = upload(url, "full disk.txt", TEXT.format(n=2).encode() * 1000)
    monkeypatch.undo()
    data = reply.json()
    assert 400 <= reply.status_code < 600 and data["ok"] is False and data["message"], reply.text
    assert str(seeds.parent) not in reply.text and "/tmp" not in reply.text and uploads not in reply.text
    assert everything_under(seeds) - before == set(), "a refused upload left a file"


def test_an_upload_does_not_list_the_seeds_folder_inside_the_request(live, serve, monkeypatch):
    url = serve()
    seeds = str(seeds_of(live))
    listed: list[tuple[str, str]] = []  # (thread, folder) of every listing of a folder in the seeds

    def counting(real):
        def call(path=".", *args, **kwargs):
            where = os.fspath(path) if isinstance(path, (str, os.PathLike)) else ""
            thread = threading.current_thread().name
            if where.startswith(seeds) and not thread.startswith("rag-"):  # rag-*: the index's background threads
                listed.append((thread, where))
            return real(path, *args, **kwargs)
        return call

    for n in range(3):  # later uploads too: nothing grows with the uploads kept
        monkeypatch.setattr(os, "scandir", counting(os.scandir))
        monkeypatch.setattr(os, "listdir", counting(os.listdir))
        reply = upload(url, f"survey {n}.txt", TEXT.format(n=n).encode())
        monkeypatch.undo()
        assert reply.status_code == 200, reply.text
        assert listed == [], f"the request listed {listed[:5]}"
    live.wait(120)  # the look the uploads asked for ran in the background, and the index has them
    assert {f"uploads/survey {n}.txt" for n in range(3)} <= set(live.current().sources)


def test_too_many_uploads_from_one_client_are_refused_with_a_clear_message(live, serve, monkeypatch):
    try:
        import ui.quota
    except ImportError:  # a version without limits: every upload below is kept, and the test fails as it should
        pass
    else:
        monkeypatch.setattr(ui.quota, "PER_CLIENT_PER_MINUTE", 3)
    url = serve()
    replies = [upload(url, f"note {n}.txt", TEXT.format(n=n).encode()) for n in range(4)]
    assert [r.status_code for r in replies[:3]] == [200, 200, 200]
    refused = replies[3]
    assert refused.status_code == 429, refused.text
    assert not refused.json()["ok"] and "wait a minute" in refused.json()["message"]
    assert refused.headers.get("retry-after") == "60"
    assert not (seeds_of(live) / "uploads" / "note 3.txt").exists()


def test_a_rebinding_page_is_refused_and_the_servers_own_pages_are_accepted(live, serve, monkeypatch):
    monkeypatch.setenv("RAG_ORIGINS", "https://docs.example.org")
    url = serve()
    port = httpx.URL(url).port
    rebinding = upload(url, "rebound.txt", TEXT.format(n=1).encode(),
                       Host=f"evil.example:{port}", Origin=f"http://evil.example:{port}")
    assert rebinding.status_code == 403 and not rebinding.json()["ok"], rebinding.text
    assert not (seeds_of(live) / "uploads" / "rebound.txt").exists()
    for n, origin in enumerate([f"http://127.0.0.1:{port}", f"http://localhost:{port}", "https://docs.example.org"]):
        reply = upload(url, f"own {n}.txt", TEXT.format(n=n).encode(), Origin=origin)
        assert reply.status_code == 200, (origin, reply.text)
    other_port = upload(url, "port.txt", TEXT.format(n=9).encode(), Origin=f"http://127.0.0.1:{port + 1}")
    assert other_port.status_code == 403


@pytest.mark.parametrize(("method", "route"), [
    ("POST", "gradio_api/process_recording"),
    ("POST", "gradio_api/upload"),
    ("GET", "gradio_api/upload_progress?upload_id=x"),
    ("GET", "gradio_api/file=/etc/hostname"),
    ("GET", "gradio_api/proxy=https://example.org/x"),
    ("POST", "gradio_api/component_server"),
    ("GET", "gradio_api/run-history/buckets"),
    ("POST", "gradio_api/vibe-code"),
])
def test_gradio_routes_the_page_does_not_use_are_closed(live, serve, method, route):
    url = serve()
    payload = b"RECORDING-BYTES-" * 1000
    reply = httpx.request(method, url + route, files={"video": ("r.webm", payload, "video/webm")} if method == "POST"
                          else None, timeout=60)
    assert reply.status_code in (404, 405), (route, reply.status_code, reply.text[:200])
    assert b"RECORDING-BYTES" not in reply.content and "/tmp" not in reply.text


def test_the_page_and_the_ask_api_still_work(live, serve):
    from gradio_client import Client

    url = serve()
    for route in ("", "config", "gradio_api/info"):
        assert httpx.get(url + route, timeout=60).status_code == 200, route
    answer = Client(url, verbose=False).predict("Which terminals did Rotterdam connect to shore power?", 5, None,
                                                api_name="/ask")
    assert not answer["abstained"] and answer["quotes"][0]["citation"]["source"] == "ports.txt"


def test_a_client_that_stops_sending_gives_its_upload_slot_back(live, serve, monkeypatch):
    """Uploads that send their headers and then nothing are refused after the stall time, and an honest one goes on."""
    import socket
    from urllib.parse import urlsplit

    import ui.guard
    import ui.quota

    monkeypatch.setattr(ui.quota, "AT_ONCE", 1)
    monkeypatch.setattr(ui.guard, "STALL_SECONDS", 1.0)
    url = serve()
    parts = urlsplit(url)
    stalled = socket.create_connection((parts.hostname, parts.port))
    try:
        stalled.sendall(b"POST /rag/upload HTTP/1.1\r\nHost: %b:%d\r\nX-File-Name: stalled.txt\r\n"
                        b"Content-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\nabc"
                        % (parts.hostname.encode(), parts.port))
        stalled.settimeout(30)
        reply = stalled.recv(4096)  # the server answers the stalled upload once the stall time has passed
        assert b" 408 " in reply.split(b"\r\n", 1)[0], reply[:200]
        honest = upload(url, "honest.txt", TEXT.format(n=1).encode())
        assert honest.status_code == 200, honest.text
    finally:
        stalled.close()
