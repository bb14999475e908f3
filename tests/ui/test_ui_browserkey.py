"""The browser storage key: kept per index folder, private to its owner, replaced when it cannot be trusted."""

from __future__ import annotations

import os
import stat

import pytest

from ui.browserkey import KEY_FILE, browser_key
from ui.workspace import Workspace


def test_the_key_is_made_once_and_read_back_the_same(tmp_path):
    first = browser_key(tmp_path)
    assert browser_key(tmp_path) == first
    assert (tmp_path / KEY_FILE).read_text("ascii") == first
    assert len(first) == 48


def test_the_key_file_is_readable_by_its_owner_only(tmp_path):
    browser_key(tmp_path)
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600


def test_each_index_folder_has_its_own_key(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert browser_key(tmp_path / "a") != browser_key(tmp_path / "b")


@pytest.mark.parametrize("damage", ["readable", "garbled", "link"])
def test_a_key_others_could_read_or_a_damaged_one_is_replaced(tmp_path, damage):
    key = browser_key(tmp_path)
    path = tmp_path / KEY_FILE
    if damage == "readable":
        os.chmod(path, 0o644)
    elif damage == "garbled":
        path.write_text("not a key")
    else:
        path.unlink()
        (tmp_path / "elsewhere").write_text(key)
        path.symlink_to(tmp_path / "elsewhere")
    new = browser_key(tmp_path)
    assert new != key and len(new) == 48
    assert stat.S_IMODE(path.lstat().st_mode) == 0o600 and not path.is_symlink()


def test_a_folder_that_cannot_hold_the_key_gets_a_fresh_key_each_time(tmp_path):
    missing = tmp_path / "no such folder"
    assert browser_key(missing) != browser_key(missing)
    assert not missing.exists()
    assert browser_key(None) != browser_key(None)


def test_the_workspace_keeps_the_key_in_its_index_folder(hash_index):
    assert Workspace(hash_index).index_dir() == hash_index.index_dir
    assert Workspace(object()).index_dir() is None


def test_the_page_stores_the_conversation_and_settings_with_the_kept_key(hash_index):
    import gradio as gr

    from ui.app import build_app

    states = [block for block in build_app(hash_index).blocks.values() if isinstance(block, gr.BrowserState)]
    kept = (hash_index.index_dir / KEY_FILE).read_text("ascii")
    assert sorted(s.storage_key for s in states) == ["rag-settings", "rag-turns"]
    assert {s.secret for s in states} == {kept}
