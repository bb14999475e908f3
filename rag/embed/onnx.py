"""The packaged model on ONNX Runtime: the same vectors as sentence-transformers, without torch.

Tokenises with the `tokenizers` library from the model folder's own
tokenizer.json (its stored padding and 128-token cut are turned off; texts are
cut at the model's 256 tokens as sentence-transformers cuts them), runs the
exported transformer (`rag.embed.onnx_export`), then pools by the mean of the
attention-masked token outputs and normalises, as the model's Pooling and
Normalize modules do. Query token rows are chosen by `rag.embed.model.query_vectors`,
span rows by `rag.embed.passes`, exactly as for the torch path.

One session serves every thread: ONNX Runtime runs one session from many
threads at once, and the tokenizers here are configured once and only read,
so no lock is taken. Intra-op threads: the CPUs this process may run on.
Dynamic int8 quantisation of the graph is not offered: its vectors kept a mean
cosine of only 0.95 to float32's on the development documents (token rows 0.78
at worst), for about a tenth more speed.

Does not export (`rag.embed.onnx_export`), and does not choose when it is used (`rag.embed.runtime`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rag.embed.model import BATCH, DEFAULT_MODEL, QueryVectors, packaged_model_path, query_vectors, unit_rows
from rag.embed.passes import Encoded, Span, forward_passes
from rag.errors import ModelError

# Texts per run: on two cores, batches of 8 read about a fifth more texts per CPU-second than 16 and
# 16 more than 32 or 64 (smaller activations stay in cache; texts are sorted by length, so padding is small).
READ_BATCH = 8


class OnnxUnavailable(ModelError):
    """ONNX Runtime cannot read the model here; the caller may fall back to sentence-transformers."""


def cpu_threads() -> int:
    """The CPUs this process may run on (its affinity where the system tells it), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class OnnxEmbedder:
    """all-MiniLM-L6-v2 (the packaged weights) on ONNX Runtime; vectors L2-normalised float32."""

    runtime = "onnxruntime"
    precision = "float32"  # the same numerics as torch's float32, within a cosine of 0.9999 (rag.embed.runtime)

    def __init__(self, name: str = DEFAULT_MODEL, *, folder: Path | None = None, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as err:
            raise OnnxUnavailable(f"{err.name} is not installed (pip install onnxruntime tokenizers)") from None
        from rag.embed.onnx_export import ExportUnavailable, exported_model

        self.name = name
        folder = folder or packaged_model_path()
        try:
            path = exported_model(folder)
        except ExportUnavailable as err:
            raise OnnxUnavailable(str(err)) from None
        config = json.loads((folder / "config.json").read_text("utf-8"))
        self.dimension = int(config["hidden_size"])
        st_config = folder / "sentence_bert_config.json"
        limit = json.loads(st_config.read_text("utf-8")).get("max_seq_length") if st_config.is_file() else None
        self.max_tokens = int(min(limit or 512, config.get("max_position_embeddings", 512)))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or cpu_threads()
        options.inter_op_num_threads = 1
        # Idle pool threads sleep instead of spinning: on cores shared with other work (the web app, a rebuild,
        # other processes) spinning burned about a third more CPU for the same texts.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # The file holds the graph already fused (rag.embed.onnx_export): optimising it again only costs start-up time.
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # noqa: BLE001 - a damaged cache file or an unreadable graph mean the same
            raise OnnxUnavailable(f"ONNX Runtime cannot open {path} ({str(err).splitlines()[0][:160]}); delete "
                                  "that folder to export again") from None
        self._whole = Tokenizer.from_file(str(folder / "tokenizer.json"))  # questions, never cut
        self._whole.no_padding()
        self._whole.no_truncation()
        self._cut = Tokenizer.from_file(str(folder / "tokenizer.json"))  # what the model reads
        self._cut.no_padding()
        self._cut.enable_truncation(self.max_tokens)
        self._special = {i for i, token in self._cut.get_added_tokens_decoder().items() if token.special}
        self._inputs = {i.name for i in self._session.get_inputs()}

    def _run(self, encodings: list[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Token outputs (b, t, d), pooled vectors (b, d, not normalised) and the mask (b, t) of a batch."""
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), np.int64)
        mask = np.zeros((len(encodings), width), np.int64)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
        hidden = np.asarray(hidden, dtype=np.float32)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return hidden, pooled, mask.astype(bool)

    def _read(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """A `rag.embed.passes.Reader`: token outputs, pooled vectors, mask and characters of each token."""
        encodings = self._cut.encode_batch(texts)
        hidden, pooled, mask = self._run(encodings)
        offsets = np.zeros((*mask.shape, 2), np.int64)
        for row, e in enumerate(encodings):
            offsets[row, : len(e.offsets)] = e.offsets
        return hidden, pooled, mask, offsets

    def encode(self, texts: list[str], *, batch_size: int = BATCH, progress: bool = False) -> np.ndarray:
        """Texts' vectors, read in batches of similar token counts (least padding), `READ_BATCH` at most."""
        batch_size = max(1, min(batch_size, READ_BATCH))
        out = np.zeros((len(texts), self.dimension), np.float32)
        if not texts:
            return out
        encodings = self._cut.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        bar = _bar(len(texts), progress)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            out[batch] = unit_rows(self._run([encodings[i] for i in batch])[1])
            if bar:
                bar.update(len(batch))
        if bar:
            bar.close()
        return out

    def encode_spans(self, texts: list[str], spans: list[list[Span]], *,
                     on_batch: Callable[[int], None] | None = None) -> list[Encoded]:
        return forward_passes(self._read, texts, spans, max_tokens=self.max_tokens, batch_size=READ_BATCH,
                              on_batch=on_batch)

    def encode_query(self, text: str) -> QueryVectors:
        """One read gives the sentence vector and the token vectors (rows chosen as for the torch path)."""
        read = self._cut.encode(text)
        hidden, pooled, _ = self._run([read])
        return query_vectors(text, read.ids, hidden[0], pooled[0], self._whole.encode(text), self._special)


def _bar(total: int, shown: bool) -> Any:
    if not shown:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="Batches", unit="text")


__all__ = ["OnnxEmbedder", "OnnxUnavailable", "cpu_threads"]
