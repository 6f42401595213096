"""Questions as users really type them: empty, pasted pages, emoji, markup, control characters."""

from __future__ import annotations

import re
import unicodedata

from qa.errors import UserError

MAX_QUESTION_CHARS = 1000


class BadQuestion(UserError):
    """A question we cannot search; the message tells the user what to type instead."""


def clean_question(text: str | None, *, max_chars: int = MAX_QUESTION_CHARS) -> tuple[str, str | None]:
    """The searchable question and an optional notice (e.g. it was truncated). Raises BadQuestion."""
    if text is None:
        text = ""
    if not isinstance(text, str):
        text = str(text)
    # Drop control and format characters (NUL, escapes, zero-width) but keep line breaks as spaces.
    cleaned = "".join(
        " " if ch in "\n\r\t" else ch
        for ch in text
        if ch in "\n\r\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn")
    )
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    if not cleaned:
        raise BadQuestion("the question is empty; type a question about the report, e.g. “How many field presences does OHCHR have?”")
    if not any(unicodedata.category(ch)[0] in "LN" for ch in cleaned):
        raise BadQuestion("the question has no words or numbers (only punctuation or symbols); type a question in words")
    notice = None
    if len(cleaned) > max_chars:
        notice = (f"Your question was {len(cleaned):,} characters long; only the first {max_chars:,} were searched. "
                  "Ask about one topic at a time for the best answers.")
        cleaned = cleaned[:max_chars].rstrip()
    return cleaned, notice
