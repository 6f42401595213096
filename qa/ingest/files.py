"""Which reader for which file, the checks every file passes before a reader sees it, and the corpus.

`load_document(path)` sends `.pdf` to `qa.ingest.pdf`, `.docx` to `qa.ingest.docx` and `.txt` to
`qa.ingest.txt`, after `check_file`: the file exists and is not empty, is within the size limit, its
content is what its extension says (magic bytes, not the name), and a Word file is a sane ZIP
(`qa.ingest.docx.check_zip`: member count, total uncompressed size and compression ratio checked from the
directory before anything is inflated, so a zip bomb is refused unread). `safe_name` refuses names that
could leave a folder (`../`). `load_corpus(paths)` reads several files, or with none the bundled report(s)
(`REPORT_QA_DATA`, else `qa/data`); `qa.ingest.library.load_corpus_with_library` adds the library's reports.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

from qa.ingest import txt
from qa.ingest.docx import check_zip, parse_docx
from qa.ingest.pdf import parse_pdf
from qa.ingest.structure import CorpusError, doc_id_for
from qa.types import Corpus, Document

__all__ = ["KINDS", "MAX_BYTES", "check_file", "check_zip", "default_paths", "load_corpus", "load_document",
           "safe_name", "sniff"]

DATA_DIR = Path(str(files("qa") / "data"))   # the bundled report(s)

MAX_BYTES = 50 * 1024 * 1024          # the largest report file accepted
KINDS = {".pdf": "pdf", ".docx": "docx", ".txt": "txt"}
_KIND_NAMES = {"pdf": "a PDF", "docx": "a Word (.docx) file", "zip": "a ZIP archive (not a Word file)",
               "txt": "plain text", "binary": "binary data", "doc": "an old Word (.doc) file",
               "html": "an HTML page", "image": "an image"}

Progress = Callable[[int, int], None]


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 1024:.0f} KB"


def sniff(head: bytes) -> str:
    """What the first bytes of a file say it is: pdf, docx / zip, doc, html, txt or binary."""
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return "docx" if b"[Content_Types].xml" in head or b"word/" in head else "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "doc"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"II*\x00", b"MM\x00*")):
        return "image"
    low = head[:512].lstrip().lower()
    if low.startswith((b"<!doctype html", b"<html")):
        return "html"
    if b"\x00" in head:
        return "binary"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:   # a multibyte character cut at the end of the sample is fine
            return "binary"
    return "txt"


def safe_name(name: str) -> str:
    """A file name from a user or a browser, refused if it could point outside its folder."""
    if not name or not name.strip():
        raise CorpusError("the file has no name")
    if "\x00" in name or "/" in name or "\\" in name or name in (".", "..") or ".." in Path(name).parts \
            or re.match(r"^[A-Za-z]:", name) or name.startswith("~"):
        raise CorpusError(f"unsafe file name {name!r}: give a plain file name without folders or '../'")
    if len(name) > 255:
        raise CorpusError("the file name is longer than 255 characters")
    return name


def check_file(path: str | Path, *, max_bytes: int = MAX_BYTES) -> str:
    """The reader kind for `path` ('pdf', 'docx' or 'txt') once the file passed the checks."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"{path}: no such file")
    if not path.is_file():
        raise CorpusError(f"{path}: not a file")
    ext = path.suffix.lower()
    if ext not in KINDS:
        raise CorpusError(f"{path.name}: unsupported file type {ext or '(none)'}; give a .pdf, .docx or .txt report")
    size = path.stat().st_size
    if size == 0:
        raise CorpusError(f"{path.name}: the file is empty")
    if size > max_bytes:
        raise CorpusError(f"{path.name}: {_size(size)} is over the {_size(max_bytes)} limit; split or compress the file")
    with path.open("rb") as f:
        head = f.read(4096)
    kind, found = KINDS[ext], sniff(head)
    if kind == "txt" and found == "binary":
        return kind   # the text reader names the encoding problem (bad byte, offset, how to convert)
    if found != kind:
        raise CorpusError(f"{path.name}: the name says {ext} but the content is {_KIND_NAMES.get(found, found)}; "
                          "rename it or export it again")
    if kind == "docx":
        check_zip(path)
    return kind


def load_document(path: str | Path, *, doc_id: str | None = None, title: str = "", language: str = "",
                  max_bytes: int = MAX_BYTES, progress: Progress | None = None) -> Document:
    """Parse a .pdf, .docx or .txt report into a `Document` (same rules and JSON for all three)."""
    path = Path(path)
    kind = check_file(path, max_bytes=max_bytes)
    if kind == "txt":
        doc = txt.load_document(path)
        if doc_id:
            doc.id = doc_id
        doc.title = title or doc.title
        doc.language = language or doc.language
    elif kind == "pdf":
        doc = parse_pdf(path, doc_id=doc_id or doc_id_for(path), title=title, language=language, progress=progress)
    else:
        doc = parse_docx(path, doc_id=doc_id or doc_id_for(path), title=title, language=language, progress=progress)
    doc.meta.setdefault("source", path.name)
    doc.meta.setdefault("format", kind)
    if not doc.meta.get("symbol") and doc.meta.get("detected_symbol"):
        doc.meta["symbol"] = doc.meta["detected_symbol"]
    return doc


def default_paths() -> list[Path]:
    """The bundled report texts: `REPORT_QA_DATA`, else the package's `qa/data`."""
    data_dir = Path(os.environ.get("REPORT_QA_DATA") or DATA_DIR)
    if not data_dir.is_dir():
        raise CorpusError(f"data folder {data_dir} is missing; restore data/ from the repository or pass a report PATH")
    paths = sorted(data_dir.glob("*.txt"))
    if not paths:
        raise CorpusError(f"no report texts (*.txt) in {data_dir}; restore data/ from the repository or pass a report PATH")
    return paths


def load_corpus(paths: list[str | Path] | None = None) -> Corpus:
    """The documents of `paths` (any mix of .pdf, .docx and .txt), or with none the bundled report(s).
    Two documents with one id are refused."""
    docs = [load_document(p) for p in (paths or default_paths())]
    ids = [d.id for d in docs]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise CorpusError(f"two documents share the id {sorted(dup)[0]!r}; give each its own file name or sidecar id")
    return Corpus(docs)
