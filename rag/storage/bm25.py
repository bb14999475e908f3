"""BM25 over the passages' search tokens: built a batch at a time, re-used by document, memory-mapped.

Scores are bm25s's (method "lucene", k1 1.5, b 0.75), computed the same way
and in the same precision, so they equal its `get_scores`. A passage without
any search token counts as one token, "∅", as bm25s's callers gave it.

A `LexicalWriter` keeps, per passage, the ids of its distinct tokens (in the
order they first occur) and their counts: 8 bytes per distinct token of a
passage, never lists of strings. `reuse` copies an earlier index's rows of
unchanged passages, their ids renumbered, without tokenising them again;
`save` then works out document frequencies, IDF and the score matrix with
numpy. An index folder holds plain files:

    vocab.json      the tokens, sorted; a token's id is its position
    params.json     format, k1, b, method, passages, average length
    terms.npy       int32, every passage's token ids, passage after passage
    counts.npy      int32, how often each of those occurs in its passage
    offsets.npy     int64, where each passage's ids start (passages + 1)
    data.npy        float32, the score matrix by token (CSC, as bm25s): scores,
    indices.npy     int32, the passage of each score,
    indptr.npy      int64, and where each token's scores start (tokens + 1)

Does not decide which passages change (`rag.build.builder`) nor check checksums (`rag.storage.index_folder`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.errors import IndexStateError
from rag.ingest.text import tokens

FORMAT = "rag-lexical v1"
K1, B, METHOD = 1.5, 0.75, "lucene"  # bm25s's defaults
EMPTY = "\u2205"  # the token of a passage without any
ARRAYS = {"terms": np.int32, "counts": np.int32, "offsets": np.int64, "data": np.float32, "indices": np.int32,
          "indptr": np.int64}
BLOCK = 1 << 18  # scores computed this many at a time, so float64 temporaries stay small


def idf(frequency: np.ndarray | int, passages: int) -> np.ndarray:
    """Lucene's IDF of tokens found in `frequency` of `passages` passages (float64; bm25s keeps it as float32)."""
    frequency = np.asarray(frequency, dtype=np.float64)
    return np.log(1.0 + (passages - frequency + 0.5) / (frequency + 0.5))


def saturation(counts: np.ndarray, lengths: np.ndarray, average: float) -> np.ndarray:
    """BM25's term-frequency part for `counts` of a token in passages of `lengths` tokens (float64)."""
    norm = K1 * ((1 - B) + B * lengths.astype(np.float64) / np.float64(average))
    tf = counts.astype(np.float64)
    return tf / (norm + tf)


class Damaged(IndexStateError):
    """A saved BM25 index whose ids point outside its arrays (a checksum samples large files; this is found in use)."""

    def __init__(self, what: str):
        self.what = what
        super().__init__(f"The index's BM25 arrays are damaged ({what}); rebuild it with `rag build --full`.")


class Lexical:
    """A saved BM25 index, its arrays memory-mapped."""

    def __init__(self, words: list[str], arrays: dict[str, np.ndarray], average: float):
        self.words = words
        self.vocab = {w: i for i, w in enumerate(words)}
        self.terms, self.counts, self.offsets = arrays["terms"], arrays["counts"], arrays["offsets"]
        self.data, self.indices, self.indptr = arrays["data"], arrays["indices"], arrays["indptr"]
        self.passages = len(self.offsets) - 1
        self.average = average

    def frequency(self, word: str) -> int:
        """In how many passages `word` (a search token) occurs."""
        i = self.vocab.get(word)
        return 0 if i is None else int(self.indptr[i + 1] - self.indptr[i])

    def frequencies(self) -> dict[str, int]:
        """In how many passages each search token occurs (the stand-in of empty passages left out)."""
        counts = dict(zip(self.words, np.diff(self.indptr).tolist(), strict=True))
        counts.pop(EMPTY, None)
        return counts

    def scores(self, question: str) -> np.ndarray:
        """Each passage's BM25 score for the question's search tokens (a repeated token counts again)."""
        out = np.zeros(self.passages, dtype=np.float32)
        for word in tokens(question):
            i = self.vocab.get(word)
            if i is not None:
                start, end = int(self.indptr[i]), int(self.indptr[i + 1])
                try:
                    out[self.indices[start:end]] += self.data[start:end]  # a token's passages are distinct
                except (IndexError, ValueError):
                    raise Damaged(f"a passage number of {word!r} is out of range") from None
        return out


class LexicalWriter:
    """Passages' token ids and counts, added in index order, then saved as a `Lexical` index."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}  # ids in order of arrival; `save` renumbers them in sorted order
        self.terms: list[np.ndarray] = []
        self.counts: list[np.ndarray] = []
        self.sizes: list[np.ndarray] = []  # distinct tokens per passage
        self.renumbered: dict[int, tuple[Lexical, np.ndarray]] = {}  # old index -> its ids in `vocab`
        self.passages = 0

    def add(self, search_texts: Sequence[str]) -> None:
        """New passages, in index order, tokenised here."""
        vocab = self.vocab
        terms: list[int] = []
        counts: list[int] = []
        sizes: list[int] = []
        for text in search_texts:
            tally = Counter(tokens(text) or [EMPTY])
            terms.extend(vocab.setdefault(w, len(vocab)) for w in tally)
            counts.extend(tally.values())
            sizes.append(len(tally))
        self._append(np.array(terms, np.int32), np.array(counts, np.int32), np.array(sizes, np.int64))

    def reuse(self, old: Lexical, start: int, end: int) -> None:
        """Passages [start, end) of an earlier index, after those added before, not tokenised again."""
        if id(old) not in self.renumbered:
            vocab = self.vocab
            ids = np.array([vocab.setdefault(w, len(vocab)) for w in old.words], dtype=np.int32)
            self.renumbered[id(old)] = (old, ids)  # `old` kept so its id stays its own
        ids = self.renumbered[id(old)][1]
        first, last = int(old.offsets[start]), int(old.offsets[end])
        terms = old.terms[first:last]
        if not 0 <= first <= last <= len(old.terms) or (terms.size and not 0 <= int(terms.min()) <= int(terms.max())
                                                        < len(ids)):
            raise Damaged(f"passages {start}-{end} hold token ids out of range")
        self._append(ids[terms], np.array(old.counts[first:last], np.int32),
                     np.diff(old.offsets[start : end + 1]).astype(np.int64))

    def _append(self, terms: np.ndarray, counts: np.ndarray, sizes: np.ndarray) -> None:
        self.terms.append(terms)
        self.counts.append(counts)
        self.sizes.append(sizes)
        self.passages += len(sizes)

    def save(self, folder: str | Path) -> None:
        """Writes the index files into `folder` (made if missing)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        terms, counts, sizes = (_joined(pieces, kind) for pieces, kind in
                                ((self.terms, np.int32), (self.counts, np.int32), (self.sizes, np.int64)))
        # Only tokens some passage holds, sorted: the same passages give the same files however they came.
        words = list(self.vocab)
        frequency = np.bincount(terms, minlength=len(words))
        kept = sorted(np.flatnonzero(frequency).tolist(), key=words.__getitem__)
        renumber = np.full(len(words), -1, dtype=np.int32)
        renumber[kept] = np.arange(len(kept), dtype=np.int32)
        np.take(renumber, terms, out=terms)
        frequency = frequency[kept]
        offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        lengths = _sums(counts, offsets)  # tokens per passage, repeats included
        average = float(lengths.mean()) if len(lengths) else 0.0
        weights = idf(frequency, len(sizes)).astype(np.float32)
        order = _stable_order(terms)
        passage = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
        indices = passage[order]
        del passage
        data = np.empty(len(order), dtype=np.float32)
        for s in range(0, len(order), BLOCK):
            rows = order[s : s + BLOCK]
            part = weights[terms[rows]] * saturation(counts[rows], lengths[indices[s : s + BLOCK]], average)
            data[s : s + BLOCK] = part  # float64 products rounded to float32, as bm25s stores them
        del order
        indptr = np.zeros(len(kept) + 1, dtype=np.int64)
        np.cumsum(frequency, out=indptr[1:])
        arrays = {"terms": terms, "counts": counts, "offsets": offsets, "data": data, "indices": indices,
                  "indptr": indptr}
        for name, array in arrays.items():
            np.save(folder / f"{name}.npy", array, allow_pickle=False)
        (folder / "vocab.json").write_text(json.dumps([words[i] for i in kept], ensure_ascii=False), "utf-8")
        params = {"format": FORMAT, "k1": K1, "b": B, "method": METHOD, "passages": len(sizes),
                  "average_length": average}
        (folder / "params.json").write_text(json.dumps(params, indent=2) + "\n", "utf-8")


def _joined(pieces: list[np.ndarray], kind: type) -> np.ndarray:
    """The pieces as one array, the list left holding it alone (so the pieces are freed)."""
    joined = np.concatenate(pieces) if pieces else np.zeros(0, kind)
    pieces[:] = [joined]
    return joined


def _sums(counts: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The sum of `counts` in each slice [offsets[i], offsets[i + 1]), without a cumulative array as long as `counts`."""
    filled = np.diff(offsets) > 0
    out = np.zeros(len(filled), dtype=np.int64)
    if filled.any():  # each non-empty slice runs to the next one's start (empty ones between start there too)
        out[filled] = np.add.reduceat(counts, offsets[:-1][filled], dtype=np.int64)
    return out


def _stable_order(terms: np.ndarray) -> np.ndarray:
    """The positions of `terms` sorted by value, ties kept in order: two linear radix passes of 16 bits."""
    order = np.argsort((terms & 0xFFFF).astype(np.uint16), kind="stable")
    high = (terms[order] >> 16).astype(np.uint16)
    if high.any():
        order = order[np.argsort(high, kind="stable")]
    return order


def load(folder: str | Path) -> Lexical:
    """The index saved in `folder`, its arrays memory-mapped; IndexStateError when a file is missing or damaged."""
    folder = Path(folder)
    redo = "rebuild the index with `rag build`"
    try:
        params = json.loads((folder / "params.json").read_text("utf-8"))
        words = json.loads((folder / "vocab.json").read_text("utf-8"))
        arrays = {name: _array(folder / f"{name}.npy") for name in ARRAYS}
    except (OSError, ValueError, EOFError) as err:
        raise IndexStateError(f"BM25 index {folder} could not be read ({type(err).__name__}: {err}); {redo}.") from None
    if not isinstance(params, dict) or params.get("format") != FORMAT or not isinstance(words, list):
        raise IndexStateError(f"BM25 index {folder} is not in format {FORMAT!r}; {redo}.")
    wrong = [n for n, kind in ARRAYS.items() if arrays[n].ndim != 1 or arrays[n].dtype != kind]
    terms, offsets, indptr = arrays["terms"], arrays["offsets"], arrays["indptr"]
    if wrong or not (len(offsets) == params.get("passages", -1) + 1 and len(indptr) == len(words) + 1
                     and offsets[0] == 0 and offsets[-1] == len(terms) == len(arrays["counts"])
                     and indptr[0] == 0 and indptr[-1] == len(arrays["data"]) == len(arrays["indices"])):
        raise IndexStateError(f"BM25 index {folder} has arrays that do not fit together "
                              f"({', '.join(wrong) or 'their lengths'}); {redo}.")
    return Lexical([str(w) for w in words], arrays, float(params["average_length"]))


def _array(path: Path) -> np.ndarray:
    """A .npy file memory-mapped, as a plain array viewing the map (slicing an `np.memmap` costs more);
    read whole when empty, since an empty file region cannot be mapped."""
    try:
        return np.asarray(np.load(path, mmap_mode="r", allow_pickle=False))
    except ValueError:
        return np.load(path, allow_pickle=False)
