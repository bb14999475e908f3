"""The checker's weights file, the text it reads, and which checker scores a document held out."""

from __future__ import annotations

import pytest
import torch

from rag.checker.model import held_out_path, load_weights, quote_text, save_weights
from rag.errors import ModelError


def test_weights_round_trip_as_int8_rows_within_a_scale_step(tmp_path):
    torch.manual_seed(0)
    state = {"encoder.layer.5.output.dense.weight": torch.randn(8, 16), "encoder.layer.5.output.dense.bias": torch.randn(8),
             "head.weight": torch.randn(1, 16), "head.bias": torch.zeros(1)}
    save_weights(tmp_path / "c.npz", state, {"trained_on": ["a"], "pairs": 3})
    back, meta = load_weights(tmp_path / "c.npz")
    assert meta == {"trained_on": ["a"], "pairs": 3}
    assert set(back) == set(state)
    for name, value in state.items():
        if value.ndim == 2:
            step = value.abs().max(dim=1, keepdim=True).values / 127
            assert bool(((back[name] - value).abs() <= step / 2 + 1e-7).all())
        else:
            assert torch.equal(back[name], value)  # vectors are kept exactly
    assert not list(tmp_path.glob("*.tmp*"))


def _checker(path, trained_on):
    save_weights(path, {"head.weight": torch.zeros(1, 4), "head.bias": torch.zeros(1)}, {"trained_on": trained_on})


def test_a_document_is_scored_by_a_checker_that_never_saw_it(tmp_path):
    _checker(tmp_path / "checker.npz", ["apt", "bash", "faq"])
    _checker(tmp_path / "fold-1.npz", ["bash", "faq"])
    _checker(tmp_path / "fold-2.npz", ["apt", "faq"])
    assert held_out_path("apt", tmp_path).name == "fold-1.npz"
    assert held_out_path("bash", tmp_path).name == "fold-2.npz"
    assert held_out_path("gpl-3", tmp_path).name == "checker.npz"  # in no training set: the shipped one
    with pytest.raises(ModelError, match="trained on 'faq'"):
        held_out_path("faq", tmp_path)


def test_a_missing_weights_file_says_how_to_make_one(tmp_path):
    with pytest.raises(ModelError, match="make train-checker"):
        load_weights(tmp_path / "none.npz")


def test_the_checker_reads_the_section_then_the_quote_with_whitespace_collapsed():
    assert quote_text("Shore  Power", "Ships at\n berth\tstop.") == "Shore Power: Ships at berth stop."
    assert quote_text(None, " a\nb ") == "a b"
