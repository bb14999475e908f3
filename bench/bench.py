"""Benchmark: build time, warm latency against bare query encoding, cold start, memory, scaling.

Prints figures; asserts nothing. Run with `make bench` (or `python bench/bench.py`).
Uses the real packaged model and the seeds/ folder; the scaling part uses
synthetic normalised vectors, since it measures the index layer alone. Then
the scale section (`bench/bench_scale.py`) and, when pymilvus is installed,
Milvus latency beside the index folder's at 10k passages (`bench/bench_stores.py`).
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [
    json.loads(line)["question"]
    for line in (ROOT / "tests/gold/japan-nato-alignment.jsonl").read_text("utf-8").splitlines()
    if line.strip()
]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def ingestion_scaling() -> None:
    """Parse time of a document and of one eight and sixty-four times as long: linear rules keep the ratios near 8 and 64."""
    from rag.ingest.parse import parse

    report = (ROOT / "seeds/japan-nato-alignment.txt").read_text("utf-8")
    body = report[report.index("\n\n") :]

    def best(text: str) -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            parse(text, "big.txt")
            times.append(time.perf_counter() - started)
        return min(times)

    base = best(report)
    for times in (8, 64):
        text = report + body * (times - 1)
        seconds = best(text)
        print(f"{len(text.split()):>8} words: {seconds * 1000:8.1f} ms  ({seconds / base:5.1f}x the time for {times}x the text)")


def pdf_build(pages: int = 100) -> None:
    """Build time of a printed PDF of about `pages` pages against its own extracted text as a .txt file."""
    import html as htmllib
    import shutil

    import rag
    from rag.readers import read_document

    chromium = shutil.which("chromium")
    if chromium is None:
        print("skipped: needs Debian's chromium to print the PDF (apt-get install chromium)")
        return
    report = (ROOT / "seeds/japan-nato-alignment.txt").read_text("utf-8")
    paragraphs = [" ".join(p.split()) for p in report.split("\n") if len(p.split()) > 12]
    body, size = [], 0
    while size < pages * 3400:  # printed at about 3,400 characters to a page
        for p in paragraphs:
            body.append(f"<p>{htmllib.escape(p)}</p>")
            size += len(p)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "doc.html").write_text(
            "<!doctype html><html lang=en><meta charset=utf-8><style>body{font:11pt/1.45 serif;margin:1in}"
            "</style><body>" + "".join(body) + "</body></html>", "utf-8")
        (folder / "pdf").mkdir()
        (folder / "txt").mkdir()
        target = folder / "pdf" / "doc.pdf"
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                        f"--print-to-pdf={target}", (folder / "doc.html").as_uri()], check=True,
                       capture_output=True, timeout=300)
        extracted = read_document(target, target.read_bytes())
        (folder / "txt" / "doc.txt").write_text(extracted.text, "utf-8")
        timings = {}
        for kind in ("txt", "pdf"):
            started = time.perf_counter()
            index = rag.build_index(folder / kind, folder / f"index-{kind}", log=lambda _line: None)
            timings[kind] = time.perf_counter() - started
        print(f"{len(extracted.pages)} pages, {len(index.passages)} passages: .txt {timings['txt']:.1f} s, "
              f".pdf {timings['pdf']:.1f} s ({timings['pdf'] / timings['txt']:.2f}x the time)")


def main() -> None:
    sys.path.insert(0, str(ROOT))
    import rag
    from rag.embed.runtime import load_embedder

    print("== Model")
    started = time.perf_counter()
    embedder = load_embedder()
    print(f"model load (import + weights): {time.perf_counter() - started:.2f} s")

    print("\n== Build (seeds/, model already loaded)")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        index = rag.build_index(ROOT / "seeds", Path(tmp) / "index")
        seconds = time.perf_counter() - started
        n = len(index.passages)
        print(f"build: {seconds:.2f} s for {n} passages and {index.manifest.sentences} sentences "
              f"= {n / seconds:.1f} passages/s")

        print("\n== Warm latency (each question once per round, 3 rounds)")
        qs = QUESTIONS * 3
        for q in QUESTIONS[:5]:  # warm-up
            index.answer(q)
        encode = [timed(lambda q=q: embedder.encode([q]), 1)[0] for q in qs]
        retrieve = [timed(lambda q=q: index.retrieve(q, 5), 1)[0] for q in qs]
        answer = [timed(lambda q=q: index.answer(q, 5), 1)[0] for q in qs]
        enc50 = pct(encode, 50)
        print(f"bare query encoding:  p50 {enc50:6.1f} ms  p95 {pct(encode, 95):6.1f} ms  (n={len(qs)})")
        print(f"rag retrieve (k=5):   p50 {pct(retrieve, 50):6.1f} ms  p95 {pct(retrieve, 95):6.1f} ms  "
              f"p50 ratio to encoding {pct(retrieve, 50) / enc50:.2f}x")
        print(f"rag answer (k=5):     p50 {pct(answer, 50):6.1f} ms  p95 {pct(answer, 95):6.1f} ms  "
              f"p50 ratio to encoding {pct(answer, 50) / enc50:.2f}x")

        print("\n== Cold start (new process: import, load model and index, first answer)")
        code = (
            "import time, resource; t=time.perf_counter(); import rag; "
            f"i=rag.load_index({str(Path(tmp) / 'index')!r}); r=i.retrieve('Why does Taiwan matter to Japan?'); "
            "print(round(time.perf_counter()-t,2), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
        )
        colds = []
        for _ in range(2):
            started = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
            wall = time.perf_counter() - started
            inner, rss = out.stdout.split()
            colds.append((wall, float(inner), int(rss)))
        for wall, inner, rss in colds:
            print(f"process start to first result: {wall:.2f} s (in-process {inner:.2f} s), peak RSS {rss / 1024:.0f} MB")

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n== Peak memory of this benchmark process (model + index + queries): {peak:.0f} MB")

    print("\n== Cold start and build rate: ONNX Runtime against sentence-transformers (bench/bench_coldstart.py)")
    import bench_coldstart

    bench_coldstart.main([])

    print("\n== Building a 100-page PDF against the same text as .txt (model loaded)")
    pdf_build()

    print("\n== Ingestion time against document size (parse only, best of 3)")
    ingestion_scaling()

    print("\n== Index layer scaling (synthetic clustered 384-d vectors, 200 single queries, top-50)")
    scaling(embedder.dimension)

    print("\n== Model read rate: the build's embedder against plain float32 encode (bench/bench_embed.py)")
    import bench_embed

    bench_embed.main([])

    print("\n== Scale: real-model and model-free builds, disk, load and query (bench/bench_scale.py)")
    import bench_scale

    bench_scale.main([])

    print("\n== Stores: Milvus (milvus-lite) beside the index folder at 10k passages (bench/bench_stores.py)")
    try:
        import milvus_lite  # noqa: F401
        import pymilvus  # noqa: F401
    except ImportError:
        print("skipped: pymilvus and milvus-lite are not installed (pip install 'rag[milvus]')")
    else:
        subprocess.run([sys.executable, str(ROOT / "bench" / "bench_stores.py"), "--passages", "10000",
                        "--questions", "100"], check=True, cwd=ROOT)

    print("\n== The JSON API: answer p50 against the library's in one run, 50 clients at once (bench/bench_api.py)")
    import bench_api

    bench_api.main([])


def scaling(dim: int) -> None:
    import faiss

    from rag.storage.dense import faiss_index_for

    rng = np.random.default_rng(0)
    print(f"{'passages':>9} {'index':>13} {'build s':>8} {'p50 ms':>8} {'p95 ms':>8} {'recall@10 vs exact':>19}")
    for n in (1_000, 10_000, 100_000):
        # Clustered like real embeddings (topics), not uniform noise, which no ANN index handles.
        centroids = rng.standard_normal((max(10, n // 50), dim)).astype(np.float32)
        vectors = centroids[rng.integers(0, len(centroids), n)] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        queries = vectors[rng.choice(n, 200, replace=False)] + 0.3 * rng.standard_normal((200, dim)).astype(np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        exact = faiss.IndexFlatIP(dim)
        exact.add(vectors)
        _, truth = exact.search(queries, 10)
        candidates = [("Flat", exact, 0.0)]
        started = time.perf_counter()
        chosen, kind = faiss_index_for(vectors)
        build = time.perf_counter() - started
        if kind != "Flat":
            candidates.append((kind, chosen, build))
        for name, index, build_s in candidates:
            times = [timed(lambda q=q, index=index: index.search(q.reshape(1, -1), 50), 1)[0] for q in queries]
            _, found = index.search(queries, 10)
            recall = statistics.mean(len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True))
            auto = " (auto)" if name == kind else ""
            print(f"{n:>9} {name + auto:>13} {build_s:>8.2f} {pct(times, 50):>8.3f} {pct(times, 95):>8.3f} {recall:>19.3f}")


if __name__ == "__main__":
    main()
