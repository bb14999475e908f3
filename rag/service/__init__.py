"""An index kept current for long-running callers: opening and loading, the default index, the live index and its watcher, status, and the feedback log.

Does not serve HTTP (`ui`).
"""
