"""A question costs the browser the same few kilobytes however long the conversation is.

Gradio's Chatbot takes its whole list of messages as each answer's output,
so the chat would send every earlier answer again with every new one. Here
each message carries a key (a hash of its HTML and of how many earlier
messages were the same, as a class name: unique within the conversation); `keyed`
sends the newest messages in full and every earlier one as an empty stub
with that key, and the page's script (`KEEP_JS`) puts the message it
already shows back into the stub: the same DOM nodes, so an opened source
and a loaded page picture stay as they were. After a reload `keyed(...,
full=None)` sends every message in full once.

The conversation in the browser's storage (`gr.BrowserState`) is appended
to in the browser (`APPEND_JS`): the server sends only the new turn, never
the stored list back; and a question sends it up as its questions only
(`SLIM_JS`), which is all a follow-up needs.

Does not change what a message says (`ui.render` makes it) and keeps nothing
on the server.
"""

from __future__ import annotations

import hashlib
from typing import Any

FULL = 2  # the newest question and its answer are sent in full


def _key(content: str, seen: int) -> str:
    """The key of a message: its HTML's hash and how many earlier messages had the same HTML. The same
    question asked twice (or two identical answers) must get two keys, or the page would move one message's
    nodes into the other's stub and leave the first empty."""
    data = f"{seen}:{content}".encode("utf-8", "surrogatepass")
    return "rag-k-" + hashlib.sha256(data).hexdigest()[:20]


def keyed(messages: Any, full: int | None = FULL) -> list[dict[str, Any]]:
    """`messages` (role/content dicts of HTML) for the Chatbot: each wrapped with its key, all but the last
    `full` as empty stubs the page fills from what it shows (`full=None`: every message in full)."""
    if not isinstance(messages, list):
        return []
    cut = 0 if full is None else max(0, len(messages) - full)
    out = []
    seen: dict[str, int] = {}
    for n, message in enumerate(messages):
        content = str(message.get("content", "")) if isinstance(message, dict) else ""
        key = _key(content, seen.get(content, 0))
        seen[content] = seen.get(content, 0) + 1
        body = f'<div class="rag-msg rag-kept {key}"></div>' if n < cut else f'<div class="rag-msg {key}">{content}</div>'
        out.append({**message, "content": body})
    return out


# Runs once per page (launch(head=...)): fills each stub with the message of the same key the page showed.
KEEP_JS = """<script>
(() => {
  const shown = new Map();
  const keyOf = (el) => [...el.classList].find((c) => c.startsWith("rag-k-"));
  const sweep = () => {
    for (const el of document.querySelectorAll("#rag-chat .rag-msg")) {
      const key = keyOf(el);
      if (!key) continue;
      if (!el.classList.contains("rag-kept") || el.dataset.ragFilled) {
        if (el.childNodes.length) shown.set(key, el);
        continue;
      }
      const was = shown.get(key);
      if (!was || was === el || !was.childNodes.length) continue;
      el.replaceChildren(...was.childNodes);
      el.dataset.ragFilled = "1";
      shown.set(key, el);
    }
  };
  new MutationObserver(sweep).observe(document.documentElement, {subtree: true, childList: true});
})();
</script>"""

# After an answer, in the browser: the new turn appended to the stored conversation (no request).
# (A function's returned array is its list of outputs: the one output, the list, is wrapped in one.)
APPEND_JS = """(turns, turn) => {
  const kept = Array.isArray(turns) ? turns : [];
  return [turn && typeof turn === "object" && typeof turn.question === "string" ? [...kept, turn].slice(-MAX) : kept];
}"""


# Before a question is sent: the stored conversation goes up as its questions only (the answer handler needs
# nothing else of it: the earlier questions for a follow-up), each answer an empty one of the same kind.
SLIM_JS = """(question, turns, shown, settings) => [question, (Array.isArray(turns) ? turns : []).map((t) =>
  t && typeof t === "object" && typeof t.question === "string" ? {question: t.question, answer: t.answer
    ? {question: String(t.answer.question ?? t.question), quotes: [], passages: [], abstained: !!t.answer.abstained}
    : null} : null).filter(Boolean), shown, settings]"""


def append_js(max_turns: int) -> str:
    return APPEND_JS.replace("MAX", str(int(max_turns)))


__all__ = ["FULL", "KEEP_JS", "SLIM_JS", "append_js", "keyed"]
