"""rag.service.live.LiveIndex: rebuilds in the background, the old index answering until one swap."""

from __future__ import annotations

import errno
import gc
import os
import shutil
import threading
import weakref
from pathlib import Path

import pytest
from conftest import SMALL_CORPUS, quiet

import rag.service.live
from rag.errors import IndexStateError
from rag.service.live import LiveIndex, Status, version_of
from rag.service.loading import load_index, open_index

OLD, NEW = "clover and lavender", "thyme and marigolds"
QUESTION = "Which flowers do honey bees visit in early summer?"
WAIT = 60  # seconds: a limit against hanging, never a measured figure


@pytest.fixture
def live(make_seeds, tmp_path: Path):
    """SMALL_CORPUS under a LiveIndex with the HashEmbedder; the watcher effectively off (tests call refresh)."""
    seeds = make_seeds(SMALL_CORPUS)
    index = LiveIndex(seeds, tmp_path / "index", model="hash-embedder", poll_seconds=3600)
    index.current()
    yield index
    index.close()
    index.wait(WAIT)


def _quoted(index, question: str = QUESTION) -> str:
    return " ".join(q.text for q in index.answer(question, 3).quotes)


def _edit_keeping_size_and_time(path: Path, old: str, new: str) -> None:
    assert len(old.encode()) == len(new.encode())
    before = path.stat()
    path.write_text(path.read_text("utf-8").replace(old, new), "utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


class Gate:
    """Wraps build_index so a test can hold a rebuild at its embedding stage, then let it finish."""

    def __init__(self, monkeypatch) -> None:
        self.reached, self.release = threading.Event(), threading.Event()
        real = rag.service.live.build_index

        def build(*args, on_progress=None, **kwargs):
            def progress(stage: str, done: int, total: int) -> None:
                on_progress(stage, done, total)
                if stage == "embedding":
                    self.reached.set()
                    assert self.release.wait(WAIT)

            return real(*args, on_progress=progress, **kwargs)

        monkeypatch.setattr(rag.service.live, "build_index", build)


def test_answers_come_from_the_old_index_during_a_rebuild_and_from_the_new_text_after_the_swap(live, monkeypatch):
    gate = Gate(monkeypatch)
    old = live.current()
    assert OLD in _quoted(live)
    seeds = live.seeds
    bees = (seeds / "bees.txt").read_text("utf-8")
    (seeds / "bees.txt").write_text(bees.replace(OLD, NEW) + "\nBumblebees also visit foxgloves.\n", "utf-8")
    started = live.refresh()
    assert started.state == "indexing" and started.pending == ("bees.txt",)
    assert gate.reached.wait(WAIT)
    during = live.status()
    # The texts the model reads: every passage (one more now) and each of its sentences and contexts.
    assert during.stage == "embedding" and during.total > sum(1 for _ in old.passages) + 1
    assert "embedding" in during.message and "\n" not in during.message
    # Until the last file is read the total is estimated, and the line says so.
    assert during.done < during.total and f"texts {during.done:,} of about {during.total:,}" in during.message
    # Meanwhile several callers at once still get the old index, whole: never blank, never an error.
    seen: list[object] = []

    def ask() -> None:
        index = live.current()
        seen.append((index, index.answer(QUESTION, 3)))

    askers = [threading.Thread(target=ask) for _ in range(8)]
    for t in askers:
        t.start()
    for t in askers:
        t.join(WAIT)
    assert len(seen) == 8 and all(index is old for index, _ in seen)
    # The old text is no longer in the file: the old index withholds it rather than misquote.
    assert all(OLD not in " ".join(q.text for q in a.quotes) for _, a in seen)
    assert all(a.abstained or a.quotes for _, a in seen)
    gate.release.set()
    done = live.wait(WAIT)
    assert done.state == "ready" and done.version != started.version and done.pending == ()
    assert live.current() is not old
    assert NEW in _quoted(live)


def test_an_edit_keeping_size_and_modification_time_is_noticed_by_content(live):
    version = live.status().version
    _edit_keeping_size_and_time(live.seeds / "bees.txt", OLD, NEW)
    assert live.refresh().state == "indexing"
    assert live.wait(WAIT).version != version
    assert NEW in _quoted(live)


def test_content_sweep_reads_a_bounded_slice_per_look(live, monkeypatch):
    sweep = rag.service.watch.HashSweep(live.seeds, live.current().manifest.sources, budget=1)
    assert [sweep.step() for _ in range(3)] == [(), (), ()]  # one small file per step when the budget is tiny
    assert sweep.round_done
    _edit_keeping_size_and_time(live.seeds / "chess.txt", "flank pawn", "wing pawn!")
    assert [name for _ in range(3) for name in sweep.step()] == ["chess.txt"]


def test_nothing_changed_starts_no_rebuild(live):
    version = live.status().version
    for _ in range(3):
        assert live.refresh().state == "ready"
    assert live.wait(WAIT).version == version


def test_removing_every_seed_keeps_the_index_serving_with_a_notice(live):
    old = live.current()
    for path in live.seeds.iterdir():
        path.unlink()
    status = live.refresh()
    assert status.state == "ready" and "No documents in" in status.message and "\n" not in status.message
    assert live.current() is old
    result = live.answer(QUESTION, 3)  # an honest abstention, not an error
    assert result.abstained and result.quotes == [] and result.message
    (live.seeds / "music.txt").write_text("Concert Notes\n\nThe Vienna State Opera stages a different production "
                                          "almost every night of the season.\n", "utf-8")
    live.refresh()
    assert live.wait(WAIT).message == ""
    assert live.current().sources == ["music.txt"]


def test_a_failed_rebuild_keeps_the_old_index_and_the_next_change_retries(live, monkeypatch):
    old = live.current()
    real = rag.service.live.build_index

    def disk_full(*args, **kwargs):
        raise IndexStateError(f"Could not write the index to {live.index_dir} ({os.strerror(errno.ENOSPC)}); "
                              "free some space, then run `rag build` again.")

    monkeypatch.setattr(rag.service.live, "build_index", disk_full)
    (live.seeds / "bees.txt").write_text("Garden Notes\n\nWasps visit fallen fruit in autumn.\n", "utf-8")
    live.refresh()
    failed = live.wait(WAIT)
    assert failed.state == "failed" and "No space left" in failed.message and "\n" not in failed.message
    assert live.current() is old
    assert live.refresh().state == "failed"  # the same seeds are not rebuilt again and again
    monkeypatch.setattr(rag.service.live, "build_index", real)
    (live.seeds / "bees.txt").write_text("Garden Notes\n\nWasps visit fallen fruit in early autumn.\n", "utf-8")
    live.refresh()
    assert live.wait(WAIT).state == "ready"
    assert "Wasps" in _quoted(live, "What do wasps visit?")


def test_disk_full_while_writing_a_rebuild_leaves_no_partial_files(live, monkeypatch):
    import numpy as np

    before = sorted(os.listdir(live.index_dir))

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np, "save", full)
    (live.seeds / "bees.txt").write_text("Garden Notes\n\nWasps visit fallen fruit in autumn.\n", "utf-8")
    live.refresh()
    status = live.wait(WAIT)
    assert status.state == "failed" and "No space left on device" in status.message
    assert sorted(os.listdir(live.index_dir)) == before


def test_watcher_thread_notices_a_change_by_itself(make_seeds, tmp_path):
    seeds = make_seeds(SMALL_CORPUS)
    index = LiveIndex(seeds, tmp_path / "index", model="hash-embedder", poll_seconds=0.05)
    try:
        version = index.current().manifest.files
        (seeds / "bees.txt").write_text("Garden Notes\n\nWasps visit fallen fruit in autumn.\n", "utf-8")
        changed = threading.Event()

        def watch() -> None:
            while index.current().manifest.files == version:
                if index._stop.wait(0.05):
                    return
            changed.set()

        threading.Thread(target=watch, daemon=True).start()
        assert changed.wait(WAIT)
    finally:
        index.close()
        index.wait(WAIT)


def test_status_is_a_frozen_record(live):
    status = live.status()
    assert isinstance(status, Status) and status.state == "ready" and status.version
    with pytest.raises(AttributeError):
        status.state = "failed"  # type: ignore[misc]


def test_index_attributes_are_forwarded_to_the_serving_index(live):
    assert live.sources == ["bees.txt", "chess.txt", "ports.txt"]
    assert live.passages == live.current().passages


def test_first_load_with_no_documents_and_no_index_is_one_line_error(tmp_path):
    (tmp_path / "seeds").mkdir()
    index = LiveIndex(tmp_path / "seeds", tmp_path / "index", model="hash-embedder", poll_seconds=3600)
    try:
        with pytest.raises(rag.IngestError, match="has no documents"):
            index.current()
        assert index.status().state == "failed" and "has no documents" in index.status().message
    finally:
        index.close()


def test_questions_on_the_default_index_never_walk_the_seeds_folder(make_seeds, build_hash_index, monkeypatch,
                                                                     tmp_path):
    import rag

    seeds = make_seeds(SMALL_CORPUS)
    build_hash_index(seeds, tmp_path / "index")
    monkeypatch.setenv("RAG_SEEDS", str(seeds))
    monkeypatch.setenv("RAG_INDEX", str(tmp_path / "index"))
    rag.answer(QUESTION)  # the first use loads the index (and checks the seeds once)
    walks: list[Path] = []
    real_rglob = Path.rglob

    def counting_rglob(self, pattern, *args, **kwargs):
        walks.append(self)
        return real_rglob(self, pattern, *args, **kwargs)

    monkeypatch.setattr(Path, "rglob", counting_rglob)
    for _ in range(5):
        assert OLD in " ".join(q.text for q in rag.answer(QUESTION).quotes)
        rag.retrieve(QUESTION)
    assert walks == []


def test_rebuild_embedder_gives_the_same_vectors_and_stops_between_reads_when_cancelled(monkeypatch, tmp_path,
                                                                                       make_seeds):
    import numpy as np

    import rag.service.rebuild
    from rag.embed.model import HashEmbedder

    monkeypatch.setattr(rag.service.rebuild, "SLICE", 4)
    inner = HashEmbedder()
    wrapped = rag.service.rebuild.StoppableEmbedder(inner)
    texts = [f"harbour {n} ships cargo" for n in range(10)]
    assert np.array_equal(wrapped.encode(texts), inner.encode(texts))
    spans = [[(0, len(t))] for t in texts]
    for a, b in zip(wrapped.encode_spans(texts, spans), inner.encode_spans(texts, spans), strict=True):
        assert np.array_equal(a.vector, b.vector) and np.array_equal(a.tokens[0], b.tokens[0])
    # A build reports every text the model reads, and a cancelled one stops before writing.
    heard: list[tuple[str, int, int]] = []
    seeds = make_seeds({"a.txt": "Harbour Notes\n\nShips carry cargo.\n\nCranes lift boxes.\n"})
    rag.build_index(seeds, tmp_path / "ok", embedder=wrapped, log=quiet, on_progress=lambda *s: heard.append(s))
    embedding = [s for s in heard if s[0] == "embedding"]
    assert embedding[0][1] == 0 and embedding[-1][1] == embedding[-1][2] > 0
    reads = iter(range(100))
    stopping = rag.service.rebuild.StoppableEmbedder(inner, cancelled=lambda: next(reads) >= 2)
    with pytest.raises(rag.service.rebuild.Cancelled):
        rag.build_index(seeds, tmp_path / "stopped", embedder=stopping, log=quiet)
    assert not (tmp_path / "stopped" / "manifest.json").exists()


def test_a_rebuild_answers_with_the_serving_model_instance_and_then_drops_its_own(live, monkeypatch):
    serving, made = live.current().embedder, []
    real = rag.service.live.own_embedder

    def own(name: str):
        embedder = real(name)
        made.append(weakref.ref(embedder))
        return embedder

    monkeypatch.setattr(rag.service.live, "own_embedder", own)
    (live.seeds / "bees.txt").write_text("Garden Notes\n\nWasps visit fallen fruit in autumn.\n", "utf-8")
    live.refresh()
    assert live.wait(WAIT).state == "ready"
    assert live.current().embedder is serving  # questions keep the serving instance
    assert len(made) == 1 and made[0]() is not serving
    gc.collect()
    assert made[0]() is None  # the rebuild's own instance is not kept once it is done


@pytest.mark.filterwarnings("ignore:.*no_silent_downcasting", "ignore:The copy keyword is deprecated")
def test_web_app_over_a_live_index_answers_during_a_rebuild_and_quotes_the_new_text_after(live, monkeypatch):
    from conftest import serving
    from gradio_client import Client

    from ui.app import reply

    gate = Gate(monkeypatch)
    shore = "Which port connected its container terminals to shore power?"
    with serving(live) as url:
        client = Client(url, verbose=False)
        assert OLD in " ".join(q["text"] for q in client.predict(QUESTION, 3, None, api_name="/ask")["quotes"])
        (live.seeds / "bees.txt").write_text(SMALL_CORPUS["bees.txt"].replace(OLD, NEW), "utf-8")
        live.refresh()
        assert gate.reached.wait(WAIT)
        during = client.predict(shore, 3, None, api_name="/ask")  # the old index, still answering
        assert any("Rotterdam" in q["text"] for q in during["quotes"])
        edited = client.predict(QUESTION, 3, None, api_name="/ask")
        assert OLD not in " ".join(q["text"] for q in edited["quotes"]) and (edited["abstained"] or edited["quotes"])
        html, _ = reply(live, shore, 3)
        assert "Rotterdam" in html
        gate.release.set()
        assert live.wait(WAIT).state == "ready"
        first = client.predict(QUESTION, 3, None, api_name="/ask")
        assert NEW in " ".join(q["text"] for q in first["quotes"])


def test_closing_stops_a_running_rebuild_before_it_writes(live, monkeypatch):
    gate = Gate(monkeypatch)
    old, before = live.current(), sorted(os.listdir(live.index_dir))
    (live.seeds / "bees.txt").write_text("Garden Notes\n\nWasps visit fallen fruit in autumn.\n", "utf-8")
    live.refresh()
    assert gate.reached.wait(WAIT)
    closing = threading.Thread(target=live.close)
    closing.start()
    gate.release.set()
    closing.join(WAIT)
    assert not closing.is_alive()
    status = live.wait(WAIT)
    assert status.state == "ready" and status.message.startswith("Stopped indexing")
    assert live.current() is old and sorted(os.listdir(live.index_dir)) == before


def test_skipped_files_are_named_in_the_status(make_seeds, tmp_path):
    seeds = make_seeds({**SMALL_CORPUS, "empty.txt": ""})
    index = LiveIndex(seeds, tmp_path / "index", model="hash-embedder", poll_seconds=3600)
    try:
        index.current()
        assert index.status().message == "skipped empty.txt: the file is empty"
        (seeds / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
        index.refresh()
        message = index.wait(WAIT).message
        assert "skipped empty.txt" in message and "skipped photo.png" in message and "\n" not in message
    finally:
        index.close()


ZEBRAS = "Zebras graze on the savanna grasslands of Kenya in large herds.\n"


def test_status_recovers_when_the_seeds_return_to_the_indexed_ones(live, monkeypatch):
    total = sum(p.stat().st_size for p in live.seeds.iterdir())
    monkeypatch.setenv("RAG_MAX_CORPUS_MB", str((total + 100) / 1e6))  # these files fit; one more does not
    extra = live.seeds / "extra.txt"
    extra.write_text("Herons fish in shallow lakes at dawn. " * 30, "utf-8")
    live.refresh()
    assert live.wait(WAIT).state == "failed"
    extra.unlink()  # the seeds are again exactly what the serving index was built from
    live.refresh()
    status = live.wait(WAIT)
    assert status.state == "ready", status.message
    assert "Could not update" not in status.message


def test_an_index_built_with_rag_build_after_a_failure_is_served(live, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    real = rag.service.live.build_index
    monkeypatch.setattr(rag.service.live, "build_index", broken)
    (live.seeds / "zebras.txt").write_text(ZEBRAS, "utf-8")
    live.refresh()
    assert live.wait(WAIT).state == "failed"
    real(live.seeds, live.index_dir, model="hash-embedder", log=lambda line: None)  # what `rag build` does
    status = live.refresh()
    assert status.state == "ready", status.message
    assert status.version == version_of(load_index(live.index_dir, model="hash-embedder"))
    assert "zebras.txt" in live.current().sources


def test_an_unclosed_live_index_does_not_keep_its_watcher(make_seeds, tmp_path: Path):
    seeds = make_seeds(SMALL_CORPUS)
    before = {t for t in threading.enumerate() if t.name.startswith("rag-watch")}
    for _ in range(3):
        index = LiveIndex(seeds, tmp_path / "index", model="hash-embedder", poll_seconds=0.05)
        index.current()
        del index
    gc.collect()
    left = {t for t in threading.enumerate() if t.name.startswith("rag-watch")} - before
    for thread in left:
        thread.join(timeout=WAIT)
    assert not [t for t in left if t.is_alive()]


def test_a_live_index_used_in_a_with_block_stops_its_watcher_at_the_end(make_seeds, tmp_path: Path):
    with LiveIndex(make_seeds(SMALL_CORPUS), tmp_path / "index", model="hash-embedder", poll_seconds=3600) as live:
        assert "bees.txt" in live.current().sources
        watcher = live._watcher
        assert watcher.is_alive()
    assert not watcher.is_alive()


def test_a_skipped_file_that_grows_does_not_rebuild_the_index(live, monkeypatch):
    monkeypatch.setenv("RAG_MAX_FILE_MB", "0.01")
    log = live.seeds / "app.log"
    log.write_text("started\n" * 2000, "utf-8")  # 16 KB: over the 10 KB limit, skipped
    live.refresh()
    status = live.wait(WAIT)
    assert "skipped app.log" in status.message
    builds = set()
    for _ in range(3):
        with log.open("a", encoding="utf-8") as f:
            f.write("one more line\n")  # still over the limit: nothing the index holds changed
        live.refresh()
        builds.add(live.wait(WAIT).version)
    assert builds == {status.version}


@pytest.mark.parametrize("name", ["server.log", "bees.txt~", "4913"])
def test_a_file_of_no_known_type_that_changes_does_not_rebuild_the_index(live, name):
    other = live.seeds / name
    other.write_text("plain notes\n", "utf-8")
    live.refresh()
    first = live.wait(WAIT)
    assert first.state == "ready" and f"skipped {name}" in first.message
    for n in range(3):
        other.write_text("plain notes, longer now\n" * (n + 2), "utf-8")  # size, time and bytes all change
        assert live.refresh().state == "ready"
        assert live.wait(WAIT).version == first.version


def test_a_file_of_no_known_type_that_holds_a_web_page_is_indexed(live):
    (live.seeds / "zebras.page").write_text(f"<html><body><p>{ZEBRAS}</p></body></html>", "utf-8")
    live.refresh()
    assert live.wait(WAIT).state == "ready"
    assert "zebras.page" in live.current().sources


def test_an_index_folder_inside_the_seeds_does_not_rebuild_forever(make_seeds):
    seeds = make_seeds(SMALL_CORPUS)
    index = LiveIndex(seeds, seeds / "index", model="hash-embedder", poll_seconds=3600)
    try:
        index.current()
        first = index.status().version
        for _ in range(2):  # no document changes: nothing to rebuild
            index.refresh()
            assert index.wait(WAIT).version == first
        (seeds / "zebras.txt").write_text(ZEBRAS, "utf-8")  # a real change still rebuilds
        index.refresh()
        status = index.wait(WAIT)
        assert status.version != first and "zebras.txt" in index.current().sources
        assert "index/" not in status.message  # its own files are not documents it skipped
        # Opened again (a restart), the index is current: the files it wrote do not make it stale.
        assert version_of(open_index(seeds, seeds / "index", model="hash-embedder")) == status.version
    finally:
        index.close()
        index.wait(WAIT)


def test_a_file_saved_during_a_rebuild_leads_to_another_build_not_a_failure(live, monkeypatch):
    gate = Gate(monkeypatch)
    bees = live.seeds / "bees.txt"
    bees.write_text(SMALL_CORPUS["bees.txt"].replace(OLD, NEW), "utf-8")
    live.refresh()
    assert gate.reached.wait(WAIT)
    bees.write_text(SMALL_CORPUS["bees.txt"].replace(OLD, "sage and  borage"), "utf-8")  # saved again mid-build
    gate.release.set()
    status = live.wait(WAIT)
    assert status.state == "ready", status.message
    assert "sage and  borage" in _quoted(live)


def test_answers_over_a_seeds_folder_replaced_by_a_file_do_not_advise_rag_build(live):
    shutil.rmtree(live.seeds)
    live.seeds.write_text("not a folder", "utf-8")
    live.refresh()
    result = live.answer(QUESTION, 3)
    assert result.abstained and not result.quotes
    assert "rag build" not in result.message and "Put them back" in result.message
    assert "rag build" not in result.text and "Put them back" in result.text
    # The web chat answers from the serving index it holds for the turn, with the same advice.
    from ui.chat import answer_turn, reply
    from ui.workspace import Workspace

    ws = Workspace(live)
    turn = answer_turn(ws.index(), QUESTION, 3, None, advise=ws.advise)
    assert turn["answer"]["message"] == result.message
    _html, markdown = reply(live, QUESTION, 3)
    assert "Put them back" in markdown and "rag build" not in markdown


def test_a_failed_look_at_the_seeds_is_cleared_by_the_next_good_one(live, monkeypatch):
    real = rag.service.live.seeds_signature

    def broken(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(rag.service.live, "seeds_signature", broken)
    live.look()  # what the watcher thread does every poll
    assert "Could not check" in live.status().message
    monkeypatch.setattr(rag.service.live, "seeds_signature", real)
    live.look()
    assert live.status().message == "" and live.status().state == "ready"


def test_a_background_rebuild_re_uses_rows_made_with_the_same_numerics(make_seeds, tmp_path: Path, monkeypatch) -> None:
    """The rebuild's embedder is wrapped so a closing index can stop it; the wrapper must still say the numerics
    (bfloat16 with the packaged model), or every row of the earlier index is thrown away and embedded again."""
    import rag.storage.index_folder as store
    from rag.embed.model import HashEmbedder

    class Bfloat16(HashEmbedder):
        precision = "bfloat16"

    seeds = make_seeds(SMALL_CORPUS)
    rag.build_index(seeds, tmp_path / "index", embedder=Bfloat16(), log=quiet)
    monkeypatch.setattr(rag.service.live, "own_embedder", lambda name: Bfloat16())
    live = LiveIndex(seeds, tmp_path / "index", model="hash-embedder", poll_seconds=3600)
    try:
        live.current()
        bees = seeds / "bees.txt"
        bees.write_text(bees.read_text("utf-8") + "\nBumblebees also visit foxgloves.\n", "utf-8")
        assert live.refresh().state == "indexing"
        assert live.wait(WAIT).state == "ready"
    finally:
        live.close()
    manifest = store.raw_manifest(tmp_path / "index")
    assert manifest["precision"] == "bfloat16"
    assert manifest["build"] == {"reused": len(SMALL_CORPUS) - 1, "embedded": 1}
