"""Load the answer checker and score candidate quotes with it.

The checker is the packaged all-MiniLM-L6-v2 (a 6-layer BERT) read as a
cross-encoder: the question and a candidate quote go in together, and a
linear head on the mean of the last layer gives one logit for "this quote
answers the question". Only the top `TRAINED` layers and the head were
trained (`rag.training.checker`); the rest are the packaged weights, so a
weights file holds just those layers, stored as int8 rows with one scale
each (`save_weights` / `load_weights`).

Does not choose quotes or decide abstention: `rag.answers.pipeline` reads
its scores. Imports torch only when a checker is loaded.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ModelError

TRAINED = 2  # top encoder layers the checker trains; the ones below stay the packaged weights
MAX_TOKENS = 128  # question and quote together, in word pieces
WEIGHTS_DIR = Path(__file__).with_name("weights")
SHIPPED = WEIGHTS_DIR / "checker.npz"
CACHE_SIZE = 50_000  # (question, quote) scores each checker remembers: a held-out eval asks each pair many times
_LOCK = threading.Lock()
_LOADED: dict[Path, Checker] = {}


def quote_text(section: str | None, text: str) -> str:
    """What the checker reads of a candidate: the section title, then the quote, whitespace collapsed."""
    body = " ".join(text.split())
    return f"{' '.join(section.split())}: {body}" if section else body


class Checker:
    """A loaded checker. `score(question, texts)` gives one logit per text (higher: answers it)."""

    def __init__(self, path: Path, state: dict[str, Any], meta: dict[str, Any]) -> None:
        from rag.checker.runtime import TorchRunner

        self.path = path
        self.meta = meta
        self.trained_on: list[str] = list(meta.get("trained_on", []))
        self._weight = state["head.weight"].numpy().reshape(-1).astype(np.float64)
        self._bias = float(state["head.bias"].numpy().reshape(-1)[0])
        self._run = TorchRunner(state, MAX_TOKENS)
        self._cache: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()

    def score(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """One logit per text, remembered for the last `CACHE_SIZE` pairs."""
        with self._lock:
            todo = [t for t in dict.fromkeys(texts) if (question, t) not in self._cache]
            if todo:
                hidden, mask = self._run(question, todo)
                weights = mask[:, :, None].astype(np.float64)
                pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
                for text, value in zip(todo, pooled @ self._weight + self._bias, strict=True):
                    self._cache[(question, text)] = float(value)
                while len(self._cache) > CACHE_SIZE:
                    self._cache.popitem(last=False)
            return np.array([self._cache[(question, t)] for t in texts], dtype=np.float64)


def logits(hidden: Any, mask: Any, head: Any) -> Any:
    """The head on the masked mean of the last layer: one logit per row (shared with training)."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
    return head(pooled).squeeze(-1)


def save_weights(path: Path, state: dict[str, Any], meta: dict[str, Any]) -> None:
    """Write the trained layers as int8 rows with a float32 scale per row, plus `meta` as JSON."""
    arrays: dict[str, np.ndarray] = {"__meta__": np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8)}
    for name, tensor in state.items():
        value = tensor.detach().float().numpy()
        if value.ndim == 2:
            scale = np.abs(value).max(axis=1, keepdims=True) / 127.0
            scale[scale == 0] = 1.0
            arrays[f"{name}::q"] = np.round(value / scale).astype(np.int8)
            arrays[f"{name}::s"] = scale.astype(np.float32)
        else:
            arrays[name] = value.astype(np.float32)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)  # type: ignore[arg-type]
    os.replace(tmp, path)


def load_weights(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The state dict (float32 tensors) and the meta a `save_weights` file holds."""
    import torch

    if not path.is_file():
        raise ModelError(f"No answer checker at {path}; train one with `make train-checker`.")
    with np.load(path) as data:
        meta = json.loads(bytes(data["__meta__"]).decode())
        state: dict[str, Any] = {}
        for key in data.files:
            if key.endswith("::q"):
                name = key[:-3]
                state[name] = torch.from_numpy(data[key].astype(np.float32) * data[f"{name}::s"])
            elif not key.endswith("::s") and key != "__meta__":
                state[key] = torch.from_numpy(data[key])
    return state, meta


def load(path: Path = SHIPPED) -> Checker:
    """The checker in `path`, loaded once per process."""
    path = Path(path).resolve()
    with _LOCK:
        if path not in _LOADED:
            state, meta = load_weights(path)
            _LOADED[path] = Checker(path, state, meta)
        return _LOADED[path]


def for_document(name: str, directory: Path = WEIGHTS_DIR) -> Checker:
    """A checker that never saw the document `name` in training (`held_out_path`), loaded."""
    return load(held_out_path(name, directory))


def held_out_path(name: str, directory: Path = WEIGHTS_DIR) -> Path:
    """The weights of a checker never trained on the document `name`: the shipped one if it was not,
    else the fold checker trained without it (`rag eval` scores every document this way)."""
    for path in [directory / SHIPPED.name, *sorted(directory.glob("fold-*.npz"))]:
        if path.is_file() and name not in _meta(path).get("trained_on", []):
            return path
    raise ModelError(f"Every answer checker in {directory} was trained on {name!r}; none can score it held out.")


def _meta(path: Path) -> dict[str, Any]:
    with np.load(path) as data:
        return dict(json.loads(bytes(data["__meta__"]).decode()))

