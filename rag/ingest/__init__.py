"""Text to passages: units, headings, boilerplate, blocks with sections, sentence-aligned passages and their context.

Does not read files (`rag.readers`) or embed (`rag.embed.model`).
"""
