"""Upload an index into Milvus: `rag build --store milvus://…` builds a folder index, then writes it here.

Each upload writes a new pair of collections, NAME_<generation> (the
passages: dense vector, BM25 over code words of their search tokens, record
and payload; see `rag.stores.milvus`) and NAME_<generation>_docs (the
manifest, document frequencies and every document's text, pages and
sha256), then points the alias NAME at it and drops the pair it replaces.
Servers answering from NAME keep answering from the old pair while the
upload runs and move to the new one when the old is gone (a failed upload
removes its own pair and leaves NAME as it was). The pair of an upload
killed before it could (SIGKILL, a power cut) is dropped by the next upload:
see `remove_leftovers` for how a collection is shown to be an upload's. A
store uploaded before aliases (a collection called NAME) is dropped first, once.

Does not ingest or embed: `build_index` does, into a temporary folder. Does
not drop a collection it cannot show an upload made, nor any an alias points at.
"""

from __future__ import annotations

import json
import re
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from rag.errors import IndexStateError
from rag.ingest.text import tokens
from rag.storage.bm25 import EMPTY, K1, B
from rag.stores.folder import FileStore
from rag.stores.milvus_schema import PIECE, code_words, collection_of, connect, first_line, packed, pieces

BATCH = 128  # passages per insert
MARK = "rag.upload"  # a collection property: the name of the upload's pair, set as the collection is made
PASSAGE_FIELDS = ["id", "source", "context", "search", "sparse", "vector", "record", "payload"]
DOC_FIELDS = ["key", "vector", "blob"]
CAPACITY = 4096  # VARCHAR pieces per field: up to 61 MB of text per document


def upload(store: FileStore, uri: str, *, log: Callable[[str], None] | None = None) -> None:
    """Write the index folder `store` holds into the Milvus store `uri` (replacing what it held)."""
    from pymilvus.exceptions import MilvusException

    say = log or (lambda line: print(line, file=sys.stderr))
    client, alias = connect(uri)
    name = f"{alias}_{time.strftime('%Y%m%d%H%M%S')}_{uuid.uuid4().hex[:6]}"
    try:
        remove_leftovers(client, alias, say)
        try:
            _write(client, name, store, uri, say)
        except BaseException:
            for collection in (name, name + "_docs"):
                if client.has_collection(collection):
                    client.drop_collection(collection)
            raise
        _swap(client, alias, name, say)
    except MilvusException as err:
        raise IndexStateError(f"Milvus could not store the index in {uri} ({first_line(err)}); "
                              f"{_way_out(uri)}") from None


def _write(client: Any, name: str, store: FileStore, uri: str, say: Callable[[str], None]) -> None:
    """Collections `name` and `name`_docs, made and filled with what `store` holds."""
    width, chunks = store.manifest.dimension, store.chunks
    frequencies = store.document_frequency
    codes = {w: n for n, w in enumerate(sorted(frequencies))}
    lengths = [len(tokens(c.search_text) or [EMPTY]) for c in chunks]
    _create(client, name, width)
    paragraphs = _paragraphs(chunks)
    offsets, first = store.token_offsets, store.sentence_offsets
    rows: list[dict[str, Any]] = []
    for i, chunk in enumerate(chunks):
        lo, hi = paragraphs[i]
        s, n = int(first[i]), len(chunk.sentences)
        start = int(offsets[s - 1]) if lo < i else int(offsets[s])  # the sentence before, in the same paragraph
        end = int(offsets[s + n])
        context = int(store.context_of[i])
        c0, c1 = int(offsets[context]), int(offsets[context + 1])
        record = {"id": chunk.passage.id, "text": chunk.passage.text, "citation": asdict(chunk.passage.citation),
                  "sentences": [list(p) for p in chunk.sentences], "search_text": chunk.search_text,
                  "terms": tokens(chunk.search_text) or [EMPTY],
                  "para": [lo, hi], "prev": int(offsets[s]) - start,
                  "tokens": (offsets[s : s + n + 1] - offsets[s]).tolist(), "ctx": c1 - c0}
        values, scales = store.token_vectors.values, store.token_vectors.scales
        payload = [np.asarray(store.sentence_vectors[s : s + n], np.float32), values[start:end],
                   np.asarray(scales[start:end], np.float32), values[c0:c1], np.asarray(scales[c0:c1], np.float32)]
        rows.append({"id": i, "source": chunk.passage.citation.source, "context": context,
                     "search": _clip(code_words(tokens(chunk.search_text), codes)),
                     "vector": np.asarray(store.passage_vectors[i], np.float32).tolist(),
                     "record": pieces(json.dumps(record)), "payload": packed(payload)})
        if len(rows) == BATCH or i == len(chunks) - 1:
            client.insert(name, rows)
            rows = []
            say(f"uploaded {i + 1:,} of {len(chunks):,} passages to {uri}")
    meta = {"manifest": asdict(store.manifest), "passages": len(chunks),
            "average_length": float(np.mean(lengths)) if lengths else 1.0, "sources": store.sources}
    docs: list[dict[str, Any]] = [{"key": "manifest", "blob": pieces(json.dumps(meta))},
            {"key": "frequencies", "blob": pieces(json.dumps(frequencies))}]
    for source in store.sources:
        extracted = store.documents.extracted.get(source)
        record = {"kind": extracted["kind"] if extracted else "text", "text": store.text_of(source),
                  "pages": list(extracted["pages"]) if extracted else [], "sha256": store.manifest.sources[source]}
        docs.append({"key": "doc:" + source, "blob": pieces(json.dumps(record))})
    for doc in docs:
        if len(doc["blob"]) > CAPACITY:
            raise ValueError(f"{doc['key']} is too large for one Milvus row ({len(doc['blob'])} pieces)")
        doc["vector"] = [0.0, 0.0]
        client.insert(name + "_docs", [doc])
    client.flush(name)
    client.flush(name + "_docs")
    for collection in (name, name + "_docs"):
        client.load_collection(collection)
    say(f"stored {len(chunks):,} passages from {len(store.sources)} documents in {uri}")


def _swap(client: Any, alias: str, name: str, say: Callable[[str], None]) -> None:
    """Point `alias` at collection `name`, then drop the collections it pointed at before."""
    old = collection_of(client, alias)
    if old == alias:  # no alias yet: a store uploaded before aliases may hold the name itself
        for collection in (alias, alias + "_docs"):
            if client.has_collection(collection):
                client.drop_collection(collection)
                say(f"dropped collection {collection} (an earlier upload's layout) to make {alias} an alias")
        client.create_alias(name, alias)
        return
    client.alter_alias(name, alias)
    for collection in (old, old + "_docs"):
        try:  # dropped without describing it first: a damaged collection cannot be described
            client.drop_collection(collection)
        except Exception as err:  # noqa: BLE001 - the new pair answers; the old one is only left over
            say(f"could not drop collection {collection}, which {alias} pointed at before ({first_line(err)}); "
                "it stays in the store, and the next build tries again if it can still describe it")


def remove_leftovers(client: Any, alias: str, say: Callable[[str], None]) -> None:
    """Drop the collections earlier uploads to `alias` made and left behind (a build killed half-way).

    A collection is one of those only if its name is an upload's,
    ALIAS_<14 digits>_<6 hex digits> or that with _docs, and it carries the
    property MARK naming its pair (set when it was made). A collection made
    by an upload before MARK existed is one if it has an upload's name and
    exactly an upload's fields. Any collection an alias points at, and its
    _docs, is kept; so is every collection that cannot be described.
    """
    pattern = re.compile(re.escape(alias) + r"_\d{14}_[0-9a-f]{6}")
    try:
        kept = {str(client.describe_alias(other)["collection_name"]) for other in client.list_aliases()["aliases"]}
        collections = client.list_collections()
    except Exception as err:  # noqa: BLE001 - nothing is dropped unless every alias is known
        say(f"kept any collections earlier uploads to {alias} left: cannot list them ({first_line(err)})")
        return
    for collection in collections:
        pair = collection.removesuffix("_docs")
        if not pattern.fullmatch(pair) or pair in kept:
            continue
        try:
            described = client.describe_collection(collection)
        except Exception:  # noqa: BLE001 - what cannot be read cannot be shown to be an upload's
            continue
        fields = [f["name"] for f in described.get("fields", [])]
        marked = (described.get("properties") or {}).get(MARK)
        if marked == pair or (marked is None and fields == (DOC_FIELDS if pair != collection else PASSAGE_FIELDS)):
            client.drop_collection(collection)
            say(f"dropped collection {collection}, left by an upload to {alias} that did not finish")


def _way_out(uri: str) -> str:
    if uri.startswith("milvus-lite:"):
        return (f"if the milvus-lite store is damaged, move {uri[len('milvus-lite:'):].rpartition('/')[0]} aside "
                f"and run `rag build --store {uri}` again.")
    return "check that the server is running and has room, then build again."


def _create(client: Any, name: str, width: int) -> None:
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("source", DataType.VARCHAR, max_length=4096)
    schema.add_field("context", DataType.INT64)
    schema.add_field("search", DataType.VARCHAR, max_length=65535, enable_analyzer=True,
                     analyzer_params={"tokenizer": "standard"})
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=width)
    for field in ("record", "payload"):
        schema.add_field(field, DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=CAPACITY,
                         max_length=4 * PIECE)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["search"],
                                 output_field_names=["sparse"]))
    index = client.prepare_index_params()
    index.add_index("vector", index_type="FLAT", metric_type="IP")
    index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                    params={"bm25_k1": K1, "bm25_b": B})
    client.create_collection(name, schema=schema, index_params=index, properties={MARK: name})
    docs = client.create_schema(auto_id=False)
    docs.add_field("key", DataType.VARCHAR, is_primary=True, max_length=4200)
    docs.add_field("vector", DataType.FLOAT_VECTOR, dim=2)
    docs.add_field("blob", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=CAPACITY,
                   max_length=4 * PIECE)
    doc_index = client.prepare_index_params()
    doc_index.add_index("vector", index_type="FLAT", metric_type="L2")
    client.create_collection(name + "_docs", schema=docs, index_params=doc_index,
                             properties={MARK: name})


def _paragraphs(chunks: Sequence[Any]) -> list[tuple[int, int]]:
    """The first and last position of each passage's paragraph (consecutive passages of one paragraph)."""
    out: list[tuple[int, int]] = []
    lo = 0
    for i in range(len(chunks) + 1):
        if i == len(chunks) or (i > 0 and _key(chunks[i]) != _key(chunks[i - 1])):
            out += [(lo, i - 1)] * (i - lo)
            lo = i
    return out


def _key(chunk: Any) -> tuple[str, int]:
    return chunk.passage.citation.source, chunk.passage.citation.paragraph


def _clip(text: str, limit: int = 65_000) -> str:
    """At most `limit` bytes, cut at a space (the search field's size)."""
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0]
