"""The terminal styles of the comparisons' plain-text forms (ANSI SGR codes, the bytes
click.style writes). Printed with click.echo, they are stripped where the output is no
terminal; the diff asks for colour only where it is one (and NO_COLOR is not set)."""

from __future__ import annotations

_RESET = "\x1b[0m"


def bold(text: str) -> str:
    return f"\x1b[1m{text}{_RESET}"


def deleted(text: str) -> str:
    """Red and struck through."""
    return f"\x1b[31m\x1b[9m{text}{_RESET}"


def inserted(text: str) -> str:
    """Green."""
    return f"\x1b[32m\x1b[29m{text}{_RESET}"
