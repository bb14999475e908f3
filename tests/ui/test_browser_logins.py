"""In headless Chromium, on a server with logins: sign in, ask, reload (the conversation comes back from the
browser's storage, encrypted with the user's own key), then sign in as another user in the same browser
and see none of it. The hash embedder and one tiny document per user keep it quick.

Needs /usr/bin/chromium (Debian: `apt-get install -y chromium`); skipped without it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import PasswordHasher

from rag.service.users import Users

pytestmark = [pytest.mark.browser,
              pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
WAIT_MS = 60_000  # an upper bound for slow machines, not a performance assertion
ZEBRA = "Zebra Ledger\n\nThe zebra marmalade recipe needs eleven quinces and wildflower honey.\n"


def sign_in(page, url: str, name: str) -> None:
    page.goto(url)
    assert page.url.endswith("/login"), page.url
    page.fill("#name", name)
    page.fill("#password", f"{name}-passphrase")
    page.click("button")
    page.wait_for_selector("#rag-question textarea:not([disabled])", timeout=WAIT_MS)


def test_a_conversation_comes_back_for_its_user_only(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing; install it with `apt-get install -y chromium`")
    from playwright.sync_api import sync_playwright

    from ui.server import start_logins

    users = Users(tmp_path, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    for name in ("ana", "bob"):
        users.add(name, f"{name}-passphrase")
    seeds = users.collection("ana") / "seeds"
    seeds.mkdir(parents=True)
    (seeds / "zebra.txt").write_text(ZEBRA, encoding="utf-8")
    demo, url, logins = start_logins(users, port=None, model="hash-embedder", poll_seconds=3600)
    try:
        logins.collections.collection("ana").wait(60)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            try:
                page = browser.new_page()
                sign_in(page, url, "ana")
                page.fill("#rag-question textarea", "zebra marmalade quinces")
                page.keyboard.press("Enter")
                page.wait_for_selector(".rag-quote", timeout=WAIT_MS)
                assert "eleven quinces" in page.inner_text(".rag-quote")
                page.wait_for_timeout(500)  # the browser writes its storage after the answer shows
                page.reload()
                page.wait_for_selector(".rag-quote", timeout=WAIT_MS)  # restored from the browser's storage
                page.click("#rag-sign-out")
                page.wait_for_url("**/login", timeout=WAIT_MS)
                sign_in(page, url, "bob")
                page.wait_for_timeout(1000)  # the page's load has run (the box opens only after it)
                assert page.locator(".rag-quote").count() == 0 and "marmalade" not in page.content()
                assert "zebra.txt" not in page.content()
            finally:
                browser.close()
    finally:
        demo.close()
        logins.collections.close()
