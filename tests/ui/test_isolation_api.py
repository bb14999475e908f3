"""Two users on one server with logins: the JSON API, the OpenAI-compatible endpoint and the page-image route
give one user's documents to that user only, by session cookie and by API key alike.

One server per module (`ui.server.start_logins`, hash embedder, cheap argon2, an injected clock), driven over
real HTTP with httpx and the unmodified `openai` client. Each check has a positive control: the owner gets
what the other must not. A short fuzz of malformed headers and bodies checks that the API never answers 500
and always answers in its error shape.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest
from format_fixtures import tiny_pdf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from two_users import ANA_DOC, ANA_PDF_LINE, BOB_DOC, PASSWORD, SECRET_WORDS, two_user_server

from ui.accounts.sessions import Sessions

pytestmark = [pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

QUESTION = "zebra marmalade quinces honey"
WAIT = 60


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    sessions = Sessions(idle=3600, lifetime=7200, clock=Clock())
    with two_user_server(tmp_path_factory.mktemp("server"), sessions=sessions) as served:
        yield served


def signed_in(url: str, name: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=WAIT)
    reply = client.post("login", data={"name": name, "password": PASSWORD[name]})
    assert reply.status_code == 303 and "rag-session" in client.cookies, reply.text
    return client


@pytest.fixture(scope="module")
def callers(server):
    """For each user, a client signed in by session cookie and one carrying an API key; their documents added."""
    url, logins, users = server
    made: dict[str, dict[str, httpx.Client]] = {}
    for name in PASSWORD:
        key = users.add_key(name, "battery")
        made[name] = {"cookie": signed_in(url, name),
                      "key": httpx.Client(base_url=url, timeout=WAIT, headers={"Authorization": f"Bearer {key}"})}
        made[name]["key"].headers["x-key"] = key  # kept for the openai client; the server ignores it
    added = [made["ana"]["key"].post("api/v1/documents", files={"file": ("zebra.txt", ANA_DOC.encode())}),
             made["ana"]["cookie"].post("api/v1/documents", files={"file": ("saffron.pdf", tiny_pdf([ANA_PDF_LINE]))}),
             made["bob"]["key"].post("api/v1/documents", files={"file": ("glacier.txt", BOB_DOC.encode())})]
    assert [a.status_code for a in added] == [201, 201, 201], [a.text for a in added]
    for name in PASSWORD:
        logins.collections.collection(name).wait(WAIT)
    yield made
    for pair in made.values():
        for client in pair.values():
            client.close()


def each(callers: dict[str, dict[str, httpx.Client]], name: str) -> list[tuple[str, httpx.Client]]:
    return list(callers[name].items())


def leaks(data: Any, *, names: bool = True) -> list[str]:
    """Ana's words (and, unless the caller sent them itself, her documents' names) found in `data`."""
    text = json.dumps(data) if not isinstance(data, str) else data
    return [w for w in (*SECRET_WORDS, *(("uploads/zebra.txt", "uploads/saffron.pdf") if names else ())) if w in text]


# --- answer, search, documents --------------------------------------------------------------------------------


def test_answer_and_search_quote_ana_for_ana_and_never_for_bob(callers):
    for how, client in each(callers, "ana"):
        answer = client.post("api/v1/answer", json={"question": QUESTION}).json()
        assert answer["quotes"] and "wildflower" in json.dumps(answer), (how, answer)
        found = client.post("api/v1/search", json={"question": QUESTION}).json()
        assert "uploads/zebra.txt" in {p["citation"]["source"] for p in found["passages"]}, how
    for how, client in each(callers, "bob"):
        for route in ("api/v1/answer", "api/v1/search"):
            reply = client.post(route, json={"question": QUESTION})
            assert reply.status_code == 200 and not leaks(reply.json()), (how, route, reply.text[:400])
        own = client.post("api/v1/answer", json={"question": "glacier tundra blizzard"}).json()
        assert own["quotes"] and {q["citation"]["source"] for q in own["quotes"]} == {"uploads/glacier.txt"}, how


def test_naming_anas_documents_as_sources_gives_bob_nothing_of_hers(callers):
    named = ["uploads/zebra.txt", "uploads/saffron.pdf", "../ana/seeds/uploads/zebra.txt"]
    for how, client in each(callers, "ana"):  # the filter itself works for the owner
        mine = client.post("api/v1/search", json={"question": QUESTION, "sources": named[:1]}).json()
        assert mine["passages"] and "wildflower" in json.dumps(mine), how
    for how, client in each(callers, "bob"):
        for route in ("api/v1/answer", "api/v1/search"):
            for sources in (named[:1], named[1:2], named[2:], named):
                reply = client.post(route, json={"question": QUESTION, "sources": sources})
                assert reply.status_code in (200, 422) and not leaks(reply.text, names=False), (how, route, sources)
                assert reply.status_code == 422 or not reply.json().get("passages")


def test_the_document_list_holds_only_the_callers_documents(callers):
    for name, own, other in (("ana", {"uploads/zebra.txt", "uploads/saffron.pdf"}, "uploads/glacier.txt"),
                             ("bob", {"uploads/glacier.txt"}, "uploads/zebra.txt")):
        for how, client in each(callers, name):
            listed = client.get("api/v1/documents")
            assert listed.status_code == 200, listed.text
            sources = {d["source"] for d in listed.json()["documents"]}
            assert own <= sources and other not in sources and not (name == "bob" and leaks(listed.text)), (name, how)


def test_uploads_land_in_the_callers_own_collection(server, callers):
    _, logins, _ = server
    seeds = {name: logins.users.collection(name) / "seeds" / "uploads" for name in PASSWORD}
    assert {p.name for p in seeds["ana"].iterdir() if p.is_file()} == {"zebra.txt", "saffron.pdf"}
    assert {p.name for p in seeds["bob"].iterdir() if p.is_file()} == {"glacier.txt"}


def test_bob_cannot_remove_anas_document(server, callers):
    _, logins, _ = server
    target = logins.users.collection("ana") / "seeds" / "uploads" / "zebra.txt"
    for how, client in each(callers, "bob"):
        for source in ("uploads/zebra.txt", "uploads/saffron.pdf", "uploads/../../../ana/seeds/uploads/zebra.txt",
                       "uploads/%2e%2e/%2e%2e/%2e%2e/ana/seeds/uploads/zebra.txt"):
            reply = client.delete(f"api/v1/documents/{source}")
            assert reply.status_code in (403, 404), (how, source, reply.status_code, reply.text)
            assert not leaks(reply.text, names=False) and target.is_file()
            if "/../" not in source:  # httpx folds "/../" itself, so that one never reaches the API
                assert reply.json()["error"]["code"] in ("not_found", "not_removable"), reply.text
    assert (logins.users.collection("ana") / "seeds" / "uploads" / "saffron.pdf").is_file()


# --- the OpenAI-compatible endpoint -------------------------------------------------------------------------


def openai_client(url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}v1", api_key=key, max_retries=0, timeout=WAIT)


def test_the_openai_client_with_a_key_gets_its_own_users_answers_only(server, callers):
    url, _, _ = server
    keys = {name: callers[name]["key"].headers["x-key"] for name in PASSWORD}
    with openai_client(url, keys["ana"]) as ana, openai_client(url, keys["bob"]) as bob:
        messages: Any = [{"role": "user", "content": QUESTION}]
        mine = ana.chat.completions.create(model="rag", messages=messages)
        assert "wildflower" in (mine.choices[0].message.content or "")
        streamed = "".join(c.choices[0].delta.content or "" for c in
                           ana.chat.completions.create(model="rag", messages=messages, stream=True) if c.choices)
        assert "wildflower" in streamed
        theirs = bob.chat.completions.create(model="rag", messages=messages)
        assert not leaks(theirs.model_dump()), theirs.model_dump_json()[:400]
        with bob.chat.completions.with_streaming_response.create(model="rag", messages=messages,
                                                                 stream=True) as raw:
            assert not leaks(raw.read().decode("utf-8"))
        assert [m.id for m in bob.models.list()] == ["rag"]


def test_the_openai_client_without_a_valid_key_is_refused(server, callers):
    url, _, users = server
    spare = users.add_key("bob", "revoked")
    users.revoke_key("bob", spare.split("_")[1])
    messages: Any = [{"role": "user", "content": QUESTION}]
    for key in ("not-a-key", "rag_00000000_guess", spare):  # no key at all: the client refuses to send; see below
        with openai_client(url, key) as client:
            with pytest.raises(openai.AuthenticationError) as err:
                client.chat.completions.create(model="rag", messages=messages)
            assert err.value.status_code == 401 and not leaks(str(err.value.body))
            with pytest.raises(openai.AuthenticationError):
                client.chat.completions.create(model="rag", messages=messages, stream=True)
            with pytest.raises(openai.AuthenticationError):
                client.models.list()
    bare = httpx.post(f"{url}v1/chat/completions", json={"model": "rag", "messages": messages}, timeout=WAIT)
    assert bare.status_code == 401 and bare.json()["error"]["code"] == "unauthenticated"


# --- page images ----------------------------------------------------------------------------------------------


def test_a_page_image_is_served_to_its_owner_only(server, callers):
    url, _, _ = server
    params = {"source": "uploads/saffron.pdf", "page": 1, "start": 0, "end": 7, "w": 400}
    for how, client in each(callers, "ana"):
        mine = client.get("rag/page", params=params)
        assert mine.status_code == 200 and mine.content.startswith(b"\x89PNG"), (how, mine.text[:200])
    for how, client in each(callers, "bob"):
        for source in ("uploads/saffron.pdf", "../../ana/seeds/uploads/saffron.pdf",
                       "uploads/../../../ana/seeds/uploads/saffron.pdf", "/etc/passwd"):
            reply = client.get("rag/page", params={**params, "source": source})
            assert reply.status_code in (403, 404) and not reply.content.startswith(b"\x89PNG"), (how, source)
    for source in ("uploads/saffron.pdf", "../../ana/seeds/uploads/saffron.pdf"):
        anonymous = httpx.get(f"{url}rag/page", params={**params, "source": source}, timeout=WAIT)
        assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "unauthenticated"


# --- the schema and the reference page ---------------------------------------------------------------------


def test_the_schema_and_reference_page_need_a_sign_in_too(server, callers):
    url, _, _ = server
    for path in ("api/v1/openapi.json", "api/v1/docs"):
        anonymous = httpx.get(url + path, timeout=WAIT)
        assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "unauthenticated", path
        for how, client in each(callers, "bob"):
            assert client.get(path).status_code == 200, (path, how)


# --- malformed calls ----------------------------------------------------------------------------------------

ROUTES = [("POST", "api/v1/answer"), ("POST", "api/v1/search"), ("GET", "api/v1/documents"),
          ("POST", "api/v1/documents"), ("DELETE", "api/v1/documents/uploads/zebra.txt"),
          ("POST", "v1/chat/completions"), ("GET", "v1/models"), ("GET", "api/v1/openapi.json")]
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=80)
AUTH = st.one_of(st.none(), HEADER_TEXT, HEADER_TEXT.map(lambda s: "Bearer " + s),
                 HEADER_TEXT.map(lambda s: "Bearer rag_" + s), st.sampled_from(["Bearer", "Bearer\tx", "Basic Og=="]))
COOKIE = st.one_of(st.none(), HEADER_TEXT, HEADER_TEXT.map(lambda s: "rag-session=" + s),
                   st.sampled_from(["rag-session=", "rag-session", "=;=;", "rag-session=a; rag-session=b"]))
BODY = st.one_of(st.binary(max_size=200), st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(
        ["question", "k", "sources", "history", "messages", "stream", "model", "role", "content"]), inner,
        max_size=5), max_leaves=12).map(lambda v: json.dumps(v).encode()))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(ROUTES), auth=AUTH, cookie=COOKIE, body=BODY, signed=st.booleans())
def test_malformed_headers_and_bodies_never_get_a_500(server, callers, route, auth, cookie, body, signed):
    url, _, _ = server
    headers = {"content-type": "application/json"}
    if auth is not None:
        headers["authorization"] = auth.strip()  # the HTTP client itself refuses a value with outer spaces
    if cookie is not None:
        headers["cookie"] = cookie.strip()
    client = callers["bob"]["key"] if signed and auth is None and cookie is None else None
    method, path = route
    if client is not None:
        reply = client.request(method, path, content=body, headers=headers)
    else:
        reply = httpx.request(method, url + path, content=body, headers=headers, timeout=WAIT)
    assert reply.status_code < 500, (route, headers, body, reply.status_code, reply.text[:300])
    if reply.status_code >= 400:
        error = reply.json()["error"]
        assert isinstance(error["code"], str) and isinstance(error["message"], str) and error["message"]
    assert not leaks(reply.text, names=False)
