"""The answer checker: a small cross-encoder that scores (question, quote) for "this answers it"."""
