"""Load an index folder, refusing a stale one, or (re)build it when that is wanted.

`load_index` reads an index back and checks it is neither stale nor built
for another model: the caller named that folder and must decide. `open_index`
is for the default index and `rag eval --seeds`: a missing, damaged, stale or
other-model index is rebuilt (announced on stderr). Does not read files
itself: see `rag.storage.index_folder`.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import rag.storage.index_folder as store
from rag.answers.index import DEFAULT_FUSION, Index
from rag.build.builder import write_index
from rag.embed.model import DEFAULT_MODEL, Embedder
from rag.embed.runtime import load_embedder, same_numerics
from rag.errors import IndexStateError, ModelError, StaleIndexError
from rag.ingest.chunk import MAX_WORDS
from rag.readers.seedfiles import fingerprint
from rag.storage.lock import index_path
from rag.stores.folder import FileStore


def build_index(seeds_dir: str | Path, index_dir: str | Path, *, model: str = DEFAULT_MODEL,
                max_words: int = MAX_WORDS, embedder: Embedder | None = None, progress: bool = False,
                verbose: bool = False, log: Callable[[str], None] | None = None,
                on_progress: Callable[[str, int, int], None] | None = None, reuse: bool = True) -> Index:
    """Ingest `seeds_dir`, embed it, write an index to `index_dir` (`rag.build.builder.write_index`), and load it.

    Skipped files are reported one line each (and, with `verbose`, each
    document's title, sections and dropped lines) through `log`, a callable
    taking one line; by default they go to stderr. `on_progress(stage, done,
    total)`, if given, hears each stage start ("reading", "embedding", "writing").
    `reuse=False` embeds every document even when the folder's index could lend its rows.
    """
    stored, used = write_index(seeds_dir, index_dir, model=model, max_words=max_words, embedder=embedder,
                               progress=progress, verbose=verbose, log=log, on_progress=on_progress, reuse=reuse)
    return Index(FileStore(stored, Path(index_dir)), used, Path(index_dir))


def load_index(index_dir: str | Path, *, model: str | None = None, embedder: Embedder | None = None,
               check_sources: bool = True, fusion: str = DEFAULT_FUSION) -> Index:
    """Load an index folder; refuse a stale one or one built for another model."""
    target = Path(index_dir)
    manifest = store.Manifest.read(target)
    if model is not None and model != manifest.model:
        raise ModelError(f"Index {target} was built with model {manifest.model!r}, not {model!r}; run "
                         f"`rag build --index {target} --model {model}` to rebuild it with that model.")
    if check_sources:
        changed = stale_sources(manifest)
        if changed:
            raise StaleIndexError(
                f"Index {target} is stale: {changed} changed in {manifest.seeds_dir} since it was built; run "
                f"`rag build --seeds {manifest.seeds_dir} --index {target}`."
            )
    embedder = embedder or load_embedder(manifest.model, precision=built_precision(target))
    if embedder.dimension != manifest.dimension:
        raise ModelError(f"Model {embedder.name!r} gives {embedder.dimension}-dimensional vectors but index "
                         f"{target} holds {manifest.dimension}; rebuild with `rag build --index {target}`.")
    check_numerics(embedder, built_precision(target), target)
    return Index(FileStore(store.read(target), target), embedder, target, fusion=fusion)


def built_precision(target: Path) -> str | None:
    """The numerics the index in `target` was built with ("float32", "bfloat16"), or None if it does not say."""
    recorded = store.raw_manifest(target).get("precision")
    return recorded if recorded in ("float32", "bfloat16") else None


def check_numerics(embedder: Embedder, built: str | None, target: Path) -> None:
    """Refuse to query an index with other numerics than it was built with (`rag.embed.runtime.same_numerics`)."""
    reading = getattr(embedder, "precision", None)
    if not same_numerics(built, reading):
        raise ModelError(f"Index {target} was built with {built} numerics but the embedder reads {reading}; load it "
                         f"without passing an embedder, or rebuild it with `rag build --index {target} --full`.")


def is_remote(location: str | Path) -> bool:
    """Whether `location` names a Milvus store (milvus://…, milvus-lite:…) rather than an index folder."""
    return isinstance(location, str) and location.split(":", 1)[0] in ("milvus", "milvus-lite") and ":" in location


def open_store(location: str | Path, *, model: str | None = None, embedder: Embedder | None = None,
               fusion: str = DEFAULT_FUSION) -> Index:
    """An `Index` answering from `location`: an index folder (as `load_index`), or a Milvus store
    (`milvus://HOST:PORT/COLLECTION`, `milvus-lite:PATH.db/COLLECTION`; see `rag.stores.milvus`)."""
    if not is_remote(location):
        return load_index(location, model=model, embedder=embedder, fusion=fusion)
    from rag.stores.milvus import MilvusStore

    found = MilvusStore(str(location))
    manifest = found.manifest
    if model is not None and model != manifest.model:
        raise ModelError(f"The index in {location} was built with model {manifest.model!r}, not {model!r}; run "
                         f"`rag build --store {location} --model {model}` to rebuild it with that model.")
    embedder = embedder or load_embedder(manifest.model)
    if embedder.dimension != manifest.dimension:
        raise ModelError(f"Model {embedder.name!r} gives {embedder.dimension}-dimensional vectors but the index in "
                         f"{location} holds {manifest.dimension}; rebuild it with `rag build --store {location}`.")
    return Index(found, embedder, fusion=fusion)


def stale_sources(manifest: store.Manifest) -> str:
    """A short description of what changed in the seeds, or "" if nothing did (or they are gone)."""
    seeds = Path(manifest.seeds_dir)
    if not seeds.is_dir():
        return ""
    now = fingerprint(seeds)
    old = manifest.sources
    parts = [f"{p} (new)" for p in sorted(set(now) - set(old))]
    parts += [f"{p} (removed)" for p in sorted(set(old) - set(now))]
    parts += [f"{p} (edited)" for p in sorted(set(now) & set(old)) if now[p] != old[p]]
    return ", ".join(parts)


def open_index(seeds_dir: str | Path, index_dir: str | Path, *, model: str | None = None,
               progress: bool = True) -> Index:
    """Load the index for `seeds_dir`, building or rebuilding it first when needed.

    Used for the default index and by the CLI: a missing or damaged index,
    changed seeds or another model lead to a rebuild (announced on stderr),
    never to serving a stale index or to an error the user must act on.
    """
    seeds, target = Path(seeds_dir), index_path(index_dir)
    raw = store.raw_manifest(target)
    damage = ""
    try:
        manifest = store.Manifest.read(target)
    except IndexStateError as err:
        manifest, damage = None, str(err)
    reason = ""
    if manifest is None:
        if raw.get("format") and raw["format"] != store.FORMAT:
            reason = f"it has the older format {raw['format']!r}"
        else:
            reason = f"it is damaged: {damage}" if (target / store.MANIFEST).exists() else "no index yet"
    elif Path(manifest.seeds_dir).resolve() != seeds.resolve():
        reason = f"it was built from {manifest.seeds_dir}"
    elif model is not None and model != manifest.model:
        reason = f"it was built with model {manifest.model!r}"
    elif changed := stale_sources(manifest):
        reason = f"the seeds changed: {changed}"
    if reason or manifest is None:
        print(f"Building index {target} from {seeds} ({reason})…", file=sys.stderr)
        # Keep the model the index was built with unless another one was asked for.
        built_with = raw.get("model") if isinstance(raw.get("model"), str) else None
        return build_index(seeds, target, model=model or built_with or DEFAULT_MODEL, progress=progress)
    try:
        return load_index(target, check_sources=False)
    except IndexStateError as err:  # a data file damaged or altered since the build
        print(f"Rebuilding index {target} from {seeds}: {err}", file=sys.stderr)
        return build_index(seeds, target, model=model or manifest.model, progress=progress)


__all__ = ["is_remote", "load_index", "open_index", "open_store", "stale_sources"]


def build_store(seeds_dir: str | Path, uri: str, *, model: str, progress: bool = False,
                log: Callable[[str], None] | None = None, verbose: bool = False) -> None:
    """Build an index of `seeds_dir` in a temporary folder and upload it to the Milvus store `uri`.

    With `verbose`, a failure first prints what pymilvus and milvus-lite
    logged (their tracebacks), which stay off stderr otherwise.
    """
    from rag.stores.milvus_build import upload
    from rag.stores.milvus_schema import LOG, connect

    try:
        connect(uri)  # an unreachable server fails before the model is loaded
        with tempfile.TemporaryDirectory(prefix="rag-milvus-") as tmp:
            index = build_index(seeds_dir, Path(tmp) / "index", model=model, progress=progress, log=log)
            assert isinstance(index.store, FileStore)
            upload(index.store, uri, log=log)
    except Exception:
        if verbose:
            print("\n".join(LOG.lines), file=sys.stderr)
        raise
