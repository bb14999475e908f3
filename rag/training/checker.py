"""Train the answer checker (`rag.checker`) on CPU, held out by document.

The packaged MiniLM's lower layers stay as they are, so each pair is run
through them once (`frozen_states`) and only the top `TRAINED` layers and a
linear head are trained on those states (`train`). Folds hold whole
documents out (`FOLDS` groups of the development documents); each fold's
checker scores the documents it never saw, and the shipped checker is
trained on every document. Mined FAQ pairs (`rag.training.pairs`) are in
every fold's training data: no gold set scores them.

Fixed seeds; the same pairs give the same weights on the same machine.
Does not build the pairs or score answers: `rag.training.pairs` and
`rag eval` do.
"""

from __future__ import annotations

import copy
import hashlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.checker.model import MAX_TOKENS, TRAINED, logits, save_weights
from rag.embed.model import packaged_model_path
from rag.training.pairs import Pair

SEED = 0
EPOCHS = 1
BATCH = 32
LR_LAYERS = 4e-5
LR_HEAD = 2e-3
FOLDS = 3


@dataclass
class States:
    """Each pair's hidden states entering the first trained layer (float16), and its label."""

    hidden: list[Any]  # torch tensors [tokens, hidden]
    labels: np.ndarray


def _base() -> tuple[Any, Any]:
    from transformers import AutoTokenizer, BertModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    path = packaged_model_path()
    return AutoTokenizer.from_pretrained(path), BertModel.from_pretrained(path, add_pooling_layer=False)


def frozen_states(pairs: Sequence[Pair], *, cache: Path | None = None, batch: int = 64,
                  progress: Callable[[str], None] | None = None) -> States:
    """Run every pair through the packaged model's frozen layers once (remembered in `cache` by content)."""
    import torch

    key = hashlib.sha256("\n".join(f"{p.question}\t{p.text}" for p in pairs).encode()).hexdigest()[:16]
    stored = cache / f"states-{key}.pt" if cache else None
    labels = np.array([p.label for p in pairs], dtype=np.float32)
    if stored is not None and stored.is_file():
        return States(torch.load(stored), labels)
    tokenizer, model = _base()
    model.eval()
    frozen = model.config.num_hidden_layers - TRAINED
    hidden: list[Any] = []
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i].question) + len(pairs[i].text))
    out: dict[int, Any] = {}
    started = time.time()
    with torch.inference_mode():
        for n in range(0, len(order), batch):
            rows = order[n : n + batch]
            enc = tokenizer([pairs[i].question for i in rows], [pairs[i].text for i in rows],
                            truncation="only_second", max_length=MAX_TOKENS, padding=True, return_tensors="pt")
            states = model(**enc, output_hidden_states=True).hidden_states[frozen]
            for j, i in enumerate(rows):
                length = int(enc["attention_mask"][j].sum())
                out[i] = states[j, :length].to(torch.float16).clone()
            if progress and (n // batch) % 20 == 0:
                progress(f"frozen layers: {n + len(rows)}/{len(pairs)} pairs, {time.time() - started:.0f} s")
    hidden = [out[i] for i in range(len(pairs))]
    if stored is not None:
        stored.parent.mkdir(parents=True, exist_ok=True)
        torch.save(hidden, stored)
    return States(hidden, labels)


class Top:
    """The trained part: the top layers (copied from the packaged model) and the head."""

    def __init__(self, model: Any) -> None:
        import torch

        torch.manual_seed(SEED)
        frozen = model.config.num_hidden_layers - TRAINED
        self.first = frozen
        self.config = model.config
        self.layers = copy.deepcopy(model.encoder.layer[frozen:])
        self.head = torch.nn.Linear(model.config.hidden_size, 1)
        torch.nn.init.normal_(self.head.weight, std=0.02)
        torch.nn.init.zeros_(self.head.bias)

    def __call__(self, hidden: Any, mask: Any) -> Any:
        from transformers.masking_utils import create_bidirectional_mask

        extended = create_bidirectional_mask(config=self.config, inputs_embeds=hidden, attention_mask=mask)
        for layer in self.layers:
            hidden = layer(hidden, extended)
        return logits(hidden, mask, self.head)

    def train(self, on: bool) -> None:
        self.layers.train(on)

    def state(self) -> dict[str, Any]:
        state = {f"encoder.layer.{self.first + n}.{k}": v for n, layer in enumerate(self.layers)
                 for k, v in layer.state_dict().items()}
        state.update({f"head.{k}": v for k, v in self.head.state_dict().items()})
        return state


def _batches(states: States, rows: Sequence[int], rng: random.Random | None) -> list[list[int]]:
    """Batches of similar length (less padding): shuffled in pools when training, in order when scoring."""
    rows = list(rows)
    if rng is not None:
        rng.shuffle(rows)
    out: list[list[int]] = []
    pool = 50 * BATCH
    for n in range(0, len(rows), pool):
        chunk = sorted(rows[n : n + pool], key=lambda i: states.hidden[i].shape[0])
        out += [chunk[m : m + BATCH] for m in range(0, len(chunk), BATCH)]
    if rng is not None:
        rng.shuffle(out)
    return out


def _stack(states: States, rows: Sequence[int]) -> tuple[Any, Any]:
    import torch

    longest = max(states.hidden[i].shape[0] for i in rows)
    width = states.hidden[rows[0]].shape[1]
    hidden = torch.zeros(len(rows), longest, width)
    mask = torch.zeros(len(rows), longest, dtype=torch.long)
    for j, i in enumerate(rows):
        length = states.hidden[i].shape[0]
        hidden[j, :length] = states.hidden[i].float()
        mask[j, :length] = 1
    return hidden, mask


def train(states: States, rows: Sequence[int], *, epochs: int = EPOCHS,
          progress: Callable[[str], None] | None = None) -> Top:
    """The top layers and head trained on `rows` of `states` (fixed seed)."""
    import torch

    torch.manual_seed(SEED)
    _, model = _base()
    top = Top(model)
    labels = torch.from_numpy(states.labels)
    positives = float(states.labels[list(rows)].sum())
    weight = torch.tensor(min(4.0, (len(rows) - positives) / max(positives, 1.0)))
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=weight)
    optimiser = torch.optim.AdamW([{"params": top.layers.parameters(), "lr": LR_LAYERS},
                                   {"params": top.head.parameters(), "lr": LR_HEAD}], weight_decay=0.01)
    rng = random.Random(SEED)
    plan = [b for _ in range(epochs) for b in _batches(states, rows, rng)]
    warmup = min(50, max(1, len(plan) // 4))  # steps of rising learning rate: 50 unless the plan is short
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: min(1.0, (step + 1) / warmup) *
                                                 max(0.0, 1 - step / max(1, len(plan))))
    top.train(True)
    started, total = time.time(), 0.0
    for step, batch in enumerate(plan):
        hidden, mask = _stack(states, batch)
        loss = loss_fn(top(hidden, mask), labels[batch])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        total += float(loss.detach())
        if progress and (step + 1) % 50 == 0:
            progress(f"step {step + 1}/{len(plan)}, loss {total / 50:.3f}, {time.time() - started:.0f} s")
            total = 0.0
    top.train(False)
    return top


def score(top: Top, states: States, rows: Sequence[int]) -> np.ndarray:
    """The trained checker's logit for each of `rows`."""
    import torch

    out = np.zeros(len(states.labels), dtype=np.float64)
    with torch.inference_mode():
        for batch in _batches(states, rows, None):
            hidden, mask = _stack(states, batch)
            out[batch] = top(hidden, mask).numpy()
    return out[list(rows)]


def folds(documents: Sequence[str], n: int = FOLDS) -> list[list[str]]:
    """The development documents in `n` fixed groups (sorted names dealt in turn)."""
    names = sorted(documents)
    return [names[i::n] for i in range(n) if names[i::n]]


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (ties count half)."""
    pos, neg = scores[labels > 0.5], scores[labels <= 0.5]
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def save(top: Top, path: Path, *, trained_on: Sequence[str], pairs: int, figures: dict[str, Any]) -> None:
    meta = {"trained_on": sorted(trained_on), "pairs": pairs, "layers_trained": TRAINED, "epochs": EPOCHS,
            "seed": SEED, "figures": figures}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_weights(path, top.state(), meta)
