"""Model read rate: the texts a build reads, through the embedder a build uses and through plain float32.

Collects the texts a real build reads (each passage with its label, each
sentence, each distinct context) from about N passages of /usr/share/doc
prose (bench/corpus.py), then times, in the same process:
- the floor: `SentenceTransformer.encode` in float32 over all of them (its defaults);
- the embedder a build uses (`rag.embed.new_embedder`), precision "auto",
  reading passages with `encode` and the rest with `encode_spans` as `rag.vectors` does;
- the same embedder forced to float32 (what the batching alone gives).
Prints texts/s, ratios to the floor and the cosine of the adopted vectors to the
floor's; asserts nothing.

Run: `python bench/bench_embed.py [--passages N]` (`make bench` runs it with the default).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from rag.embed import HashEmbedder  # noqa: E402


class Recorder(HashEmbedder):
    """A model-free embedder that keeps the texts a build asks it to read."""

    def __init__(self) -> None:
        super().__init__(384, "hash-embedder:384")
        self.passages: list[str] = []
        self.spans: list[str] = []
        self._inner = False

    def encode(self, texts: list[str], **kwargs) -> np.ndarray:  # type: ignore[override]
        if not self._inner:
            self.passages.extend(texts)
        return super().encode(texts, **kwargs)

    def encode_spans(self, texts, spans, **kwargs):  # type: ignore[no-untyped-def]
        self.spans.extend(texts)
        self._inner = True
        try:
            return super().encode_spans(texts, spans, **kwargs)
        finally:
            self._inner = False


def build_texts(passages: int) -> tuple[list[str], list[str]]:
    """The passage texts and the sentence and context texts a build of about `passages` passages reads."""
    from corpus import real_corpus

    import rag

    recorder = Recorder()
    with tempfile.TemporaryDirectory() as tmp:
        real_corpus(Path(tmp) / "docs", passages)
        rag.build_index(Path(tmp) / "docs", Path(tmp) / "index", model=recorder.name, embedder=recorder,
                        log=lambda _line: None)
    return recorder.passages, recorder.spans


def read(embedder, passages: list[str], spans: list[str]) -> tuple[float, np.ndarray, np.ndarray]:
    from rag.embed import BATCH

    started = time.perf_counter()
    vectors = embedder.encode(passages, batch_size=BATCH)
    encoded = embedder.encode_spans(spans, [[(0, len(t))] for t in spans])
    seconds = time.perf_counter() - started
    return seconds, vectors, np.array([e.vector for e in encoded])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=500, help="passages of real text whose reads are timed")
    args = parser.parse_args(argv)
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    from rag.embed import SentenceTransformerEmbedder, packaged_model_path

    passages, spans = build_texts(args.passages)
    texts = len(passages) + len(spans)
    print(f"  {len(passages)} passages and {len(spans)} sentences and contexts: {texts} texts")
    plain = SentenceTransformer(str(packaged_model_path()), device="cpu")
    adopted = SentenceTransformerEmbedder()
    fp32 = SentenceTransformerEmbedder(precision="float32")
    for model in (plain, adopted, fp32):  # warm up
        (model.encode(["warm up"]) if model is plain else model.encode_query("warm up"))
    started = time.perf_counter()
    floor_vectors = plain.encode(passages + spans, normalize_embeddings=True)
    floor = time.perf_counter() - started
    print(f"  floor, SentenceTransformer.encode float32: {texts / floor:.1f} texts/s")
    for name, embedder in ((f"build's embedder ({adopted.precision})", adopted), ("build's embedder (float32)", fp32)):
        seconds, vectors, sentence_vectors = read(embedder, passages, spans)
        cosines = np.concatenate([(vectors * floor_vectors[: len(passages)]).sum(1),
                                  (sentence_vectors * floor_vectors[len(passages):]).sum(1)])
        print(f"  {name}: {texts / seconds:.1f} texts/s ({floor / seconds:.2f}x the floor); cosine to the floor's "
              f"vectors min {cosines.min():.5f}, mean {cosines.mean():.6f}")


if __name__ == "__main__":
    main()
