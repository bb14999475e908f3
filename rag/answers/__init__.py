"""Ranked passages to an answer: sentence scores, verbatim quotes, abstention, and the `Index` facade that strings the stages together.

Does not keep an index current (`rag.service`).
"""
