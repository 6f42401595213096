"""User-facing errors: each message says what went wrong and what to do next."""

from __future__ import annotations

from embeddings.errors import EncoderUnavailable
from embeddings.stores import StoreUnavailable


class UserError(Exception):
    """A problem with the user's input or environment; the CLI prints it on one line, exit code 2."""


# What the CLI, the app and the API show as one clear line (never a traceback).
USER_ERRORS: tuple[type[Exception], ...] = (UserError, EncoderUnavailable, StoreUnavailable)
