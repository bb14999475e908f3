"""Signing in (`ui.accounts`): sessions that expire, failed sign-ins slowed down per name and per address,
the caller found from a Starlette request, a Gradio request or an ASGI scope, and `rag serve` refusing
to bind a public address without logins. Time is a clock the test moves (no sleeping).
"""

from __future__ import annotations

import httpx
import pytest
from argon2 import PasswordHasher
from starlette.requests import Request

from rag.cli import main
from rag.errors import InputError
from rag.service.users import Users
from ui.access import Denied
from ui.accounts.collections import Collections
from ui.accounts.logins import Logins
from ui.accounts.sessions import FREE_FAILURES, Sessions, Throttle

pytestmark = [pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # argon2id, cheap: these passwords guard nothing


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def logins(tmp_path, clock):
    users = Users(tmp_path / "server", hasher=FAST)
    users.add("ana", "ana-passphrase")
    users.add("bob", "bob-passphrase")
    made = Logins(users, Collections(users, model="hash-embedder", poll_seconds=3600),
                  sessions=Sessions(idle=600, lifetime=3600, clock=clock), throttle=Throttle(clock=clock))
    yield made
    made.collections.close()


def scope_with(**headers: str) -> dict:
    return {"type": "http", "method": "GET", "path": "/", "client": ("10.0.0.7", 5000),
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}


def test_a_session_ends_when_idle_too_long_or_too_old(clock):
    sessions = Sessions(idle=600, lifetime=3600, clock=clock)
    token = sessions.start("ana")
    clock.now += 599
    assert sessions.user(token) == "ana"  # and this use keeps it alive
    for _ in range(5):
        clock.now += 590
        assert sessions.user(token) == "ana"
    clock.now += 700  # past the lifetime, though used a moment ago
    assert sessions.user(token) is None
    idle = sessions.start("ana")
    clock.now += 601
    assert sessions.user(idle) is None
    ended, other = sessions.start("ana"), sessions.start("bob")
    sessions.end(ended)
    assert sessions.user(ended) is None and sessions.user(other) == "bob"
    sessions.end_user("bob")
    assert sessions.user(other) is None and sessions.user("made-up") is None and sessions.user(None) is None


def test_failures_past_the_free_ones_wait_twice_as_long_each_time(clock):
    throttle = Throttle(free=3, first=2.0, most=60.0, clock=clock)
    keys = ["name:ana"]
    for _ in range(3):
        assert throttle.wait(keys) == 0
        throttle.failed(keys)
    waits = []
    for _ in range(6):
        waits.append(throttle.wait(keys))
        clock.now += waits[-1]
        throttle.failed(keys)
    assert waits == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0]
    throttle.succeeded(keys)
    assert throttle.wait(keys) == 0


def test_wrong_passwords_slow_down_that_name_from_any_address_and_that_address_for_any_name(logins, clock):
    for n in range(FREE_FAILURES):
        with pytest.raises(Denied) as refused:
            logins.sign_in("ana", "wrong", address=f"10.0.0.{n}")  # a new address each time
        assert refused.value.status == 401
    with pytest.raises(Denied) as throttled:
        logins.sign_in("ana", "ana-passphrase", address="10.9.9.9")  # the right password must wait too
    assert throttled.value.status == 429 and "try again in 1 s" in throttled.value.message
    assert logins.sign_in("bob", "bob-passphrase", address="10.9.9.9")  # another name is not held up
    for n in range(FREE_FAILURES):
        with pytest.raises(Denied):
            logins.sign_in(f"guess{n}", "wrong", address="10.1.1.1")  # many names from one address
    with pytest.raises(Denied) as held:
        logins.sign_in("bob", "bob-passphrase", address="10.1.1.1")
    assert held.value.status == 429
    clock.now += 1.0
    token = logins.sign_in("ANA ", "ana-passphrase", address="10.9.9.9")
    assert logins.sessions.user(token) == "ana"


def test_the_caller_is_found_in_a_starlette_request_a_gradio_request_and_an_asgi_scope(logins, tmp_path):
    import gradio as gr

    token = logins.sign_in("ana", "ana-passphrase")
    key = logins.users.add_key("bob")
    for headers, user in (({"Cookie": f"other=1; rag-session={token}"}, "ana"), ({"Authorization": f"Bearer {key}"}, "bob"),
                          ({"Authorization": f"bearer  {key} "}, "bob"), ({"Cookie": "rag-session=nope"}, None),
                          ({"Authorization": "Basic YW5hOmFuYQ=="}, None), ({"Cookie": "\x00;;=="}, None), ({}, None)):
        scope = scope_with(**headers)
        for request in (scope, Request(scope), gr.Request(request=Request(scope))):
            assert logins.user(request) == user, (headers, type(request))
    ana_ws = logins.workspace(scope_with(Cookie=f"rag-session={token}"))
    bob_ws = logins.workspace(scope_with(Authorization=f"Bearer {key}"))
    assert ana_ws is not bob_ws and ana_ws.feedback_log != bob_ws.feedback_log
    assert ana_ws.seeds_dir() == logins.users.collection("ana") / "seeds"
    assert ana_ws.index().answer("anything").abstained  # no documents yet: an honest "no"
    with pytest.raises(Denied) as refused:
        logins.workspace(scope_with())
    assert refused.value.status == 401 and "Sign in" in refused.value.message


# --- over HTTP ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from ui.server import start_logins

    clock = Clock()
    users = Users(tmp_path_factory.mktemp("server"), hasher=FAST)
    users.add("ana", "ana-passphrase")
    demo, url, logins = start_logins(users, port=None, model="hash-embedder", poll_seconds=3600,
                                     sessions=Sessions(idle=600, lifetime=3600, clock=clock),
                                     throttle=Throttle(clock=clock))
    try:
        yield url, clock
    finally:
        demo.close()
        logins.collections.close()


def test_the_sign_in_page_sets_a_session_cookie_that_expires(served):
    url, clock = served
    with httpx.Client(base_url=url, timeout=30) as client:
        form = client.get("login")
        assert form.status_code == 200 and 'name="password"' in form.text and "<script" not in form.text
        assert "http" not in form.text.split("<body>")[1]  # nothing loaded from elsewhere
        signed = client.post("login", data={"name": "ana", "password": "ana-passphrase"})
        cookie = signed.headers["set-cookie"]
        assert signed.status_code == 303 and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert client.get("config").status_code == 200 and client.get("").status_code == 200
        clock.now += 601  # idle past the limit
        assert client.get("config").status_code == 401
        assert client.get("").headers["location"] == "login"


def test_failed_sign_ins_over_http_get_the_form_again_then_a_wait(served):
    url, clock = served
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(FREE_FAILURES):
            wrong = client.post("login", data={"name": "ana", "password": "not it"})
            assert wrong.status_code == 401 and "Wrong name or password." in wrong.text
        held = client.post("login", data={"name": "ana", "password": "ana-passphrase"})
        assert held.status_code == 429 and held.headers["retry-after"] == "1" and "rag-session" not in client.cookies
        clock.now += 1
        assert client.post("login", data={"name": "ana", "password": "ana-passphrase"}).status_code == 303


def test_a_sign_in_posted_from_another_sites_page_is_refused(served):
    url, _ = served
    reply = httpx.post(url + "login", data={"name": "ana", "password": "ana-passphrase"},
                       headers={"Origin": "https://elsewhere.example"}, timeout=30)
    assert reply.status_code == 403 and "set-cookie" not in reply.headers


def test_serve_refuses_a_public_address_without_logins(capsys, hash_index):
    from ui.server import start

    assert main(["serve", "--host", "0.0.0.0", "--port", "7999"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rag: error: Binding 0.0.0.0 needs logins") and len(err.strip().splitlines()) == 1
    with pytest.raises(InputError, match="needs logins"):
        start(hash_index, host="0.0.0.0", port=None)


def test_serve_with_logins_and_no_users_says_how_to_add_one(capsys, tmp_path):
    assert main(["serve", "--logins", "--users", str(tmp_path / "empty"), "--port", "7999"]) == 1
    err = capsys.readouterr().err
    assert "No users in" in err and "rag users" in err and len(err.strip().splitlines()) == 1


def test_rag_serve_with_logins_from_the_environment_serves_only_signed_in_users(tmp_path):
    import os
    import subprocess
    import sys
    import time

    from conftest import REPO

    from ui.server import free_port

    users = Users(tmp_path / "server", hasher=FAST)
    users.add("ana", "ana-passphrase")
    port = free_port()
    env = {**os.environ, "RAG_LOGINS": "1", "RAG_USERS": str(tmp_path / "server"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")]))}
    server = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--port", str(port)], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()  # printed once it serves
        assert "with logins" in line, line + server.stderr.read() if server.poll() is not None else line
        url = f"http://127.0.0.1:{port}/"
        assert httpx.get(url + "config", timeout=30).status_code == 401
        with httpx.Client(base_url=url, timeout=30) as client:
            assert client.post("login", data={"name": "ana", "password": "ana-passphrase"}).status_code == 303
            assert client.get("config").status_code == 200
        assert (tmp_path / "server" / "users" / "ana" / "seeds").is_dir()
    finally:
        server.terminate()
        deadline = time.monotonic() + 30
        while server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if server.poll() is None:
            server.kill()
        server.communicate()
