"""Stores: where an index lives and how a question's candidates come out of it.

One protocol (`Store`, in `base`) and one module per backend: `files` (an
index folder: FAISS, bm25s, memory-mapped arrays) and `milvus` (a Milvus
collection, or a milvus-lite file; `milvus_build` uploads an index into it).
Backends are imported only when used: `rag.open_store(uri)` picks one.
"""

from __future__ import annotations

from rag.stores.protocol import Candidates, Store, empty_candidates

__all__ = ["Candidates", "Store", "empty_candidates"]
