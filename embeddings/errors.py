"""Errors of the embeddings package. Each message says what went wrong and what to do next."""

from __future__ import annotations


class EncoderUnavailable(Exception):
    """A model cannot be loaded here (not installed, or only on a model hub this machine cannot reach)."""
