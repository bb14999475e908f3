"""Two users on one server with logins: no route of the page gives one user's documents, quotes, feedback
or stored conversation to the other.

One server per module (`ui.server.start_logins`, hash embedder, tiny documents), driven over real HTTP
with httpx: the sign-in form, the upload route, Gradio's `/ask` API and the page's own handlers through
Gradio's queue (as the browser calls them). Each check has a positive control: the owner sees what the
other must not.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from format_fixtures import tiny_pdf
from two_users import ANA_DOC, ANA_PDF_LINE, BOB_DOC, PASSWORD, SECRET_WORDS, two_user_server

pytestmark = [pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]



@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with two_user_server(tmp_path_factory.mktemp("server")) as served:
        yield served


def signed_in(url: str, name: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=60)
    reply = client.post("login", data={"name": name, "password": PASSWORD[name]})
    assert reply.status_code == 303 and reply.headers["location"] == "./", reply.text
    assert "rag-session" in client.cookies
    return client


def upload(client: httpx.Client, name: str, data: bytes) -> httpx.Response:
    return client.post("rag/upload", content=data, headers={"X-File-Name": quote(name, safe=""),
                                                             "Content-Type": "application/octet-stream"})


@pytest.fixture(scope="module")
def ana(server):
    url, logins, _ = server
    client = signed_in(url, "ana")
    assert upload(client, "zebra.txt", ANA_DOC.encode()).json()["ok"]
    assert upload(client, "saffron.pdf", tiny_pdf([ANA_PDF_LINE])).json()["ok"]
    logins.collections.collection("ana").wait(60)
    yield client
    client.close()


@pytest.fixture(scope="module")
def bob(server, ana):
    url, logins, _ = server
    client = signed_in(url, "bob")
    assert upload(client, "glacier.txt", BOB_DOC.encode()).json()["ok"]
    logins.collections.collection("bob").wait(60)
    yield client
    client.close()


def api_ask(client: httpx.Client, question: str, sources: Any = None) -> dict[str, Any]:
    """Gradio's `/ask` API over HTTP (POST the call, then read its event stream)."""
    started = client.post("gradio_api/call/ask", json={"data": [question, 5, sources]})
    assert started.status_code == 200, started.text
    stream = client.get(f"gradio_api/call/ask/{started.json()['event_id']}")
    lines = stream.text.splitlines()
    event = next(line for line in lines if line.startswith("event:")).split(":", 1)[1].strip()
    data = json.loads(next(line for line in lines if line.startswith("data:")).split(":", 1)[1])
    assert event == "complete", stream.text
    return data[0]


def fn_index(client: httpx.Client, fn_name: str) -> int:
    config = client.get("config").json()
    found = [i for i, dep in enumerate(config["dependencies"]) if fn_name in str(dep.get("api_name"))]
    assert found, [dep.get("api_name") for dep in config["dependencies"]]
    return found[0]


def page_call(client: httpx.Client, fn_name: str, data: list[Any], event_data: Any = None,
              session: str | None = None) -> dict[str, Any]:
    """One of the page's handlers, called through Gradio's queue as the browser does; the completed message."""
    session = session or uuid.uuid4().hex[:10]
    body = {"data": data, "fn_index": fn_index(client, fn_name), "session_hash": session, "event_data": event_data,
            "trigger_id": None}
    joined = client.post("gradio_api/queue/join", json=body)
    assert joined.status_code == 200, joined.text
    messages = []
    with client.stream("GET", "gradio_api/queue/data", params={"session_hash": session}) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                messages.append(message)
                if message.get("msg") == "process_completed":
                    message["logs"] = [m for m in messages if m.get("msg") == "log"]
                    return message
    raise AssertionError(f"no completion: {messages}")


def forged_turn(source: str, quote_text: str, start: int) -> dict[str, Any]:
    """A stored turn citing `source` (browser storage is the client's to write)."""
    citation = {"source": source, "section": None, "paragraph": 1, "start": start, "end": start + len(quote_text),
                "page": None}
    answer = {"question": "q", "quotes": [{"text": quote_text, "score": 1.0, "citation": citation}],
              "passages": [{"id": "x", "text": quote_text, "citation": citation, "score": 1.0}],
              "abstained": False, "message": "", "truncated": False, "text": quote_text, "searched": ""}
    return {"question": "q", "answer": answer, "notice": "", "scope": "", "version": "", "sources": None}


# --- without a sign-in ---------------------------------------------------------------------------------------


def test_nothing_is_served_without_a_sign_in(server, ana):
    url, _, _ = server
    with httpx.Client(base_url=url, timeout=30) as anonymous:
        page = anonymous.get("")
        assert page.status_code == 303 and page.headers["location"] == "login"
        assert "<form" in anonymous.get("login").text
        for method, path in [("GET", "config"), ("GET", "gradio_api/info"), ("POST", "gradio_api/call/ask"),
                             ("POST", "gradio_api/queue/join"), ("GET", "gradio_api/queue/data"),
                             ("POST", "rag/upload"), ("GET", "gradio_api/file=/etc/hostname")]:
            reply = anonymous.request(method, path, json={"data": ["zebra marmalade"]})
            assert reply.status_code == 401, (path, reply.status_code, reply.text[:200])
            assert reply.json()["error"]["code"] == "unauthenticated"
        forged = anonymous.get("config", headers={"Cookie": "rag-session=not-a-session",
                                                  "Authorization": "Bearer rag_00000000_guess"})
        assert forged.status_code == 401


# --- search and answer ---------------------------------------------------------------------------------------


def test_each_user_is_answered_from_their_own_documents_only(ana, bob):
    mine = api_ask(ana, "zebra marmalade quinces honey")
    assert mine["quotes"] and {q["citation"]["source"] for q in mine["quotes"]} <= {"uploads/zebra.txt",
                                                                                    "uploads/saffron.pdf"}
    theirs = api_ask(bob, "zebra marmalade quinces honey")
    text = json.dumps(theirs)
    assert "uploads/zebra.txt" not in text and not any(w in text for w in SECRET_WORDS), text[:500]
    own = api_ask(bob, "glacier tundra blizzard")
    assert own["quotes"] and all(q["citation"]["source"] == "uploads/glacier.txt" for q in own["quotes"])


def test_naming_the_other_users_document_as_a_source_reveals_nothing(bob):
    started = bob.post("gradio_api/call/ask", json={"data": ["zebra marmalade", 5, ["uploads/zebra.txt"]]})
    stream = bob.get(f"gradio_api/call/ask/{started.json()['event_id']}").text
    assert not any(w in stream for w in SECRET_WORDS), stream[:500]


def test_an_api_key_reaches_its_own_users_collection_and_stops_when_revoked(server, ana, bob):
    url, _, users = server
    key = users.add_key("bob", "test")
    with httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {key}"}) as keyed:
        answer = api_ask(keyed, "zebra marmalade quinces honey")
        assert not any(w in json.dumps(answer) for w in SECRET_WORDS)
        assert api_ask(keyed, "glacier tundra blizzard")["quotes"]
        users.revoke_key("bob", key.split("_")[1])
        assert keyed.post("gradio_api/call/ask", json={"data": ["glacier", 5, None]}).status_code == 401


# --- the page's handlers -----------------------------------------------------------------------------------


def test_the_document_list_and_title_show_only_the_callers_documents(ana, bob):
    for client, own, other in ((ana, "uploads/zebra.txt", "uploads/glacier.txt"),
                               (bob, "uploads/glacier.txt", "uploads/zebra.txt")):
        done = page_call(client, "restore", [[], {"k": 5, "excluded": []}])
        shown = json.dumps(done["output"]["data"])
        assert own in shown and other not in shown, shown[:800]
        ticked = json.dumps(page_call(client, "tick", [None, "", {"k": 5, "excluded": []}])["output"]["data"])
        assert other not in ticked


def test_the_chat_answers_from_the_callers_documents_only(ana, bob):
    settings = {"k": 5, "excluded": []}
    mine = json.dumps(page_call(ana, "chat", ["zebra marmalade quinces", [], None, settings])["output"]["data"])
    assert "marmalade" in mine
    theirs = json.dumps(page_call(bob, "chat", ["zebra marmalade quinces", [], None, settings])["output"]["data"])
    assert not any(w in theirs for w in SECRET_WORDS) and "uploads/zebra.txt" not in theirs


def test_a_restored_conversation_shows_nothing_of_another_users_documents(ana, bob):
    start = ANA_DOC.index("eleven")
    turn = forged_turn("uploads/zebra.txt", "eleven", start)
    own = json.dumps(page_call(ana, "restore", [[turn], None])["output"]["data"])
    assert "wildflower" in own  # the owner sees the quote in its paragraph
    other = json.dumps(page_call(bob, "restore", [[turn], None])["output"]["data"])
    assert "wildflower" not in other and "copper" not in other
    for source in ("uploads/saffron.pdf", "../../ana/seeds/uploads/saffron.pdf"):
        pdf_turn = forged_turn(source, "Saffron", 0)
        pdf_turn["answer"]["quotes"][0]["citation"]["page"] = 1
        assert "rag/page?" not in json.dumps(page_call(bob, "restore", [[pdf_turn], None])["output"]["data"])
    pdf_turn = forged_turn("uploads/saffron.pdf", "Saffron", 0)
    pdf_turn["answer"]["quotes"][0]["citation"]["page"] = 1
    assert "rag/page?" in json.dumps(page_call(ana, "restore", [[pdf_turn], None])["output"]["data"])


def test_each_users_page_stores_its_conversation_under_its_own_key(server, ana, bob):
    from ui.accounts.gate import KEY_PLACEHOLDER

    _, logins, _ = server
    keys = {name: logins.collections.browser_key(name) for name in ("ana", "bob")}
    assert keys["ana"] != keys["bob"]
    for name, client in (("ana", ana), ("bob", bob)):
        other = keys["bob" if name == "ana" else "ana"]
        for path in ("config", ""):
            body = client.get(path).text
            assert keys[name] in body and other not in body and KEY_PLACEHOLDER not in body, (name, path)
    folder = logins.users.collection("ana") / "index" / ".web-chat-key"
    assert folder.read_text() == keys["ana"] and folder.stat().st_mode & 0o077 == 0


def test_feedback_goes_to_the_callers_own_log(server, ana, bob):
    _, logins, _ = server
    logs = {name: logins.users.collection(name) / "feedback.jsonl" for name in ("ana", "bob")}
    before = {name: log.read_text() if log.exists() else "" for name, log in logs.items()}
    turn = forged_turn("uploads/glacier.txt", "tundra", BOB_DOC.index("tundra"))
    done = page_call(bob, "feedback", [[turn], None], event_data={"index": 1, "value": "x", "liked": True})
    assert done["success"], done
    assert logs["bob"].read_text() != before["bob"] and "tundra" in logs["bob"].read_text()
    assert (logs["ana"].read_text() if logs["ana"].exists() else "") == before["ana"]


# --- uploads and removals ------------------------------------------------------------------------------------


def test_uploads_land_in_the_callers_own_seeds(server, ana, bob):
    _, logins, _ = server
    seeds = {name: logins.users.collection(name) / "seeds" / "uploads" for name in ("ana", "bob")}
    assert {p.name for p in seeds["ana"].iterdir() if p.is_file()} == {"zebra.txt", "saffron.pdf"}
    assert {p.name for p in seeds["bob"].iterdir() if p.is_file()} == {"glacier.txt"}


def test_a_user_cannot_remove_another_users_document(server, ana, bob):
    _, logins, _ = server
    target = logins.users.collection("ana") / "seeds" / "uploads" / "zebra.txt"
    extra = logins.users.collection("bob") / "seeds" / "uploads" / "spare.txt"
    assert upload(bob, "spare.txt", b"Spare notes\n\nA spare paragraph about lanterns and lamp oil.\n").json()["ok"]
    logins.collections.collection("bob").wait(60)
    session = uuid.uuid4().hex[:10]
    shown = json.dumps(page_call(bob, "restore", [[], None], session=session)["output"]["data"])
    assert "uploads/spare.txt" in shown and "uploads/zebra.txt" not in shown  # what bob may pick to remove
    for source in ("uploads/zebra.txt", "uploads/../../../ana/seeds/uploads/zebra.txt"):
        page_call(bob, "remove", [source], session=session)  # refused (not among bob's choices) or a warning
        assert target.is_file()
    assert page_call(bob, "remove", ["uploads/spare.txt"], session=session)["success"]  # the owner can
    deadline = time.monotonic() + 10
    while extra.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not extra.exists() and (extra.parent / ".removed").is_dir()


def test_signing_out_ends_the_session(server):
    url, _, _ = server
    client = signed_in(url, "bob")
    assert 'method=\\"post\\" action=\\"logout\\"' in client.get("config").text  # the page's Sign out is a form
    token = client.cookies["rag-session"]
    assert client.get("logout").status_code == 405  # a link or an image on another site signs no one out
    assert client.post("logout", headers={"Origin": "https://elsewhere.example"}).status_code == 403
    assert client.get("config").status_code == 200
    assert client.post("logout", headers={"Origin": url.rstrip("/")}).status_code == 303
    replay = httpx.get(url + "config", headers={"Cookie": f"rag-session={token}"}, timeout=30)
    assert replay.status_code == 401


def test_a_removed_user_is_signed_out_at_the_next_request(server, tmp_path):
    url, _, users = server
    users.add("cleo", "cleo-passphrase")
    PASSWORD["cleo"] = "cleo-passphrase"
    client = signed_in(url, "cleo")
    assert client.get("config").status_code == 200
    users.remove("cleo")
    assert client.get("config").status_code == 401
    assert Path(users.collection("cleo")).is_dir()  # its files are kept


def test_the_event_stream_of_one_users_page_is_not_readable_by_another(ana, bob):
    session = uuid.uuid4().hex[:10]
    assert "marmalade" in json.dumps(page_call(ana, "chat", ["zebra marmalade quinces", [], None, None],
                                               session=session)["output"]["data"])
    stolen = bob.get("gradio_api/queue/data", params={"session_hash": session}, timeout=10)  # a stream: else hangs
    assert stolen.status_code == 403 and "marmalade" not in stolen.text
    assert page_call(bob, "tick", [None, "", None])["success"]  # bob's own streams still work
