"""The Milvus store after a build killed half-way and with a damaged milvus-lite file: the next build drops
what the killed ones left (and nothing the user made), and a damaged store gives one line, no tracebacks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from conftest import SMALL_CORPUS, quiet, write_seeds

import rag
from rag.embed.model import HashEmbedder
from rag.stores.milvus_build import upload

ROOT = Path(rag.__file__).resolve().parents[1]  # the tree `rag` comes from: subprocesses use the same

# A build that kills itself with SIGKILL when its upload says a line starting with argv[1]; with argv[2]
# "unmarked", its collections are made as uploads made them before they carried their mark.
KILLED = """
import os, signal, sys
from pymilvus import MilvusClient
from rag.cli import main
import rag.stores.milvus_build as milvus_build
if sys.argv[2] == "unmarked":
    create = MilvusClient.create_collection
    def unmarked(self, *args, properties=None, **kwargs):
        return create(self, *args, **kwargs)
    MilvusClient.create_collection = unmarked
real = milvus_build.upload
def upload(store, uri, *, log=None):
    def say(line):
        print(line, file=sys.stderr, flush=True)
        if line.startswith(sys.argv[1]):
            os.kill(os.getpid(), signal.SIGKILL)
    real(store, uri, log=say)
milvus_build.upload = upload
sys.exit(main(sys.argv[3:]))
"""

# Collections the user made beside the store: names like an upload's, their own fields.
USERS = """
import sys
from pymilvus import DataType, MilvusClient
client = MilvusClient(sys.argv[1])
for name in sys.argv[2:]:
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=2)
    index = client.prepare_index_params()
    index.add_index("vector", index_type="FLAT", metric_type="L2")
    client.create_collection(name, schema=schema, index_params=index)
    client.insert(name, [{"id": 1, "vector": [0.5, 0.5]}])
"""


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=300)


def _collections(path: Path) -> set[str]:
    from pymilvus import MilvusClient

    return set(MilvusClient(str(path)).list_collections())


def test_the_next_build_drops_what_killed_builds_left_and_keeps_the_users_collections(tmp_path: Path,
                                                                                          capsys) -> None:
    seeds = write_seeds(tmp_path / "seeds", SMALL_CORPUS)
    db = tmp_path / "store.db"
    uri = f"milvus-lite:{db}/docs"
    build = ["build", "--seeds", str(seeds), "--store", uri, "--model", "hash-embedder"]
    assert _python("-m", "rag.cli", *build).returncode == 0
    users = ["docs_mine", "docs_20260101000000_abcdef", "docs_20260101000000_abcdef_docs", "docs_x_docs"]
    assert _python("-c", USERS, str(db), *users).returncode == 0
    # half-filled, filled but not yet what `docs` stands for, and as an upload without the mark left it
    for when, how in (("uploaded", "marked"), ("stored", "marked"), ("uploaded", "unmarked")):
        killed = _python("-c", KILLED, when, how, *build)
        assert killed.returncode == -9, killed.stderr[-2000:]
    left = _collections(db)
    assert set(users) < left and len(left) >= 2 + len(users) + 2  # the live pair, the user's, and the kills'

    from rag.cli import main

    assert main(build) == 0
    said = capsys.readouterr().err
    now = _collections(db)
    live = rag.open_store(uri).store.name  # type: ignore[attr-defined]
    assert now == {live, live + "_docs", *users}
    assert live + "_docs" not in left  # a new pair: the kills' pairs and the old live pair are gone
    assert said.count("left by an upload to docs that did not finish") == len(left) - 2 - len(users)
    answer = rag.open_store(uri).answer("Which city connected its container terminals to shore power?")
    assert answer.quotes and answer.quotes[0].text in SMALL_CORPUS["ports.txt"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A milvus-lite store of SMALL_CORPUS, never opened by this process after the upload."""
    root = tmp_path_factory.mktemp("damaged")
    seeds = write_seeds(root / "seeds", SMALL_CORPUS)
    files = rag.build_index(seeds, root / "index", embedder=HashEmbedder(), log=quiet)
    upload(files.store, f"milvus-lite:{root}/good.db/docs", log=quiet)  # type: ignore[arg-type]
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(str(root / "good.db"))
    return root / "good.db"


def _damage(db: Path, how: str) -> None:
    passages = next(p for p in (db / "collections").iterdir() if not p.name.endswith("_docs"))
    docs = passages.with_name(passages.name + "_docs")
    if how == "aliases":
        (db / "aliases.json").write_bytes(b"\x00garbage{{")
    elif how == "overwritten":
        data = next((passages / "partitions/_default/data").glob("*.parquet"))
        with data.open("r+b") as f:
            f.seek(100)
            f.write(bytes(range(256)) * 2)
    elif how == "truncated":
        data = next((docs / "partitions/_default/data").glob("*.parquet"))
        data.write_bytes(data.read_bytes()[:50])
    elif how == "manifests":
        for name in ("manifest.json", "manifest.json.prev"):
            (docs / name).write_bytes((docs / name).read_bytes()[:20])
    elif how == "file":
        shutil.rmtree(db)
        db.write_bytes(os.urandom(4096))


DAMAGES = ["aliases", "overwritten", "truncated", "manifests", "file"]


@pytest.mark.parametrize("how", DAMAGES)
def test_a_damaged_milvus_lite_store_gives_one_line_and_nothing_else(built: Path, tmp_path: Path, how: str) -> None:
    db = tmp_path / "copy.db"
    shutil.copytree(built, db)
    _damage(db, how)
    asked = _python("-m", "rag.cli", "ask", "Why paint hives white?", "--store", f"milvus-lite:{db}/docs")
    assert asked.returncode == 1
    assert asked.stderr.startswith("rag: error: ") and asked.stderr.count("\n") == 1, asked.stderr[:3000]
    assert str(db) in asked.stderr


@pytest.mark.parametrize("how", ["aliases", "overwritten", "file"])
def test_a_build_into_a_damaged_store_repairs_it_or_says_so_in_one_line(built: Path, tmp_path: Path,
                                                                        how: str) -> None:
    db = tmp_path / "copy.db"
    shutil.copytree(built, db)
    _damage(db, how)
    seeds = write_seeds(tmp_path / "seeds", {"bees.txt": SMALL_CORPUS["bees.txt"]})
    uri = f"milvus-lite:{db}/docs"
    done = _python("-m", "rag.cli", "build", "--seeds", str(seeds), "--store", uri, "--model", "hash-embedder")
    noise = [line for line in done.stderr.splitlines() if "Traceback" in line or line.startswith(("  File", "milvus"))
             or "[ERROR]" in line or "failed:" in line]
    assert not noise, done.stderr[:3000]
    if done.returncode == 0:  # the new pair replaced the damaged one
        asked = _python("-m", "rag.cli", "ask", "Why paint hives white?", "--store", uri, "--json")
        assert asked.returncode == 0 and not asked.stderr, asked.stderr[:3000]
        assert '"bees.txt"' in asked.stdout
    else:
        assert done.stderr.splitlines()[-1].startswith("rag: error: ") and "aside" in done.stderr.splitlines()[-1]


LIBRARY = """
import logging, sys
import rag
from rag.embed.model import HashEmbedder
from rag.stores.milvus_build import upload
logging.basicConfig()  # a program that shows its log: nothing from pymilvus, milvus-lite or their gRPC server
files = rag.build_index(sys.argv[1], sys.argv[2], embedder=HashEmbedder(), log=lambda line: None)
upload(files.store, sys.argv[3], log=lambda line: None)
assert rag.open_store(sys.argv[3], embedder=HashEmbedder()).answer("Why paint hives white?").quotes
for uri in sys.argv[4:]:
    try:
        rag.open_store(uri)
    except rag.IndexStateError as err:
        print(err)
"""


def test_the_library_raises_one_line_and_prints_nothing(built: Path, tmp_path: Path) -> None:
    damaged = []
    for how in ("aliases", "overwritten"):
        db = tmp_path / f"{how}.db"
        shutil.copytree(built, db)
        _damage(db, how)
        damaged.append(f"milvus-lite:{db}/docs")
    seeds = write_seeds(tmp_path / "seeds", SMALL_CORPUS)
    ran = _python("-c", LIBRARY, str(seeds), str(tmp_path / "index"), f"milvus-lite:{tmp_path}/new.db/docs",
                  *damaged)
    assert ran.returncode == 0 and ran.stderr == "", ran.stderr[:3000]
    lines = ran.stdout.splitlines()
    assert len(lines) == 2 and all("rebuild it with `rag build --store" in line for line in lines)


def test_verbose_shows_what_milvus_logged_before_the_one_line(built: Path, tmp_path: Path) -> None:
    db = tmp_path / "copy.db"
    shutil.copytree(built, db)
    _damage(db, "aliases")
    seeds = write_seeds(tmp_path / "seeds", {"bees.txt": SMALL_CORPUS["bees.txt"]})
    done = _python("-m", "rag.cli", "build", "--seeds", str(seeds), "--store", f"milvus-lite:{db}/docs",
                   "--model", "hash-embedder", "--verbose")
    assert done.returncode == 1 and done.stderr.splitlines()[-1].startswith("rag: error: ")
    assert "Traceback" in done.stderr and "milvus_lite" in done.stderr


def test_a_store_another_program_has_open_says_so_in_one_line(built: Path, tmp_path: Path) -> None:
    db = tmp_path / "open.db"
    shutil.copytree(built, db)
    holder = subprocess.Popen([sys.executable, "-c", "import sys; from pymilvus import MilvusClient; "
                               "MilvusClient(sys.argv[1]); print('open', flush=True); sys.stdin.read()", str(db)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        asked = _python("-m", "rag.cli", "ask", "Why paint hives white?", "--store", f"milvus-lite:{db}/docs")
    finally:
        holder.communicate("", timeout=60)
    assert asked.returncode == 1 and asked.stderr.count("\n") == 1, asked.stderr[:3000]
    assert "another program has it open" in asked.stderr
