"""The index folder on disk: manifest, checksums, row files, FAISS, BM25, passages and the documents' texts, written atomically and mapped on load.

Does not decide what to write (`rag.build.builder`) or search (`rag.stores`).
"""
