"""The `rag` command's argument parsing: argparse that suggests the nearest subcommand or option on a mistake.

Does not define the commands (`rag.cli` does) or run them.
"""

from __future__ import annotations

import argparse
import difflib
import re
from importlib import metadata
from typing import NoReturn


class SuggestingParser(argparse.ArgumentParser):
    """argparse, with "did you mean …?" on a mistyped subcommand or option."""

    def error(self, message: str) -> NoReturn:
        words: list[str] = []
        if match := re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message):
            typed, words = match[1], re.findall(r"'([^']*)'", match[2])
        elif match := re.search(r"unrecognized arguments: (\S+)", message):
            typed, words = match[1].split("=")[0], _options(self)
        if words and (near := difflib.get_close_matches(typed, words, n=1, cutoff=0.6)):
            message += f"; did you mean '{near[0]}'?"
        super().error(message)


def _options(parser: argparse.ArgumentParser) -> list[str]:
    """Every option string of `parser` and of its subcommands, at any depth."""
    found = list(parser._option_string_actions)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found += _options(child)
    return found


def version() -> str:
    """The installed package's version."""
    try:
        return metadata.version("rag")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


__all__ = ["SuggestingParser", "version"]
