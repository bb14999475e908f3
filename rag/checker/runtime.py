"""The checker's model run on torch: the packaged model with the checker's trained layers over it.

The runner returns the last layer's hidden states and the mask for a batch
of (question, quote) pairs; the head is applied by `rag.checker.model`.

Does not train, and writes nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rag.embed.model import packaged_model_path
from rag.errors import ModelError


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


class TorchRunner:
    """The packaged model with the checker's layers, on torch."""

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
