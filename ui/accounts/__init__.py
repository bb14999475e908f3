"""Logins for the web server: users sign in, each gets a private collection, every route asks who is calling.

- `ui.accounts.sessions`: sign-in sessions that expire, and the slowing down of failed sign-ins.
- `ui.accounts.collections`: each user's collection (seeds, index, feedback log, browser-storage key).
- `ui.accounts.logins`: `Logins`, the `ui.access.Access` of a server with logins (session cookie or API key).
- `ui.accounts.gate`: the middleware in front of every route: the sign-in page, sign-out, 401 for the rest.

The users themselves (hashed passwords, API keys) are kept by `rag.service.users`.
"""
