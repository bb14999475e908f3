"""The checker's model run: ONNX Runtime from a graph exported once, else torch.

The merged model (packaged weights with the checker's trained layers) is
written once into the cache, `$RAG_CACHE_DIR` or `~/.cache/rag`, under
`checker/KEY/` (KEY hashes the weights file), and exported to ONNX there by
`rag.embed.onnx_export`, which keys its own export by those files. Both
runners return the last layer's hidden states and the mask for a batch of
(question, quote) pairs; the head is applied by `rag.checker.model`.

Does not train, and never writes beside the weights file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from rag.embed.model import packaged_model_path
from rag.errors import ModelError


def merged_folder(weights: Path, state: dict[str, Any]) -> Path:
    """A model folder holding the packaged model with the checker's layers, made once per weights file."""
    from rag.embed.onnx_export import cache_root

    key = hashlib.sha256(weights.read_bytes()).hexdigest()[:24]
    target = cache_root() / "checker" / key
    if (target / "model.safetensors").is_file():
        return target
    model = torch_model(state)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".merge-", dir=target.parent))
    try:
        model.save_pretrained(work)
        shutil.copy(packaged_model_path() / "tokenizer.json", work / "tokenizer.json")
        try:
            os.rename(work, target)
        except OSError:  # another process made the same folder first
            if not (target / "model.safetensors").is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def torch_model(state: dict[str, Any]) -> Any:
    """The packaged BertModel with the checker's layers loaded over it."""
    from transformers import BertModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    model = BertModel.from_pretrained(packaged_model_path(), add_pooling_layer=False)
    loaded = model.load_state_dict({k: v for k, v in state.items() if not k.startswith("head.")}, strict=False)
    if loaded.unexpected_keys:
        raise ModelError(f"the checker's weights hold parts the model lacks ({loaded.unexpected_keys[0]}); "
                         "retrain it with `make train-checker`.")
    return model.eval()


class OnnxRunner:
    """The merged model on ONNX Runtime, read by `tokenizers`: needs no torch once exported."""

    def __init__(self, folder: Path, max_tokens: int, threads: int = 1) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from rag.embed.onnx_export import exported_model

        path = exported_model(folder, say=lambda _line: None)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # fused when exported
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_tokens, strategy="only_second")
        self._inputs = {i.name for i in self._session.get_inputs()}

    def __call__(self, question: str, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        encodings = self._tokenizer.encode_batch([(question, t) for t in texts])
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), np.int64)
        types = np.zeros_like(ids)
        mask = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
            types[row, : len(e.ids)] = e.type_ids
            mask[row, : len(e.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        hidden = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
        return np.asarray(hidden, dtype=np.float32), mask


class TorchRunner:
    """The merged model on torch (the fallback, and what training checks against)."""

    def __init__(self, state: dict[str, Any], max_tokens: int) -> None:
        from transformers import AutoTokenizer

        self._model = torch_model(state)
        self._tokenizer = AutoTokenizer.from_pretrained(packaged_model_path())
        self._max = max_tokens

    def __call__(self, question: str, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        import torch

        batch = self._tokenizer([question] * len(texts), texts, truncation="only_second", max_length=self._max,
                                padding=True, return_tensors="pt")
        with torch.inference_mode():
            hidden = self._model(**batch).last_hidden_state
        return hidden.numpy(), batch["attention_mask"].numpy()
