"""Passages and questions to vectors: the packaged model, other sentence-transformers models, and one forward pass per passage.

Does not store vectors (`rag.storage`) or rank (`rag.search`).
"""
