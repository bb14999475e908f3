"""Read the text of a page picture with Tesseract, as lines of glyphs with page-space boxes.

    lines = read_picture(image, page=2, to_page=lambda x, y: (x / 4, 792 - y / 4))

Tesseract (Debian's `tesseract-ocr` with `tesseract-ocr-eng`) is run as a
program, one process per page reading a PNG on its input and writing its TSV
table, on one thread (OMP_THREAD_LIMIT=1: on a busy machine Tesseract's
OpenMP threads make a page several times slower, not faster) and under a time
limit of its own ($RAG_OCR_PAGE_SECONDS, default 120); a picture is first
shrunk to at most MAX_PIXELS pixels. What Tesseract reads on a picture is
kept in a cache (`cache_dir`, keyed by the picture's bytes and the engine's
version), so drawing a cited scanned page, or building again, does not read
it again. Tesseract reports a box per word and per line: each word's
characters share its width evenly and take its line's height, so a quote's
highlight covers the words it quotes. A hyphen ending a line before one
going on in lower case is given as U+2010, as a text layer gives a word broken
at a line end. Words come out as Tesseract groups
them into lines, in its reading order; `rag.readers.pdf_lines` then orders
lines and finds paragraphs as it does for a text layer.

Does not render PDF pages (`rag.readers.pdf`) or open image files
(`rag.readers.image`), does not deskew or clean pictures, and reads English
only (the language data installed with the engine). Never downloads anything.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rag.readers.pdf_lines import SPACE, Glyph, Line, make_line

ENGINE = "tesseract"
LANGUAGE = "eng"
DPI = 300  # PDF pages are rendered at this resolution for OCR
MAX_PIXELS = 16_000_000  # a larger picture is shrunk first (a Letter page at 300 dpi is 8.4 million pixels)
SECONDS_VARIABLE = "RAG_OCR_PAGE_SECONDS"
DEFAULT_SECONDS = 120
INSTALL = "install Debian's tesseract-ocr and tesseract-ocr-eng packages (`apt-get install tesseract-ocr tesseract-ocr-eng`)"

MAX_CACHED = 5000  # pages whose Tesseract table is kept (about 30 KB each; see `cache_dir`)
SNAP = (0.7, 1.12)  # line heights this near the page's usual one are taken as it (see `_line_extents`)

ToPage = Callable[[float, float], tuple[float, float]]  # picture pixel (x right, y down) -> page point


class OcrFailed(Exception):
    """One page could not be read by OCR; `reason` says why in a few words, for a note."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def missing() -> str:
    """Why OCR cannot run here ("" when it can): the engine or its language data is not installed."""
    return _missing(os.environ.get("PATH", ""))


@functools.lru_cache(maxsize=4)
def _missing(path: str) -> str:
    command = shutil.which(ENGINE, path=path)
    if command is None:
        return f"OCR needs the tesseract program; {INSTALL}"
    try:
        languages = subprocess.run([command, "--list-langs"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as err:
        return f"the tesseract program does not run ({err}); reinstall it: {INSTALL}"
    if LANGUAGE not in languages.split():
        return f"tesseract has no English language data; {INSTALL}"
    return ""


@functools.lru_cache(maxsize=1)
def version() -> str:
    """The engine and its version, e.g. "tesseract 5.3.0", for notes."""
    try:
        shown = subprocess.run([ENGINE, "--version"], capture_output=True, text=True, timeout=30).stdout.split()
    except (OSError, subprocess.SubprocessError):
        shown = []
    return " ".join(shown[:2]) if len(shown) >= 2 else ENGINE


def page_seconds() -> float:
    """Seconds Tesseract may take on one page ($RAG_OCR_PAGE_SECONDS)."""
    raw = os.environ.get(SECONDS_VARIABLE, "").strip()
    try:
        value = float(raw) if raw else DEFAULT_SECONDS
    except ValueError:
        value = -1.0
    return value if 0 < value < float("inf") else DEFAULT_SECONDS


def shrink(image: Any) -> tuple[Any, float]:
    """The picture within MAX_PIXELS, and the factor its pixels were scaled by (1.0: unchanged)."""
    pixels = image.width * image.height
    if pixels <= MAX_PIXELS:
        return image, 1.0
    factor = (MAX_PIXELS / pixels) ** 0.5
    size = (max(1, int(image.width * factor)), max(1, int(image.height * factor)))
    return image.resize(size), factor


def read_picture(image: Any, *, page: int, to_page: ToPage) -> list[Line]:
    """The lines Tesseract reads in a PIL picture, their glyph boxes mapped to page points by `to_page`.

    OcrFailed when Tesseract fails or runs out of time on it.
    """
    image, factor = shrink(image.convert("L"))
    png = io.BytesIO()
    image.save(png, format="PNG", compress_level=1)
    command = [ENGINE, "stdin", "stdout", "-l", LANGUAGE, "--psm", "3", "tsv"]
    key = hashlib.sha256(png.getvalue() + " ".join([version(), *command]).encode()).hexdigest()
    tsv = _cached(key)
    if tsv is None:
        tsv = _run(command, png.getvalue())
        _keep(key, tsv)
    return lines_of(table(tsv), page=page, to_page=lambda x, y: to_page(x / factor, y / factor))


def _run(command: list[str], png: bytes) -> str:
    seconds = page_seconds()
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    try:
        done = subprocess.run(command, input=png, capture_output=True, timeout=seconds, env=env)
    except subprocess.TimeoutExpired:
        raise OcrFailed(f"OCR took over {seconds:g} s; raise {SECONDS_VARIABLE} to allow more") from None
    except OSError as err:
        raise OcrFailed(f"tesseract could not be run ({err.strerror or err})") from None
    if done.returncode != 0:
        said = " ".join(done.stderr.decode("utf-8", "replace").split())[-200:]
        raise OcrFailed(f"tesseract failed with exit status {done.returncode} ({said or 'no message'})")
    return done.stdout.decode("utf-8", "replace")


def cache_dir() -> Path:
    """Where pages already read are kept: ocr/ in $RAG_CACHE_DIR, $XDG_CACHE_HOME/rag or ~/.cache/rag."""
    if os.environ.get("RAG_CACHE_DIR"):
        return Path(os.environ["RAG_CACHE_DIR"]).expanduser() / "ocr"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "rag" / "ocr"


def _cached(key: str) -> str | None:
    try:
        return (cache_dir() / f"{key}.tsv").read_text("utf-8")
    except (OSError, ValueError):
        return None


def _keep(key: str, tsv: str) -> None:
    """Keep a page's table (a cache that cannot be written costs only time); past MAX_CACHED pages the oldest go."""
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        part = folder / f"{key}.{os.getpid()}.part"
        part.write_text(tsv, "utf-8")
        os.replace(part, folder / f"{key}.tsv")
        kept = sorted(folder.glob("*.tsv"), key=lambda f: f.stat().st_mtime)
        for old in kept[: max(0, len(kept) - MAX_CACHED)]:
            old.unlink(missing_ok=True)
    except OSError:
        return


def table(tsv: str) -> dict[str, list[Any]]:
    """Tesseract's TSV output as columns: numbers for the box and level columns, text as text."""
    rows = tsv.splitlines()
    if not rows:
        return {}
    names = rows[0].split("\t")
    columns: dict[str, list[Any]] = {name: [] for name in names}
    for row in rows[1:]:
        cells = row.split("\t", len(names) - 1)
        if len(cells) != len(names):
            continue
        for name, cell in zip(names, cells, strict=True):
            columns[name].append(cell if name == "text" else int(float(cell)))
    return columns


def lines_of(found: dict[str, list[Any]], *, page: int, to_page: ToPage) -> list[Line]:
    """Lines from Tesseract's table (`table`): level 4 rows are lines, level 5 words."""
    extent = _line_extents(found)
    words: dict[tuple[int, int, int], list[Glyph]] = {}
    for i, level in enumerate(found.get("level", ())):
        key = (found["block_num"][i], found["par_num"][i], found["line_num"][i])
        top, height = int(found["top"][i]), int(found["height"][i])
        if level != 5:
            continue
        word = "".join(ch for ch in str(found["text"][i]) if ch.isprintable() and not ch.isspace())
        if not word:
            continue
        line_top, line_bottom = extent.get(key, (top, top + height))
        left, width = int(found["left"][i]), int(found["width"][i])
        glyphs = words.setdefault(key, [])
        if glyphs:
            glyphs.append(SPACE)
        step = width / len(word)
        for k, ch in enumerate(word):
            x0, y0 = to_page(left + k * step, line_bottom)
            x1, y1 = to_page(left + (k + 1) * step, line_top)
            glyphs.append((ch, True, min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
    rows = list(words.values())
    lines = [make_line(page, _line_end_hyphen(glyphs, rows[k + 1] if k + 1 < len(rows) else []))
             for k, glyphs in enumerate(rows)]
    return [ln for ln in lines if ln is not None]


def _line_end_hyphen(glyphs: list[Glyph], following: list[Glyph]) -> list[Glyph]:
    """A "-" ending a line after a letter, the next line going on in lower case ("ad-" / "dress"), is read as
    U+2010 HYPHEN, the character a text layer has where a word breaks at a line end, so search and gold evidence
    treat an OCR page's broken words as a text layer's; before a capital ("Japan-" / "US") it stays "-"."""
    if (len(glyphs) >= 2 and glyphs[-1][0] == "-" and glyphs[-2][0].isalpha() and following
            and following[0][0].islower()):
        glyphs = [*glyphs[:-1], ("\u2010", *glyphs[-1][1:])]
    return glyphs


def _line_extents(found: dict[str, list[Any]]) -> dict[tuple[int, int, int], tuple[int, float]]:
    """Each line's (top, bottom) in pixels, from its top (ascenders and capitals, which nearly every line has).

    A line's box reaches down to its descenders, if it has any, so its bottom jumps from line to line;
    lines within SNAP of the page's usual line height get that height, which keeps the gaps between
    lines of a paragraph even and leaves larger type (headings) its own size.
    """
    boxes = {(found["block_num"][i], found["par_num"][i], found["line_num"][i]): (int(found["top"][i]),
             int(found["height"][i])) for i, level in enumerate(found.get("level", ())) if level == 4}
    heights = sorted(h for _, h in boxes.values())
    usual = heights[len(heights) // 2] if heights else 0
    return {key: (top, top + (usual if SNAP[0] * usual <= h <= SNAP[1] * usual else h))
            for key, (top, h) in boxes.items()}


__all__ = ["DPI", "ENGINE", "OcrFailed", "lines_of", "missing", "page_seconds", "read_picture", "version"]
