"""The page's own style and scripts: layout CSS, the copy buttons, the page viewer, scrolling, and the drop zone.

Static text only; nothing here is built from user or document text (that
goes through `ui.render`). Scripts are inline and small: nothing is loaded
from anywhere but the app itself.
"""

from __future__ import annotations

import json
from html import escape

from ui.light import KEEP_JS
from ui.uploads import ACCEPTED
from ui.viewer import VIEWER_CSS, VIEWER_HEAD

CSS = """
.rag-answer { line-height: 1.55; white-space: normal; }
.rag-answer blockquote.rag-quote { border-left: 4px solid #6366f1; margin: 0.4em 0 0.8em; padding: 0.2em 0.9em;
  background: rgba(99, 102, 241, 0.06); }
.rag-answer blockquote.rag-quote p { margin: 0; }
.rag-marker { font-weight: 600; color: #4f46e5; }
.rag-sources { margin-top: 0.6em; font-size: 0.95em; }
.rag-sources-title { margin: 0.2em 0; font-weight: 600; }
.rag-source { border: 1px solid rgba(128, 128, 128, 0.35); border-radius: 6px; padding: 0.3em 0.6em;
  margin: 0.3em 0; }
.rag-source summary { cursor: pointer; }
.rag-context { margin: 0.5em 0 0.2em; white-space: normal; }
.rag-context mark.rag-hl { background: #fde68a; color: #111; padding: 0 1px; }
.rag-with-page { display: flex; flex-wrap: wrap; gap: 0.8em; align-items: flex-start; }
.rag-with-page .rag-context { flex: 1 1 18em; min-width: 0; }
#rag-chat .rag-answer img.rag-page { flex: 1 1 22em; min-width: 0; width: auto; max-width: 100%; height: auto;
  max-height: none; margin: 0.5em 0 0.2em; border: 1px solid rgba(128, 128, 128, 0.35); border-radius: 4px; }
.rag-offsets { display: block; font-size: 0.8em; opacity: 0.7; }
.rag-tag { font-size: 0.8em; padding: 0 0.4em; border-radius: 4px; background: rgba(128, 128, 128, 0.2); }
.rag-abstain, .rag-notice { font-weight: 500; margin: 0.2em 0; }
.rag-scope, .rag-searched { font-size: 0.9em; opacity: 0.8; margin: 0 0 0.4em; }
.rag-tools { margin-top: 0.4em; }
.rag-copy { font-size: 0.85em; padding: 0.1em 0.7em; border: 1px solid rgba(128, 128, 128, 0.5); border-radius: 4px;
  background: transparent; cursor: pointer; }
.rag-copy-text { display: none; }
.rag-status p { margin: 0.2em 0; }
.rag-progress { width: 8em; vertical-align: middle; }
.rag-failed { color: #b91c1c; font-weight: 500; }
.rag-pending { margin: 0.2em 0 0.4em 1.2em; padding: 0; }
.rag-drop { border: 2px dashed rgba(128, 128, 128, 0.5); border-radius: 8px; padding: 0.6em 0.8em; text-align: center; }
.rag-drop.rag-over { border-color: #6366f1; background: rgba(99, 102, 241, 0.08); }
.rag-pick { color: #4f46e5; text-decoration: underline; cursor: pointer; }
.rag-upload-progress { width: 100%; }
.rag-upload-msg { font-size: 0.9em; margin: 0.3em 0 0; white-space: pre-line; }
#rag-docs label { width: 100%; }
#rag-chat button[data-rag-word]::after { content: attr(data-rag-word); position: static; width: auto; height: auto;
  background: none; font-size: var(--text-xs); margin: 0 0.2em 0 0.25em; }  /* in place of Gradio's separator line */
#rag-chat .extra-feedback-options { top: auto; bottom: 100%; }  /* opens upwards: never cut off by the chat's edge */
#rag-status:has(.prose:empty) { display: none; }  /* nothing to report: no empty block above the list */
@media (max-width: 720px) {  /* a phone: the chat first, the documents below; answers use the chat's width */
  #rag-main { order: -1; }
  #rag-chat .bubble.bot-row { max-width: 100%; margin-left: var(--spacing-sm); margin-right: var(--spacing-sm); }
  .rag-answer blockquote.rag-quote { padding: 0.2em 0.5em; }
}
""" + VIEWER_CSS

# Runs once per page (launch(head=...)): one listener for every copy button, present or future.
COPY_JS = """<script>
document.addEventListener("click", async (event) => {
  const button = event.target.closest ? event.target.closest(".rag-copy") : null;
  if (!button) return;
  const holder = button.closest(".rag-answer");
  const source = holder ? holder.querySelector(".rag-copy-text") : null;
  if (!source) return;
  const text = source.textContent;
  try {
    await navigator.clipboard.writeText(text);
  } catch (err) {
    const area = document.createElement("textarea");
    area.value = text; area.style.position = "fixed"; area.style.left = "-9999px";
    document.body.appendChild(area); area.select(); document.execCommand("copy"); area.remove();
  }
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = "Copy answer"; }, 1500);
});
</script>"""

# Gradio labels its feedback icons "Like", "Dislike" and "Feedback" (and its clear icon "Clear"); each is
# relabelled (its tooltip and the name a screen reader reads) by what it does. Gradio sets a label again only
# when its own value changes ("Like" -> "Liked"), and every such change is caught here.
FEEDBACK_LABELS = {
    "Like": "Helpful: this answers the question",
    "Liked": "Marked helpful",
    "Dislike": "Wrong: this does not answer the question",
    "Disliked": "Marked wrong",
    "Feedback": "More feedback: should have abstained",
    "Clear": "Clear the conversation",
}
# The word shown beside each feedback icon (a phone has no tooltips).
FEEDBACK_WORDS = {"Like": "Helpful", "Liked": "Helpful", "Dislike": "Wrong", "Disliked": "Wrong", "Feedback": "More"}
FEEDBACK_JS = """<script>
(() => {
  const labels = LABELS, words = WORDS;
  const relabel = () => {
    for (const button of document.querySelectorAll("#rag-chat button[aria-label]")) {
      const gradio = button.getAttribute("aria-label");
      if (!labels[gradio]) continue;
      button.setAttribute("aria-label", labels[gradio]);
      button.setAttribute("title", labels[gradio]);
      if (words[gradio]) button.setAttribute("data-rag-word", words[gradio]);
    }
  };
  new MutationObserver(relabel).observe(document.documentElement,
    {subtree: true, childList: true, attributes: true, attributeFilter: ["aria-label"]});
})();
</script>""".replace("LABELS", json.dumps(FEEDBACK_LABELS)).replace("WORDS", json.dumps(FEEDBACK_WORDS))
HEAD = COPY_JS + FEEDBACK_JS + VIEWER_HEAD + KEEP_JS

# Once the page's load has opened the question box: put the cursor in it.
FOCUS_JS = """() => { document.querySelector("#rag-question textarea")?.focus(); }"""

# After an answer: bring the newest question (and the start of its answer) into view, inside the chat and the page.
SCROLL_JS = """() => {
  const show = () => {
    const asked = document.querySelectorAll("#rag-chat .rag-question");
    const last = asked[asked.length - 1];
    if (!last) return;
    let box = last.parentElement;  // the chat's own scrolling box
    while (box && box.id !== "rag-chat") {
      const overflow = getComputedStyle(box).overflowY;
      if ((overflow === "auto" || overflow === "scroll") && box.scrollHeight > box.clientHeight) break;
      box = box.parentElement;
    }
    if (box && box.id !== "rag-chat") {
      box.scrollTop += last.getBoundingClientRect().top - box.getBoundingClientRect().top - 12;
    }
    const chat = document.querySelector("#rag-chat");
    if (chat) chat.scrollIntoView({block: "nearest"});
  };
  // Again while the chat settles: Gradio's own autoscroll can follow a long answer to its end afterwards.
  requestAnimationFrame(() => { for (const ms of [60, 300, 800]) setTimeout(show, ms); });
}"""

DROP_ZONE = f"""<div class="rag-drop" data-testid="rag-drop">
<p><strong>Add documents</strong>: drop files here or <label class="rag-pick">choose files<input type="file" multiple
accept="{escape(",".join(ACCEPTED.split()) + ",.markdown")}" hidden></label></p>
<p class="rag-hint">{escape(ACCEPTED.replace(" ", ", "))}; checked and indexed on the server.</p>
<progress class="rag-upload-progress" max="100" value="0" hidden></progress>
<p class="rag-upload-msg" aria-live="polite"></p>
</div>"""

DROP_JS = """
const zone = element.querySelector(".rag-drop");
const input = element.querySelector("input[type=file]");
const note = element.querySelector(".rag-upload-msg");
const bar = element.querySelector(".rag-upload-progress");
const base = window.location.href.split(/[?#]/)[0].replace(/[^/]*$/, "");
// XMLHttpRequest rather than fetch: only it reports how much of the body has gone up.
function post(file, sent) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", base + "rag/upload");
    xhr.setRequestHeader("X-File-Name", encodeURIComponent(file.name));
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.onprogress = (e) => { if (e.lengthComputable && e.total > 0) sent(Math.floor(100 * e.loaded / e.total)); };
    xhr.upload.onload = () => sent(100);
    xhr.onload = () => {
      let message;
      try { message = JSON.parse(xhr.responseText).message; } catch (err) { message = ""; }
      resolve(message || `The server answered ${xhr.status}.`);
    };
    xhr.onerror = () => resolve(`${file.name} could not be sent; check the connection and try again.`);
    xhr.send(file);
  });
}
async function send(files) {
  const lines = [];
  for (const file of files) {
    const shown = (percent) => {
      bar.hidden = false;
      bar.setAttribute("value", String(percent));
      bar.setAttribute("aria-valuetext", `${file.name}: ${percent}% sent`);
      const doing = percent < 100 ? `Uploading ${file.name}… ${percent}%` : `Uploaded ${file.name} (100%); checking it…`;
      note.textContent = lines.concat([doing]).join("\\n");
    };
    shown(0);
    lines.push(await post(file, shown));
    bar.hidden = true;
    note.textContent = lines.join("\\n");
  }
}
input.addEventListener("change", () => { const files = [...input.files]; input.value = ""; send(files); });
zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("rag-over"); });
zone.addEventListener("dragleave", () => zone.classList.remove("rag-over"));
zone.addEventListener("drop", (e) => { e.preventDefault(); zone.classList.remove("rag-over"); send([...e.dataTransfer.files]); });
"""

__all__ = ["CSS", "DROP_JS", "DROP_ZONE", "FEEDBACK_LABELS", "FEEDBACK_WORDS", "FOCUS_JS", "HEAD", "SCROLL_JS"]
