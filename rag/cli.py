"""The `rag` command: build, search, ask, serve, feedback, and the evaluators' eval, followups, calibrate.

Errors from the library become one line on stderr and exit code 1, never a
traceback. `--json` prints the same fields as the library's dataclasses.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rag.cli_args import SuggestingParser, version
from rag.errors import RagError
from rag.eval.commands import add_commands
from rag.service.default import default_paths
from rag.service.user_commands import add_user_commands

EPILOG = ("Documents go in the seeds folder (.txt .md .pdf .html .htm .docx, and scans as .png .jpg .tif, read by "
          "OCR); the index is rebuilt when they change.")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if isinstance(getattr(args, "question", None), str):
        args.question = valid_text(args.question)
    try:
        if getattr(args, "index", None) is not None:  # an empty --index is refused, never the current folder
            from rag.storage.lock import index_path

            args.index = index_path(args.index)
        return int(args.func(args) or 0)
    except RagError as err:
        print(f"rag: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rag: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`rag ask ... | head`): nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush fails quietly
        return 141


def valid_text(text: str) -> str:
    """`text` with bytes that were not UTF-8 (kept by Python as lone surrogates) replaced by U+FFFD.

    A question typed or piped with such bytes then prints and serialises as
    valid UTF-8 (`--json`) instead of failing half-way through the output.
    """
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _parser() -> argparse.ArgumentParser:
    seeds, index = default_paths()
    parser = SuggestingParser(prog="rag", description=__doc__.splitlines()[0], epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"rag {version()}")
    sub = parser.add_subparsers(metavar="COMMAND", parser_class=SuggestingParser)

    p = sub.add_parser("build", help="build the index from the seeds folder")
    p.add_argument("--seeds", type=Path, default=seeds, help=f"documents folder (default: {seeds})")
    p.add_argument("--index", default=index, help=f"index folder (default: {index})")
    p.add_argument("--model", default=None, help="sentence-transformers model name or folder "
                   "(default: all-MiniLM-L6-v2, packaged)")
    p.add_argument("--verbose", "-v", action="store_true", help="show titles, sections and dropped lines")
    p.add_argument("--store", default=None, metavar="URI", help="build into Milvus instead of --index: "
                   "milvus://HOST:PORT/COLLECTION or milvus-lite:PATH.db/COLLECTION")
    p.add_argument("--full", action="store_true", help="embed every document again instead of re-using the rows "
                   "of unchanged ones from the index already in the folder")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("search", help="print the passages that best match a question")
    p.add_argument("question")
    p.add_argument("-k", type=int, default=5, help="number of passages (default: 5)")
    _index_option(p, index)
    p.add_argument("--json", action="store_true", help="print JSON (same fields as rag.Passage)")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", help="answer a question with cited quotes (questions from stdin if none)")
    p.add_argument("question", nargs="?")
    p.add_argument("-k", type=int, default=5, help="number of passages to quote from (default: 5)")
    _index_option(p, index)
    p.add_argument("--json", action="store_true", help="print JSON (same fields as rag.Answer), one per line")
    p.add_argument("--conversation", action="store_true", help="questions from stdin are one conversation: "
                   "a follow-up (\"and why?\") is searched with the earlier questions")
    p.set_defaults(func=cmd_ask)

    add_commands(sub, index, _index_option, open_index_of)

    p = sub.add_parser("serve", help="start the web chat")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    _index_option(p, index)
    upload = p.add_mutually_exclusive_group()
    upload.add_argument("--allow-upload", dest="upload", action="store_true", default=None,
                        help="let visitors add and remove documents from the page (default: only when bound to "
                        "127.0.0.1)")
    upload.add_argument("--no-upload", dest="upload", action="store_false", help="never accept documents from the page")
    p.add_argument("--feedback-log", type=Path, default=Path("feedback.jsonl"),
                   help="where the feedback buttons append (default: feedback.jsonl)")
    p.add_argument("--logins", action="store_true", default=os.environ.get("RAG_LOGINS", "") not in ("", "0"),
                   help="require a sign-in; each user gets a private collection (needed on any address but "
                   "127.0.0.1; default: $RAG_LOGINS)")
    p.add_argument("--users", type=Path, default=None, metavar="DIR",
                   help="server folder of the users and their collections (default: $RAG_USERS or rag-server)")
    p.set_defaults(func=cmd_serve)

    add_user_commands(sub)

    p = sub.add_parser("feedback", help="turn the web chat's feedback into gold-set candidates")
    fsub = p.add_subparsers(metavar="ACTION")
    e = fsub.add_parser("export", help="print gold-set candidates (the `rag eval` format, marked unreviewed)")
    e.add_argument("log", type=Path, help="the feedback log (JSONL) the web chat wrote")
    e.add_argument("--out", type=Path, help="write the candidates to this JSONL file instead of stdout")
    e.set_defaults(func=cmd_feedback_export)
    p.set_defaults(func=lambda args: _usage(p))
    return parser


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _index_option(p: argparse.ArgumentParser, default: Path) -> None:
    p.add_argument("--index", default=None,
                   help=f"index folder (default: {default}, rebuilt from the seeds when they change)")
    p.add_argument("--store", default=None, metavar="URI", help="answer from a Milvus store instead: "
                   "milvus://HOST:PORT/COLLECTION or milvus-lite:PATH.db/COLLECTION (never rebuilt)")


def open_index_of(args: argparse.Namespace, *, live: bool = False) -> Any:
    """The index the user named (must be current), or the default one (rebuilt when stale).

    `live` is for long-running commands: they get the `rag.service.live.LiveIndex`,
    which rebuilds in the background when the seeds change.
    """
    from rag.service.default import default_live
    from rag.service.loading import load_index, open_store

    if getattr(args, "store", None):
        return open_store(args.store)
    if args.index is not None:
        return load_index(args.index)
    watched = default_live()
    index = watched.current()  # built or loaded now, so start-up reports problems and loads the model once
    return watched if live else index


def cmd_build(args: argparse.Namespace) -> int:
    import time

    import rag.storage.index_folder as store
    from rag.embed.model import DEFAULT_MODEL
    from rag.service.loading import build_index

    started = time.perf_counter()
    if args.store:
        from rag.service.loading import build_store

        build_store(args.seeds, args.store, model=args.model or DEFAULT_MODEL, progress=True, verbose=args.verbose)
        print(f"Indexed {args.seeds} into {args.store} in {time.perf_counter() - started:.1f}s.")
        return 0
    index = build_index(args.seeds, args.index, model=args.model or DEFAULT_MODEL, progress=True,
                        verbose=args.verbose, reuse=not args.full)
    m = index.manifest
    default_seeds, default_index_dir = default_paths()
    if args.index.resolve() == default_index_dir.resolve() and args.seeds.resolve() != default_seeds.resolve():
        print(f"note: commands without --index read {default_seeds} and will rebuild {args.index} from it; "
              f"pass --index DIR to keep an index of {args.seeds} apart.", file=sys.stderr)
    print(f"Indexed {m.passages} passages ({m.sentences} sentences) from {len(index.sources)} "
          f"document(s) into {args.index} in {time.perf_counter() - started:.1f}s "
          f"[model {m.model}, {m.dimension}-d, FAISS {m.faiss}].")
    counts = store.raw_manifest(args.index).get("build") or {}
    if counts.get("reused"):
        print(f"Re-used {counts['reused']} unchanged document(s), embedded {counts.get('embedded', 0)}.")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from rag.search.query import check_question

    check_question(args.question, args.k)
    passages = open_index_of(args).retrieve(args.question, args.k)
    if args.json:
        print(json.dumps([asdict(p) for p in passages], ensure_ascii=False, indent=2))
        return 0
    for n, p in enumerate(passages, start=1):
        print(f"[{n}] {p.score:.4f}  {p.citation.label()}  (chars {p.citation.start}-{p.citation.end})")
        print("    " + " ".join(p.text.split()))
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.errors import InputError
    from rag.search.query import check_question

    if args.question is not None:
        check_question(args.question, args.k)
        questions = [args.question]
    else:
        if sys.stdin.isatty():
            print("Type a question per line; Ctrl-D to finish.", file=sys.stderr)
        questions = None
    index = open_index_of(args, live=questions is None)
    stream = questions if questions is not None else (valid_text(line.rstrip("\n")) for line in _stdin_lines())
    failed = False
    history: list[str] | None = [] if args.conversation else None
    for question in stream:
        if questions is None and not question.strip():
            continue
        try:
            result = index.answer(question, args.k, history=history)
            if history is not None:
                history.append(question)
        except InputError as err:
            if questions is not None:
                raise
            print(f"rag: error: {err}", file=sys.stderr)
            failed = True
            continue
        if args.json:
            print(json.dumps(asdict(result), ensure_ascii=False), flush=True)
        else:
            searched = f"Searched for: {result.searched}\n" if result.searched else ""
            print(searched + result.text + "\n", flush=True)
    return 1 if failed else 0


def _stdin_lines() -> Any:
    """Standard input's lines; bytes that are not UTF-8 come through as surrogates for `valid_text`."""
    if hasattr(sys.stdin, "reconfigure"):
        sys.stdin.reconfigure(errors="surrogateescape")
    return iter(sys.stdin)


def cmd_feedback_export(args: argparse.Namespace) -> int:
    from rag.errors import InputError
    from rag.service.feedback import export_lines

    lines = export_lines(args.log)
    text = "".join(line + "\n" for line in lines)
    if args.out is None:
        sys.stdout.write(text)
    else:
        try:
            args.out.write_text(text, "utf-8")
        except OSError as err:
            raise InputError(f"Cannot write {args.out} ({err.strerror or err}); pass --out with a writable file.") from None
    print(f"{len(lines)} gold-set candidate(s), marked \"reviewed\": false; review each before adding it to a gold set.",
          file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from ui.server import check_logins, check_port, launch, launch_logins

    check_port(args.port)  # before the index loads: a typo should not cost a build
    check_logins(args.host, args.logins)
    if args.logins:
        from rag.service.user_commands import users_folder

        launch_logins(users_folder(args.users), host=args.host, port=args.port, upload=args.upload,
                      model=getattr(args, "model", None))
        return 0
    index = open_index_of(args, live=True)
    try:
        launch(index, host=args.host, port=args.port, upload=args.upload, feedback_log=args.feedback_log)
    finally:
        if hasattr(index, "close"):  # the live index: stop watching, and stop a rebuild before it writes
            index.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
