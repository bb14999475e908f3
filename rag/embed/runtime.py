"""Which runtime reads a model: ONNX Runtime for the packaged model, sentence-transformers otherwise.

The packaged all-MiniLM-L6-v2 runs on ONNX Runtime in float32 (`rag.embed.onnx`):
it starts in a fraction of the time torch takes to import and holds a fraction
of the memory. sentence-transformers (torch) reads it instead when RAG_RUNTIME
is "torch", when bfloat16 numerics are asked for (RAG_PRECISION, or an index
built with them), or when ONNX Runtime cannot run here (a package missing, no
writable cache for the one-time export); in the last case a line on stderr
says so. Any other model (`--model NAME_OR_PATH`) runs on sentence-transformers.

Numerics: ONNX Runtime's float32 vectors and torch's float32 vectors agree to
a cosine of 0.9999 or better (tests/test_onnx_path.py), so both record
"float32" in an index's manifest and either may query the other's index or
re-use its rows; bfloat16 is recorded apart and never mixed with them.
Does not load index folders (`rag.service.loading`).
"""

from __future__ import annotations

import functools
import os
import sys

from rag.embed.model import (
    DEFAULT_MODEL,
    HASH_MODEL,
    Embedder,
    HashEmbedder,
    SentenceTransformerEmbedder,
    precision_setting,
)
from rag.errors import ModelError

RUNTIMES = ("auto", "onnx", "torch")
_said: set[str] = set()


def chosen_runtime() -> str:
    """The RAG_RUNTIME setting: "auto" (ONNX Runtime for the packaged model where it can), "onnx" or "torch"."""
    setting = os.environ.get("RAG_RUNTIME", "auto").strip().lower() or "auto"
    if setting not in RUNTIMES:
        raise ModelError(f"RAG_RUNTIME is {setting!r}; set it to one of {', '.join(RUNTIMES)} (or unset it).")
    return setting


def model_embedder(name: str = DEFAULT_MODEL, *, precision: str | None = None) -> Embedder:
    """A new embedder for model `name` with `precision` ("float32", "bfloat16"; default RAG_PRECISION)."""
    setting = precision_setting(precision)
    runtime = chosen_runtime()
    if name == DEFAULT_MODEL and setting != "bfloat16" and runtime != "torch":
        from rag.embed.onnx import OnnxEmbedder, OnnxUnavailable

        try:
            return OnnxEmbedder()
        except OnnxUnavailable as err:
            if runtime == "onnx":
                raise ModelError(f"RAG_RUNTIME is 'onnx' but {err}; fix that, or unset RAG_RUNTIME.") from None
            say_once(f"rag: {err}; reading with sentence-transformers (torch) instead, which starts slower.")
    return SentenceTransformerEmbedder(name, precision=setting)


def settled_precision(name: str, precision: str | None) -> str:
    """The precision setting `model_embedder` would act on, "auto" decided where that needs no model: the
    packaged model on ONNX Runtime reads float32 whether asked for "auto" or "float32" (one shared instance)."""
    setting = precision_setting(precision)
    if setting == "auto" and name == DEFAULT_MODEL and chosen_runtime() != "torch":
        return "float32"
    return setting


def same_numerics(built: str | None, reading: str | None) -> bool:
    """Whether vectors made with numerics `built` may be compared with vectors read with `reading`.

    None is an index or embedder that does not say (the hash embedder, indexes older than the setting).
    """
    return built is None or reading is None or built == reading


def say_once(line: str) -> None:
    """Print `line` on stderr, once per process."""
    if line not in _said:
        _said.add(line)
        print(line, file=sys.stderr, flush=True)


def load_embedder(name: str = DEFAULT_MODEL, *, precision: str | None = None) -> Embedder:
    """The embedder for `name` (and `precision`, see `new_embedder`), loaded once per process."""
    if name == HASH_MODEL or name.startswith(HASH_MODEL + ":"):
        return _shared(name, None)
    return _shared(name, settled_precision(name, precision))


@functools.cache
def _shared(name: str, precision: str | None) -> Embedder:
    return new_embedder(name, precision=precision)


def new_embedder(name: str = DEFAULT_MODEL, *, precision: str | None = None) -> Embedder:
    """A model instance of `name` of its own (each call loads one; `load_embedder` shares one).

    `precision` ("float32" or "bfloat16"; default: the RAG_PRECISION setting) is the numerics asked for,
    say an index's. Which runtime reads the model: `rag.embed.runtime`.
    """
    if name == HASH_MODEL or name.startswith(HASH_MODEL + ":"):
        dim = int(name.split(":", 1)[1]) if ":" in name else 64
        return HashEmbedder(dim, name)
    return model_embedder(name, precision=precision)


__all__ = ["RUNTIMES", "chosen_runtime", "load_embedder", "model_embedder", "new_embedder", "same_numerics", "say_once",
           "settled_precision"]
