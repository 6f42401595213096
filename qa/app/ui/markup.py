"""Small markup helpers every renderer shares: Markdown escaping (text and code spans), paragraph anchors and the
URL check."""

from __future__ import annotations

import html
import re
from urllib.parse import urlparse

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~$])")


def escape_md(text: str) -> str:
    """Text shown literally inside Markdown: HTML-escaped, then Markdown punctuation backslash-escaped."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def code_md(text: str) -> str:
    """`text` as one Markdown code span, shown exactly: no backslash escapes (a code span shows them literally), a
    fence of backticks longer than any run inside, a space of padding where the text starts or ends with one, and
    line breaks as spaces (a code span is one line). Markdown and HTML inside a code span are not interpreted."""
    text = " ".join(str(text).splitlines()) or " "
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or (text.startswith(" ") and text.endswith(" ")) else ""
    return f"{fence}{pad}{text}{pad}{fence}"


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
