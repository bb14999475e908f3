"""A seeds folder to an index folder: read, chunk, embed and write, re-using an earlier index's rows.

Does not answer (`rag.answers`) or watch for changes (`rag.service`).
"""
