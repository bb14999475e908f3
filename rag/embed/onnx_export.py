"""The packaged model exported once to ONNX, in a cache keyed by the model's files and the exporter.

`exported_model(folder)` gives the path of `model.onnx` for a sentence-transformers
model folder, exporting it first when the cache has none: the transformer alone
(token ids, attention mask and token types in; the last hidden state out), traced
with `torch.onnx.export` from the folder's own weights, then fused once by ONNX
Runtime (attention, layer norm, GELU) so a session opens without optimising it again.
Pooling and normalisation stay in NumPy (`rag.embed.onnx`).

The cache lives in $RAG_CACHE_DIR, else $XDG_CACHE_HOME/rag, else ~/.cache/rag,
under `onnx/KEY/`. KEY hashes `RECIPE` (this exporter's version: bump it when the
graph it writes changes), the torch and onnxruntime versions and the content of
every file of the model folder, so an edited model or another exporter never
reads an old graph. A file's content hash is remembered against its size and
modification time (`onnx/files.json`), so opening a model hashes its 90 MB of
weights once, not at every start. Exports are written to a folder of their own
and renamed into place: two processes exporting at once leave one complete export.

Run `python -m rag.embed.onnx_export` to export the packaged model ahead of first use
(`make venv` does). Does not run the model (`rag.embed.onnx`); never writes into
the model folder, the seeds or an index folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from rag.errors import ModelError

RECIPE = "rag-onnx v1: BertModel eager attention, opset 17, last_hidden_state, ORT extended fusions, external weights"
MODEL_FILE = "model.onnx"
WEIGHTS_FILE = "model.data"  # the weights beside the graph: ONNX Runtime maps them instead of parsing and copying
INFO_FILE = "export.json"
OPSET = 17


class ExportUnavailable(ModelError):
    """The ONNX export cannot be made here (a package missing, the cache not writable)."""


def cache_root() -> Path:
    """Where rag keeps what it makes once per machine: $RAG_CACHE_DIR, $XDG_CACHE_HOME/rag or ~/.cache/rag."""
    if os.environ.get("RAG_CACHE_DIR"):
        return Path(os.environ["RAG_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "rag"


def version_of(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def file_hashes(folder: Path, memo_path: Path) -> dict[str, str]:
    """sha256 of every file under `folder` (relative path -> hex), re-hashing only files whose size or mtime
    changed since `memo_path` last recorded them."""
    try:
        memo = json.loads(memo_path.read_text("utf-8"))
        memo = memo if isinstance(memo, dict) else {}
    except (OSError, ValueError):
        memo = {}
    out: dict[str, str] = {}
    changed = False
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        key = str(path.resolve())
        seen = memo.get(key)
        stamp = [stat.st_size, stat.st_mtime_ns]
        if isinstance(seen, list) and len(seen) == 3 and seen[:2] == stamp:
            digest = seen[2]
        else:
            with open(path, "rb") as handle:
                digest = hashlib.file_digest(handle, "sha256").hexdigest()
            memo[key] = [*stamp, digest]
            changed = True
        out[path.relative_to(folder).as_posix()] = digest
    if changed:
        with contextlib.suppress(OSError):  # a read-only cache only costs the hashing next time
            memo_path.parent.mkdir(parents=True, exist_ok=True)
            _write_atomic(memo_path, json.dumps(memo, indent=0))
    return out


def export_key(folder: Path, *, root: Path | None = None) -> str:
    """The cache key of `folder`'s export: the recipe, the exporter's versions and the model files' content."""
    root = root or cache_root()
    files = file_hashes(folder, root / "onnx" / "files.json")
    parts = {"recipe": RECIPE, "torch": version_of("torch"), "onnxruntime": version_of("onnxruntime"),
             "files": files}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


def exported_model(folder: Path, *, root: Path | None = None, say=None) -> Path:
    """The ONNX graph of the model in `folder`, exported into the cache first if it is not there yet."""
    root = root or cache_root()
    target = root / "onnx" / export_key(folder, root=root)
    if all((target / name).is_file() for name in (MODEL_FILE, WEIGHTS_FILE, INFO_FILE)):
        return target / MODEL_FILE
    (say or _stderr)(f"rag: exporting the embedding model to ONNX once (about half a minute), into {target}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
        work.chmod(0o755)  # as any folder the user makes, not mkdtemp's owner-only mode
    except OSError as err:
        raise ExportUnavailable(f"cannot write the ONNX cache {target.parent} ({err.strerror or err}); set "
                                "RAG_CACHE_DIR to a writable folder") from None
    try:
        export(folder, work)
        try:
            work.rename(target)
        except OSError:  # another process finished the same export first: its copy is as good
            if not (target / MODEL_FILE).is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target / MODEL_FILE


def export(folder: Path, out: Path) -> None:
    """Trace the transformer of `folder` into `out/model.onnx` (weights in `out/model.data`), fused by ONNX
    Runtime and checked against torch on a sample, with `out/export.json` saying how it was made."""
    try:
        import onnx  # torch's exporter needs it: fail here with a clear line, not deep in torch
        import onnxruntime as ort
        import torch
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging
    except ImportError as err:
        raise ExportUnavailable(f"exporting to ONNX needs {err.name} (pip install onnx onnxruntime torch "
                                "transformers)") from None
    hf_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(folder), attn_implementation="eager").eval()

    class LastHidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = (torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]]),
              torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]]), torch.zeros((2, 4), dtype=torch.long))
    traced = out / "traced.onnx"
    with torch.no_grad():
        # A new module is in training mode, which the exporter restores after tracing: eval() keeps dropout off.
        torch.onnx.export(LastHidden(model).eval(), sample, str(traced), input_names=names, output_names=["hidden"],
                          dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]},
                          opset_version=OPSET, dynamo=False)
    options = ort.SessionOptions()
    # Extended fusions use ONNX Runtime's CPU operators only, so the file suits any CPU this runtime runs on.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(out / MODEL_FILE)
    options.add_session_config_entry("session.optimized_model_external_initializers_file_name", WEIGHTS_FILE)
    options.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
    ort.InferenceSession(str(traced), options, providers=["CPUExecutionProvider"])
    traced.unlink()
    session = ort.InferenceSession(str(out / MODEL_FILE), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected = model.eval()(*sample).last_hidden_state.numpy()
    got = session.run(None, {n: t.numpy() for n, t in zip(names, sample, strict=True)})[0]
    worst = float(np.abs(got - expected)[sample[1].numpy().astype(bool)].max())
    if worst > 1e-3:
        raise ModelError(f"the ONNX export of {folder} differs from torch by {worst:.2g} on a sample; run with "
                         "RAG_RUNTIME=torch")
    info = {"recipe": RECIPE, "model_folder": str(folder), "torch": torch.__version__, "onnx": onnx.__version__,
            "onnxruntime": ort.__version__, "opset": OPSET}
    (out / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", "utf-8")


def _write_atomic(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text(text, "utf-8")
    os.replace(temp, path)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main() -> int:
    """Export the packaged model now (the install step runs this), and say where it is."""
    from rag.embed.model import packaged_model_path

    try:
        path = exported_model(packaged_model_path())
    except ModelError as err:
        print(f"rag: error: {err}", file=sys.stderr)
        return 1
    print(f"ONNX model ready: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
