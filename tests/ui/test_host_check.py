"""A server without logins answers only requests that name one of its own hosts (`ui.host_check`):
a page of another name pointed at this machine (DNS rebinding) reads no answer, document or page."""

from __future__ import annotations

import httpx
import pytest

from rag.embed.model import HashEmbedder
from ui.origins import Origins
from ui.server import start


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    from conftest import SMALL_CORPUS, quiet, write_seeds

    import rag

    root = tmp_path_factory.mktemp("hosts")
    index = rag.build_index(write_seeds(root / "seeds", SMALL_CORPUS), root / "index", embedder=HashEmbedder(),
                            log=quiet)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAG_ORIGINS", "https://docs.example.org")
        demo, address = start(index, host="127.0.0.1", port=None)
    try:
        yield address.rstrip("/")
    finally:
        demo.close()


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/", None),
    ("GET", "/config", None),
    ("POST", "/api/v1/answer", {"question": "Why paint hives white?"}),
    ("GET", "/api/v1/documents", None),
    ("POST", "/v1/chat/completions", {"model": "rag", "messages": [{"role": "user", "content": "Why paint hives?"}]}),
    ("POST", "/gradio_api/call/ask", {"data": ["Why paint hives white?", 3, None]}),
])
def test_a_request_naming_another_host_reads_nothing(url, method, path, body):
    port = httpx.URL(url).port
    with httpx.Client(base_url=url, timeout=30) as client:
        refused = client.request(method, path, json=body, headers={"Host": f"evil.example:{port}"})
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "unknown_host"
        assert "hives" not in refused.text
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "docs.example.org"):
            assert client.request(method, path, json=body, headers={"Host": host}).status_code == 200, host


def test_the_names_a_server_answers_to():
    local = Origins.serving("127.0.0.1", 7860, ("https://docs.example.org",))
    assert all(local.allows_host(h) for h in ("127.0.0.1:7860", "localhost:7860", "[::1]:7860", "LOCALHOST",
                                              "docs.example.org", "docs.example.org:443"))
    assert not any(local.allows_host(h) for h in ("evil.example:7860", "10.0.0.5:7860", "", "localhost.evil.example"))
    public = Origins.serving("0.0.0.0", 7860)
    assert public.allows_host("10.0.0.5:7860") and not public.allows_host("evil.example:7860")
