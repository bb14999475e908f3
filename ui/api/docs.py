"""The API's reference page at /api/v1/docs: the OpenAPI schema read by a few lines of script, nothing fetched
from elsewhere.

FastAPI's own /docs page loads Swagger UI's script and style from a CDN, so
it shows nothing on a machine without internet access (the server itself
downloads nothing at run time). This page is one HTML document with its
style and script inline: it fetches /api/v1/openapi.json from the same
server and lists every route with its method, summary, description,
request body and replies, each schema as indented JSON. Text goes into the
page with `textContent`, never as markup. Does not offer "try it out";
docs/api.md has curl and Python examples.
"""

from __future__ import annotations

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rag JSON API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.5rem}h2{font-size:1.1rem;margin:1.6rem 0 .3rem}code,pre{font-family:ui-monospace,monospace}
.m{display:inline-block;min-width:4.5rem;font-weight:bold}.post{color:#1a6}.get{color:#16a}.delete{color:#c33}
pre{background:#f5f5f5;padding:.6rem;overflow:auto;font-size:13px}details{margin:.2rem 0}
</style></head><body>
<h1>rag JSON API</h1>
<p>The schema: <a href="openapi.json">/api/v1/openapi.json</a>. Errors are
<code>{"error": {"code": "...", "message": "..."}}</code>. Examples: docs/api.md.</p>
<div id="routes">Loading the schema…</div>
<script>
(function () {
  var root = document.getElementById("routes");
  function el(tag, text, cls) { var e = document.createElement(tag); if (text) e.textContent = text;
    if (cls) e.className = cls; return e; }
  function block(title, value) { var d = el("details"); d.appendChild(el("summary", title));
    d.appendChild(el("pre", JSON.stringify(value, null, 2))); return d; }
  fetch("openapi.json").then(function (r) { return r.json(); }).then(function (spec) {
    root.textContent = "";
    Object.keys(spec.paths).forEach(function (path) {
      var methods = spec.paths[path];
      Object.keys(methods).forEach(function (method) {
        var op = methods[method], h = el("h2");
        h.appendChild(el("span", method.toUpperCase(), "m " + method));
        h.appendChild(el("code", path));
        root.appendChild(h);
        if (op.summary) root.appendChild(el("p", op.summary));
        if (op.description) root.appendChild(el("p", op.description));
        if (op.requestBody) root.appendChild(block("Request body", op.requestBody.content));
        if (op.responses) root.appendChild(block("Replies", op.responses));
      });
    });
    if (spec.components) root.appendChild(block("Schemas", spec.components.schemas));
  }).catch(function (err) { root.textContent = "Could not read the schema: " + err; });
})();
</script></body></html>
"""

__all__ = ["PAGE"]
