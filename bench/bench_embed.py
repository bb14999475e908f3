"""Model read rate: the texts a build reads, through the embedder a build uses and through plain float32.

Collects the texts a real build reads (each passage with its label, each
sentence, each distinct context) from about N passages of /usr/share/doc
prose (bench/corpus.py), then times, in the same process:
- the floor: `SentenceTransformer.encode` in float32 over all of them (its defaults);
- the embedder a build uses (`rag.embed.runtime.new_embedder`: ONNX Runtime for the packaged
  model, `rag.embed.runtime`), reading passages with `encode` and the rest with
  `encode_spans` as `rag.build.vectors` does;
- sentence-transformers in float32 read the same way (what the batching alone gives).
`--rounds N` cuts the texts into N slices, each read by every contender in turn, so
a load that comes and goes weighs on all alike; but bfloat16 then read far slower
(4 rounds, load average 1.2: 0.72x the floor against 1.82x in one round; the
cause, perhaps oneDNN's set-up for each new tensor shape, is not measured), so
the default is one round. Prints
texts/s, ratios to the floor and the cosine of the build's vectors to the
floor's; asserts nothing.

Run: `python bench/bench_embed.py [--passages N] [--rounds N]` (`make bench` runs it with the default).
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

from rag.embed.model import HashEmbedder  # noqa: E402


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


def read(embedder, passages: list[str], spans: list[str]) -> tuple[float, np.ndarray]:
    """Seconds to read `passages` as `rag.build.vectors` does (`encode`) and `spans` (`encode_spans`); their vectors."""
    from rag.embed.model import BATCH

    started = time.perf_counter()
    vectors = embedder.encode(passages, batch_size=BATCH)
    encoded = embedder.encode_spans(spans, [[(0, len(t))] for t in spans])
    seconds = time.perf_counter() - started
    return seconds, np.concatenate([vectors, np.array([e.vector for e in encoded]).reshape(-1, vectors.shape[1])])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=500, help="passages of real text whose reads are timed")
    parser.add_argument("--rounds", type=int, default=1, help="slices the texts are cut into; each is read by "
                        "every contender in turn, so a load that comes and goes weighs on all of them alike")
    args = parser.parse_args(argv)
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    from rag.embed.model import SentenceTransformerEmbedder, packaged_model_path
    from rag.embed.runtime import new_embedder

    passages, spans = build_texts(args.passages)
    print(f"  {len(passages)} passages and {len(spans)} sentences and contexts: {len(passages) + len(spans)} texts, "
          f"read in {args.rounds} rounds (uptime: {os.getloadavg()[0]:.2f} load average at the start)")
    plain = SentenceTransformer(str(packaged_model_path()), device="cpu")
    adopted = new_embedder()
    fp32 = SentenceTransformerEmbedder(precision="float32")
    plain.encode(["warm up"])
    names = {"adopted": f"build's embedder ({getattr(adopted, 'runtime', '?')}, {getattr(adopted, 'precision', '?')})",
             "fp32": "sentence-transformers (float32)"}
    seconds = {"floor": 0.0, "adopted": 0.0, "fp32": 0.0}
    cosines = []
    for n in range(args.rounds):
        part_p, part_s = passages[n :: args.rounds], spans[n :: args.rounds]
        started = time.perf_counter()
        floor = plain.encode(part_p + part_s, normalize_embeddings=True)
        seconds["floor"] += time.perf_counter() - started
        for key, embedder in (("adopted", adopted), ("fp32", fp32)):
            took, vectors = read(embedder, part_p, part_s)
            seconds[key] += took
            if key == "adopted":
                cosines.append((vectors * floor).sum(axis=1))
    texts = len(passages) + len(spans)
    print(f"  floor, SentenceTransformer.encode float32: {texts / seconds['floor']:.1f} texts/s")
    for key, name in names.items():
        print(f"  {name}: {texts / seconds[key]:.1f} texts/s ({seconds['floor'] / seconds[key]:.2f}x the floor)")
    every = np.concatenate(cosines)
    print(f"  cosine of the build's vectors to the floor's: min {every.min():.5f}, mean {every.mean():.6f} "
          f"(load average at the end {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
