"""A question to ranked passages: checking the question, follow-ups, the fused ranking and its fitted parameters.

Does not choose quotes or abstain (`rag.answers`).
"""
