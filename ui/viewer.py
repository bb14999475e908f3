"""The page viewer: a quote's [n], or the picture of its page, opens that page large in an overlay.

The overlay has the highlight in view, zoom by buttons, keys (+ / -),
ctrl+wheel (a trackpad's pinch) or a two-finger pinch, previous and next page
(PageUp / PageDown), and closes with Esc or its close button; on a phone it
fills the screen. Pages come from the page route (`ui.page_route`) when
shown, never from the chat's HTML; its X-Rag-Mark header says where the
highlight is, its X-Rag-Pages header how many pages there are. A [n] whose
source is not a PDF opens that source in the answer instead.

Static text only, inline, nothing loaded from elsewhere; nothing here is built
from user or document text (the script reads the page route's address from
the picture `ui.render` checked).
"""

from __future__ import annotations

from ui.page_urls import VIEW_WIDTH

# In the app's CSS (Gradio scopes it to its container, where the chat is).
VIEWER_CSS = """
.rag-marker .rag-cite { font: inherit; line-height: 1.3; color: inherit; background: none; border: 0; padding: 0 0.1em; cursor: pointer;
  text-decoration: underline dotted; }
.rag-marker .rag-cite:hover, .rag-marker .rag-cite:focus-visible { text-decoration: underline; }
#rag-chat .rag-answer img.rag-page { cursor: zoom-in; aspect-ratio: auto 612 / 792; }  /* a letter page until it loads */
"""

# In the page's head: the overlay hangs from <body>, outside the container Gradio scopes the app's CSS to.
OVERLAY_CSS = """<style>
#rag-viewer { position: fixed; inset: 3vh 3vw; z-index: 2147483000; display: flex; flex-direction: column;
  background: #f3f4f6; color: #111; border-radius: 8px; box-shadow: 0 0 0 100vmax rgba(0, 0, 0, 0.55); }
#rag-viewer[hidden] { display: none; }
.rag-viewer-bar { display: flex; align-items: center; gap: 0.4em; padding: 0.4em 0.6em; background: #fff;
  border-bottom: 1px solid #d1d5db; border-radius: 8px 8px 0 0; }
.rag-viewer-bar button { min-width: 2.4em; min-height: 2.4em; font-size: 1.1em; border: 1px solid #9ca3af;
  border-radius: 6px; background: #fff; color: #111; cursor: pointer; }
.rag-viewer-bar button:disabled { opacity: 0.4; cursor: default; }
.rag-viewer-gap { flex: 1; }
.rag-viewer-where, .rag-viewer-zoom { font-size: 0.9em; white-space: nowrap; }
.rag-viewer-scroll { flex: 1; overflow: auto; padding: 8px; touch-action: pan-x pan-y; }
.rag-viewer-sheet { position: relative; width: max-content; margin: 0 auto; }
.rag-viewer-sheet img { display: block; max-width: none; height: auto; background: #fff; box-shadow: 0 1px 4px rgba(0, 0, 0, 0.3); }
.rag-viewer-mark { position: absolute; outline: 2px solid #d97706; outline-offset: 2px; border-radius: 2px;
  pointer-events: none; }
html.rag-viewing { overflow: hidden; }
@media (max-width: 720px) {
  #rag-viewer { inset: 0; border-radius: 0; }  /* the viewer fills the screen */
  .rag-viewer-bar { border-radius: 0; gap: 0.25em; padding: 0.3em; }
}
</style>"""

VIEWER_JS = """<script>
(() => {
  const WIDTH = VIEW_WIDTH, MIN = 0.5, MAX = 5;
  let box = null, scroll, img, mark, where, zoomText, opener = null, blob = null;
  const at = {url: null, page: 1, pages: 1, zoom: 1, mark: null, width: 0, height: 0, asked: 0};
  const make = () => {
    box = document.createElement("div");
    box.id = "rag-viewer"; box.hidden = true;
    box.setAttribute("role", "dialog"); box.setAttribute("aria-modal", "true"); box.setAttribute("aria-label", "Page viewer");
    box.innerHTML = '<div class="rag-viewer-bar">' +
      '<button type="button" data-act="prev" title="Previous page" aria-label="Previous page">&#8249;</button>' +
      '<span class="rag-viewer-where" aria-live="polite"></span>' +
      '<button type="button" data-act="next" title="Next page" aria-label="Next page">&#8250;</button>' +
      '<span class="rag-viewer-gap"></span>' +
      '<button type="button" data-act="out" title="Zoom out" aria-label="Zoom out">&#8722;</button>' +
      '<span class="rag-viewer-zoom">100%</span>' +
      '<button type="button" data-act="in" title="Zoom in" aria-label="Zoom in">+</button>' +
      '<button type="button" data-act="close" title="Close (Esc)" aria-label="Close the viewer">&#10005;</button></div>' +
      '<div class="rag-viewer-scroll" tabindex="0"><div class="rag-viewer-sheet"><img alt="">' +
      '<div class="rag-viewer-mark" hidden></div></div></div>';
    document.body.appendChild(box);
    scroll = box.querySelector(".rag-viewer-scroll"); img = box.querySelector("img");
    mark = box.querySelector(".rag-viewer-mark"); where = box.querySelector(".rag-viewer-where");
    zoomText = box.querySelector(".rag-viewer-zoom");
    box.querySelector(".rag-viewer-bar").addEventListener("click", (e) => {
      const act = e.target.closest("button")?.dataset.act;
      if (act === "close") close();
      else if (act === "prev") show(at.page - 1, false);
      else if (act === "next") show(at.page + 1, false);
      else if (act === "in") zoom(at.zoom * 1.25);
      else if (act === "out") zoom(at.zoom / 1.25);
    });
    scroll.addEventListener("wheel", (e) => {
      if (!e.ctrlKey) return;
      e.preventDefault(); zoom(at.zoom * Math.exp(-e.deltaY / 300), e);
    }, {passive: false});
    let pinch = null;
    const spread = (t) => Math.hypot(t[0].clientX - t[1].clientX, t[0].clientY - t[1].clientY);
    scroll.addEventListener("touchstart", (e) => {
      if (e.touches.length === 2) pinch = {d: spread(e.touches), z: at.zoom};
    }, {passive: true});
    scroll.addEventListener("touchmove", (e) => {
      if (!pinch || e.touches.length !== 2) return;
      e.preventDefault(); zoom(pinch.z * spread(e.touches) / pinch.d);
    }, {passive: false});
    scroll.addEventListener("touchend", () => { pinch = null; });
  };
  const fit = () => Math.max(100, Math.min(at.width || WIDTH, scroll.clientWidth - 16));
  const place = () => {
    const shown = fit() * at.zoom;
    img.style.width = shown + "px";
    zoomText.textContent = Math.round(at.zoom * 100) + "%";
    const s = at.width ? shown / at.width : 1;
    mark.hidden = !at.mark;
    if (at.mark) {
      const [l, t, r, b] = at.mark;
      Object.assign(mark.style, {left: l * s + "px", top: t * s + "px", width: (r - l) * s + "px", height: (b - t) * s + "px"});
    }
  };
  const zoom = (value, around) => {
    const before = img.getBoundingClientRect(), view = scroll.getBoundingClientRect();
    const cx = around ? around.clientX : view.left + view.width / 2, cy = around ? around.clientY : view.top + view.height / 2;
    const fx = (cx - before.left) / before.width, fy = (cy - before.top) / before.height;
    at.zoom = Math.min(MAX, Math.max(MIN, value));
    place();
    const after = img.getBoundingClientRect();
    scroll.scrollLeft += after.left + fx * after.width - cx;
    scroll.scrollTop += after.top + fy * after.height - cy;
  };
  const toMark = () => {
    if (!at.mark) { scroll.scrollTop = 0; return; }
    const m = mark.getBoundingClientRect(), view = scroll.getBoundingClientRect();
    scroll.scrollTop += m.top + m.height / 2 - (view.top + view.height / 2);
    scroll.scrollLeft += m.left + m.width / 2 - (view.left + view.width / 2);
  };
  const address = (page) => {
    const url = new URL(at.url);
    url.searchParams.set("page", String(page)); url.searchParams.set("w", String(WIDTH));
    return url.toString();
  };
  async function show(page, first) {
    if (!first && (page < 1 || page > at.pages)) return;
    const asked = ++at.asked;
    where.textContent = "Page " + page + (at.pages > 1 ? " of " + at.pages : "") + "…";
    let reply;
    try { reply = await fetch(address(page), {credentials: "same-origin"}); } catch (err) { reply = null; }
    if (asked !== at.asked) return;
    if (!reply || !reply.ok) {
      let message = "This page could not be shown.";
      try { message = (await reply.json()).error || message; } catch (err) { /* keep the general message */ }
      where.textContent = message; return;
    }
    const picture = await reply.blob();
    if (asked !== at.asked) return;
    at.page = Number(reply.headers.get("X-Rag-Page")) || page;
    at.pages = Number(reply.headers.get("X-Rag-Pages")) || at.pages;
    const m = reply.headers.get("X-Rag-Mark");
    at.mark = m ? m.split(",").map(Number) : null;
    if (blob) URL.revokeObjectURL(blob);
    blob = URL.createObjectURL(picture);
    await new Promise((done) => { img.onload = done; img.onerror = done; img.src = blob; });
    at.width = img.naturalWidth; at.height = img.naturalHeight;
    img.alt = "Page " + at.page + " of " + (new URL(at.url).searchParams.get("source") || "the document");
    where.textContent = "Page " + at.page + " of " + at.pages;
    box.querySelector('[data-act="prev"]').disabled = at.page <= 1;
    box.querySelector('[data-act="next"]').disabled = at.page >= at.pages;
    place(); toMark();
    box.dataset.ready = String(at.page);
  }
  function open(src, from) {
    if (!box) make();
    opener = from; at.url = new URL(src, window.location.href).toString();
    at.page = Number(new URL(at.url).searchParams.get("page")) || 1; at.pages = at.page; at.zoom = 1; at.mark = null;
    delete box.dataset.ready;
    box.hidden = false; document.documentElement.classList.add("rag-viewing");
    box.querySelector('[data-act="close"]').focus();
    show(at.page, true);
  }
  function close() {
    if (!box || box.hidden) return;
    box.hidden = true; at.asked++; document.documentElement.classList.remove("rag-viewing");
    if (opener && opener.isConnected) opener.focus();
  }
  document.addEventListener("click", (event) => {
    const target = event.target.closest ? event.target : null;
    const cite = target?.closest(".rag-cite"), picture = target?.closest("img.rag-page");
    if (!cite && !picture) return;
    event.preventDefault(); event.stopPropagation();
    if (picture) { open(picture.src, picture); return; }
    const answer = cite.closest(".rag-answer");
    const n = [...answer.querySelectorAll(".rag-cite")].indexOf(cite);
    const source = answer.querySelectorAll("details.rag-source")[n];
    if (!source) return;
    const page = source.querySelector("img.rag-page");
    if (page) { open(page.src, cite); return; }
    source.open = true; source.scrollIntoView({block: "nearest"}); source.querySelector("summary")?.focus();
  }, true);
  document.addEventListener("keydown", (event) => {
    if (!box || box.hidden) return;
    if (event.key === "Escape") { event.preventDefault(); close(); }
    else if (event.key === "+" || event.key === "=") zoom(at.zoom * 1.25);
    else if (event.key === "-") zoom(at.zoom / 1.25);
    else if (event.key === "PageDown" || event.key === "ArrowRight" && event.altKey) show(at.page + 1, false);
    else if (event.key === "PageUp" || event.key === "ArrowLeft" && event.altKey) show(at.page - 1, false);
  });
  window.addEventListener("resize", () => { if (box && !box.hidden) place(); });
})();
</script>""".replace("VIEW_WIDTH", str(VIEW_WIDTH))
VIEWER_HEAD = OVERLAY_CSS + VIEWER_JS

__all__ = ["VIEWER_CSS", "VIEWER_HEAD"]
