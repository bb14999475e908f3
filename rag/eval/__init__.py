"""Gold sets scored: metrics, the naive baseline, held-out fits, reports, follow-up conversations and the evaluators' commands. Needs the `eval` extra (ranx, matplotlib).

Nothing on a question's path imports it.
"""
