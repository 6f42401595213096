"""Small markup helpers every renderer shares: Markdown escaping, paragraph anchors and the URL check."""

from __future__ import annotations

import html
import re
from urllib.parse import urlparse

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~$])")


def escape_md(text: str) -> str:
    """Text shown literally inside Markdown: HTML-escaped, then Markdown punctuation backslash-escaped."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def anchor(doc: str, n: int) -> str:
    """The element id of ¶n of report `doc` in the evidence panel ("rqa-p-<doc>-<n>"), what citations link to."""
    return "rqa-p-" + re.sub(r"[^A-Za-z0-9_-]", "-", doc) + f"-{n}"


def safe_url(url: str) -> str | None:
    """`url` when it is an absolute http(s) address, else None (never a javascript: or relative link)."""
    try:
        parsed = urlparse(url)
    except ValueError:
        return None
    return url if parsed.scheme in ("http", "https") and parsed.netloc else None
