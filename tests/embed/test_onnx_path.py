"""The packaged model on ONNX Runtime: its export cache, a query path without torch, the same vectors as
torch's, the fallback to sentence-transformers, and an index never queried with other numerics."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import SMALL_CORPUS, quiet

import rag
import rag.embed.onnx_export as onnx_export
from rag.embed.model import DEFAULT_MODEL, HashEmbedder, SentenceTransformerEmbedder
from rag.embed.runtime import new_embedder
from rag.errors import ModelError

DOCS = Path(__file__).parent.parent / "gold" / "docs"
HEAVY = ("torch", "sentence_transformers", "transformers")
PACKAGE_ROOT = Path(rag.__file__).resolve().parent.parent  # the tree whose `rag` these tests import


def _fake_model(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"hidden_size": 4}', "utf-8")
    (folder / "model.safetensors").write_bytes(b"weights one")
    return folder


def _counting_export(calls: list[Path]):
    def export(folder: Path, out: Path) -> None:
        calls.append(folder)
        for name in (onnx_export.MODEL_FILE, onnx_export.WEIGHTS_FILE, onnx_export.INFO_FILE):
            (out / name).write_text(name, "utf-8")

    return export


def test_the_export_is_made_once_and_keyed_by_the_model_files_and_the_exporter(tmp_path, monkeypatch) -> None:
    calls: list[Path] = []
    monkeypatch.setattr(onnx_export, "export", _counting_export(calls))
    folder, root = _fake_model(tmp_path / "model"), tmp_path / "cache"
    first = onnx_export.exported_model(folder, root=root, say=quiet)
    assert first.read_text("utf-8") == onnx_export.MODEL_FILE and len(calls) == 1
    assert onnx_export.exported_model(folder, root=root, say=quiet) == first and len(calls) == 1  # no export again
    key = onnx_export.export_key(folder, root=root)
    (folder / "model.safetensors").write_bytes(b"weights two")  # the weights change: another key, another export
    assert onnx_export.export_key(folder, root=root) != key
    second = onnx_export.exported_model(folder, root=root, say=quiet)
    assert second != first and len(calls) == 2
    key = onnx_export.export_key(folder, root=root)
    monkeypatch.setattr(onnx_export, "RECIPE", onnx_export.RECIPE + " (changed)")  # another exporter
    assert onnx_export.export_key(folder, root=root) != key
    assert onnx_export.exported_model(folder, root=root, say=quiet) != second and len(calls) == 3
    assert not list(folder.glob("*.onnx"))  # nothing written into the model folder


def test_the_key_hashes_each_file_once_while_its_size_and_time_stay(tmp_path, monkeypatch) -> None:
    folder, root = _fake_model(tmp_path / "model"), tmp_path / "cache"
    key = onnx_export.export_key(folder, root=root)
    memo = json.loads((root / "onnx" / "files.json").read_text("utf-8"))
    assert len(memo) == 2
    monkeypatch.setattr(onnx_export.hashlib, "file_digest", lambda *a: pytest.fail("a file was hashed again"))
    assert onnx_export.export_key(folder, root=root) == key


def test_an_unwritable_cache_is_said_in_one_line(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", "utf-8")
    with pytest.raises(onnx_export.ExportUnavailable, match="set RAG_CACHE_DIR to a writable folder"):
        onnx_export.exported_model(_fake_model(tmp_path / "model"), root=blocker, say=quiet)


def test_without_onnxruntime_the_onnx_setting_fails_in_one_line(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime raises ImportError
    monkeypatch.setenv("RAG_RUNTIME", "onnx")
    with pytest.raises(ModelError, match="RAG_RUNTIME is 'onnx' but onnxruntime is not installed"):
        new_embedder(DEFAULT_MODEL)
    monkeypatch.setenv("RAG_RUNTIME", "jax")
    with pytest.raises(ModelError, match="RAG_RUNTIME is 'jax'; set it to one of auto, onnx, torch"):
        new_embedder(DEFAULT_MODEL)


class Float32(HashEmbedder):
    precision = "float32"


class Bfloat16(HashEmbedder):
    precision = "bfloat16"


def test_an_index_is_never_queried_with_other_numerics(make_seeds, tmp_path) -> None:
    seeds = make_seeds(SMALL_CORPUS)
    rag.build_index(seeds, tmp_path / "index", embedder=Bfloat16(), log=quiet)
    with pytest.raises(ModelError) as err:
        rag.load_index(tmp_path / "index", embedder=Float32())
    assert str(err.value).count("\n") == 0
    assert "built with bfloat16 numerics but the embedder reads float32" in str(err.value)
    assert f"rag build --index {tmp_path / 'index'} --full" in str(err.value)
    assert rag.load_index(tmp_path / "index", embedder=Bfloat16()).answer("Why paint hives white?").quotes


# --- with the real packaged model -------------------------------------------------------------------------------


def _passages(limit: int = 80) -> list[str]:
    """Paragraphs of the development documents, an equal share from each, cut to their first 1,500 characters."""
    files = sorted(DOCS.glob("*.txt"))
    out: list[str] = []
    for path in files:
        paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", path.read_text("utf-8"))]
        out.extend([p[:1500] for p in paragraphs if len(p.split()) >= 8][: max(1, limit // len(files))])
    return out


@pytest.fixture(scope="module")
def pair():
    from rag.embed.onnx import OnnxEmbedder

    return OnnxEmbedder(), SentenceTransformerEmbedder(precision="float32")


@pytest.mark.model
def test_onnx_vectors_match_torch_float32_on_development_passages(pair) -> None:
    fast, exact = pair
    passages = _passages()
    assert len(passages) >= 60
    assert (fast.encode(passages) * exact.encode(passages)).sum(axis=1).min() >= 0.9999
    spans = [[(0, len(p))] for p in passages[:30]]
    for one, other in zip(fast.encode_spans(passages[:30], spans), exact.encode_spans(passages[:30], spans),
                          strict=True):
        assert float(one.vector @ other.vector) >= 0.9999 and float(one.spans[0] @ other.spans[0]) >= 0.9999
        assert one.tokens[0].shape == other.tokens[0].shape
        assert (one.tokens[0] * other.tokens[0]).sum(axis=1).min() >= 0.9999
    for question in ("Which option makes the shell follow the POSIX standard?", "Is it NOT free in the US?"):
        a, b = fast.encode_query(question), exact.encode_query(question)
        assert a.words == b.words and a.n_tokens == b.n_tokens
        assert float(a.vector @ b.vector) >= 0.9999 and (a.tokens * b.tokens).sum(axis=1).min() >= 0.9999


@pytest.mark.model
def test_a_second_load_uses_the_cached_export(monkeypatch) -> None:
    from rag.embed.onnx import OnnxEmbedder

    OnnxEmbedder()  # exported by now, if it was not before
    monkeypatch.setattr(onnx_export, "export", lambda *a: pytest.fail("exported again"))
    embedder = OnnxEmbedder()
    assert embedder.runtime == "onnxruntime" and embedder.encode(["a cached export"]).shape == (1, 384)


@pytest.mark.model
def test_without_onnxruntime_sentence_transformers_reads_and_says_so(monkeypatch, capsys, pair) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    monkeypatch.delenv("RAG_RUNTIME", raising=False)
    embedder = new_embedder(DEFAULT_MODEL, precision="float32")
    assert embedder.runtime == "sentence-transformers"
    said = capsys.readouterr().err
    assert "onnxruntime is not installed" in said and "reading with sentence-transformers (torch) instead" in said
    assert float(embedder.encode(["shore power"])[0] @ pair[0].encode(["shore power"])[0]) >= 0.9999


@pytest.fixture(scope="module")
def onnx_index(tmp_path_factory) -> Path:
    """SMALL_CORPUS indexed with the packaged model on ONNX Runtime, in its own seeds and index folders."""
    from conftest import write_seeds

    root = tmp_path_factory.mktemp("onnx")
    write_seeds(root / "seeds", SMALL_CORPUS)
    index = rag.build_index(root / "seeds", root / "index", log=quiet)
    assert index.embedder.runtime == "onnxruntime"  # type: ignore[attr-defined]
    return root


def _python(code: str, cwd: Path, **env: str) -> dict:
    environment = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT), **env}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=environment,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


REPORT = f"import json, sys; print(json.dumps({{'heavy': [m for m in {HEAVY!r} if m in sys.modules], 'text': out}}))"


@pytest.mark.model
def test_asking_and_searching_import_neither_torch_nor_sentence_transformers(onnx_index: Path) -> None:
    index = onnx_index / "index"
    for command in (["ask", "Why paint hives white?"], ["search", "Why paint hives white?"]):
        code = (f"import contextlib, io, rag.cli\nbuf = io.StringIO()\nwith contextlib.redirect_stdout(buf): "
                f"rag.cli.main({[*command, '--index', str(index)]!r})\nout = buf.getvalue()\n" + REPORT)
        found = _python(code, onnx_index)
        assert found["heavy"] == [] and "bees.txt" in found["text"], found
    # The library's default index (seeds/ and index/ in the current folder).
    found = _python("import rag\nout = rag.answer('Why paint hives white?').text\n" + REPORT, onnx_index)
    assert found["heavy"] == [] and "white" in found["text"], found


@pytest.mark.model
def test_serve_starts_and_answers_without_torch(onnx_index: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = ("import rag.cli, ui.server\nseen = {}\n"
            "def launch(index, **kw):\n    seen['text'] = index.answer('Why paint hives white?').text\n"
            "ui.server.launch = launch\n"
            f"rag.cli.main(['serve', '--port', '{port}', '--index', {str(onnx_index / 'index')!r}])\n"
            "out = seen['text']\n" + REPORT)
    found = _python(code, onnx_index)
    assert found["heavy"] == [] and "white" in found["text"], found


@pytest.mark.model
def test_torch_float32_and_onnx_float32_count_as_the_same_numerics(onnx_index: Path, tmp_path, pair) -> None:
    """An index built by torch in float32 is queried by ONNX Runtime (and its rows re-used by an ONNX build);
    one recorded as bfloat16 is read by sentence-transformers in bfloat16, never by the float32 ONNX session."""
    rag.build_index(onnx_index / "seeds", tmp_path / "torch", embedder=pair[1], log=quiet)
    manifest = json.loads((tmp_path / "torch" / "manifest.json").read_text("utf-8"))
    assert (manifest["precision"], manifest["runtime"]) == ("float32", "sentence-transformers")
    loaded = rag.load_index(tmp_path / "torch")
    assert loaded.embedder.runtime == "onnxruntime"  # type: ignore[attr-defined]
    assert loaded.answer("Why paint hives white?").quotes
    rebuilt = rag.build_index(onnx_index / "seeds", tmp_path / "torch", log=quiet)
    assert json.loads((tmp_path / "torch" / "manifest.json").read_text("utf-8"))["build"]["reused"] == 3
    assert rebuilt.embedder.runtime == "onnxruntime"  # type: ignore[attr-defined]
    path = tmp_path / "torch" / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text("utf-8")), "precision": "bfloat16"}), "utf-8")
    other = rag.load_index(tmp_path / "torch")
    assert (other.embedder.runtime, other.embedder.precision) == ("sentence-transformers", "bfloat16")  # type: ignore[attr-defined]
    with pytest.raises(ModelError, match="built with bfloat16 numerics but the embedder reads float32"):
        rag.load_index(tmp_path / "torch", embedder=pair[0])
    assert np.isfinite(other.embedder.encode(["hives"])).all()


@pytest.mark.model
def test_one_session_answers_many_threads_at_once(pair) -> None:
    """No lock: ONNX Runtime runs one session from many threads, and the tokenizers are only read."""
    from concurrent.futures import ThreadPoolExecutor

    fast = pair[0]
    questions = [f"Why do hives number {n} need shade in hot weather?" for n in range(24)]
    alone = [fast.encode_query(q) for q in questions]
    with ThreadPoolExecutor(max_workers=6) as pool:
        together = list(pool.map(fast.encode_query, questions))
    for one, other in zip(alone, together, strict=True):
        assert one.words == other.words and float(one.vector @ other.vector) >= 0.9999
    spans = [[(0, len(q))] for q in questions]
    with ThreadPoolExecutor(max_workers=3) as pool:
        reads = list(pool.map(lambda part: fast.encode_spans(questions[part::3], spans[part::3]), range(3)))
    assert all(len(r) == 8 for r in reads)
