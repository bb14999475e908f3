"""Training the answer checker: reproducible, held out by document, and what it writes loads back.

Runs the real procedure on a small slice of the recorded pairs (the packaged model's
lower layers, the top layers trained on CPU) so it fits in CI time.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rag.checker.model import Checker, load_weights
from rag.training import run
from rag.training.checker import folds, frozen_states, score, train
from rag.training.pairs import mined_pairs, read_pairs

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def slice_states():
    pairs = run._first(read_pairs(run.GOLD_PAIRS), 6)[:48]
    return pairs, frozen_states(pairs)


def test_the_same_pairs_give_the_same_weights(slice_states):
    _, states = slice_states
    rows = list(range(len(states.labels)))
    one, two = train(states, rows, epochs=1).state(), train(states, rows, epochs=1).state()
    assert one.keys() == two.keys()
    assert all(torch.equal(one[k], two[k]) for k in one)
    untrained = train(states, rows, epochs=0).state()
    assert not all(torch.equal(one[k], untrained[k]) for k in one)  # training moved the weights


def test_the_weights_file_scores_as_the_trained_layers_did(slice_states, tmp_path):
    pairs, states = slice_states
    rows = list(range(len(pairs)))
    top = train(states, rows, epochs=1)
    from rag.training.checker import save

    save(top, tmp_path / "c.npz", trained_on=["x"], pairs=len(pairs), figures={})
    state, meta = load_weights(tmp_path / "c.npz")
    checker = Checker(tmp_path / "c.npz", state, meta)
    direct = score(top, states, rows)
    loaded = np.concatenate([checker.score(p.question, [p.text]) for p in pairs])
    assert np.abs(direct - loaded).max() < 0.05  # int8 rows and float16 states: close, not equal
    assert np.corrcoef(direct, loaded)[0, 1] > 0.99


def test_every_fold_checker_is_trained_without_its_documents(tmp_path, capsys):
    assert run.main(["--per-document", "4", "--out", str(tmp_path), "--cache", str(tmp_path / "cache")]) == 0
    gold_docs = sorted({p.doc for p in read_pairs(run.GOLD_PAIRS)})
    mined_docs = {p.doc for p in mined_pairs()}
    groups = folds(gold_docs)
    assert sorted(d for g in groups for d in g) == gold_docs and len(groups) >= 3
    for n, held in enumerate(groups, start=1):
        _, meta = load_weights(tmp_path / f"fold-{n}.npz")
        assert not set(held) & set(meta["trained_on"])
        assert set(meta["trained_on"]) == (set(gold_docs) | mined_docs) - set(held)
        assert set(meta["figures"]) == set(held)
    _, shipped = load_weights(tmp_path / "checker.npz")
    assert set(shipped["trained_on"]) == set(gold_docs) | mined_docs
    assert "held out, mean over documents" in capsys.readouterr().err
