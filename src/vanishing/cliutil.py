"""Command-line helpers that several command modules share.

Owns the one-line argparse parser (:class:`OneLineParser`) and
:func:`split_top_level`, the comma splitter that respects parentheses. It sits
*below* :mod:`vanishing.cli` and every ``*/commands.py`` module, imports
nothing from the package, and so lets the sub-command modules share helpers
without importing the CLI that imports them (SPEC §15: imports point one way).
"""

from __future__ import annotations

import argparse


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports bad arguments in one line and exits with 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {self.prog}: {message} (see --help)\n")


def split_top_level(text: str) -> list[str]:
    """Split on commas outside parentheses: 'relu,leaky_relu(alpha=0.1)' → ['relu', 'leaky_relu(alpha=0.1)']."""
    parts, depth, current = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


__all__ = ["OneLineParser", "split_top_level"]
