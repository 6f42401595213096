"""User-facing errors: each message says what went wrong and what to do next."""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input or environment; the CLI prints it on one line, exit code 2."""
