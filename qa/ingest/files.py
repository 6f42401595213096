"""Which reader for which file, and the checks every file passes before a reader sees it.

`load_document(path)` sends `.pdf` to `qa.ingest.pdf`, `.docx` to `qa.ingest.docx` and `.txt` to
`qa.ingest.txt`, after `check_file`: the file exists and is not empty, is within the size limit, its
content is what its extension says (magic bytes, not the name), and a Word file is a sane ZIP (member
count, total uncompressed size and compression ratio checked from the directory before anything is
inflated, so a zip bomb is refused unread). `safe_name` refuses names that could leave a folder (`../`).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from pathlib import Path

from qa.ingest.txt import CorpusError
from qa.types import Corpus, Document

MAX_BYTES = 50 * 1024 * 1024          # the largest report file accepted
MAX_UNZIPPED = 200 * 1024 * 1024      # a Word file's parts together, uncompressed
MAX_RATIO = 100                       # uncompressed / compressed size of one ZIP member
MAX_MEMBERS = 5000
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


def check_zip(path: Path, *, max_unzipped: int = MAX_UNZIPPED, max_ratio: int = MAX_RATIO,
              max_members: int = MAX_MEMBERS) -> None:
    """Refuse a ZIP whose directory promises too much (a zip bomb) before inflating any of it."""
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise CorpusError(f"{path.name}: the Word file is damaged or cut off ({exc})") from exc
    if len(infos) > max_members:
        raise CorpusError(f"{path.name}: refused: {len(infos)} parts inside the Word file (at most {max_members})")
    total = sum(i.file_size for i in infos)
    if total > max_unzipped:
        raise CorpusError(f"{path.name}: refused: the Word file unpacks to {total / 2**20:.0f} MB "
                          f"(at most {max_unzipped / 2**20:.0f} MB); it may be a zip bomb")
    for i in infos:
        if i.file_size > 1_000_000 and i.file_size > max_ratio * max(i.compress_size, 1):
            raise CorpusError(f"{path.name}: refused: part {i.filename} is compressed {i.file_size // max(i.compress_size, 1)}:1 "
                              f"(at most {max_ratio}:1); it may be a zip bomb")
    names = {i.filename for i in infos}
    if "word/document.xml" not in names and not any(n.endswith("document.xml") for n in names):
        raise CorpusError(f"{path.name}: a ZIP file without a Word document inside")


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


def doc_id_for(path: Path) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", path.stem).strip("-") or "doc"


def load_document(path: str | Path, *, doc_id: str | None = None, title: str = "", language: str = "",
                  max_bytes: int = MAX_BYTES, progress: Progress | None = None) -> Document:
    """Parse a .pdf, .docx or .txt report into a `Document` (same rules and JSON for all three)."""
    path = Path(path)
    kind = check_file(path, max_bytes=max_bytes)
    if kind == "txt":
        from qa.ingest import txt

        doc = txt.load_document(path)
        if doc_id:
            doc.id = doc_id
        doc.title = title or doc.title
        doc.language = language or doc.language
    elif kind == "pdf":
        from qa.ingest.pdf import parse_pdf

        doc = parse_pdf(path, doc_id=doc_id or doc_id_for(path), title=title, language=language, progress=progress)
    else:
        from qa.ingest.docx import parse_docx

        doc = parse_docx(path, doc_id=doc_id or doc_id_for(path), title=title, language=language, progress=progress)
    doc.meta.setdefault("source", path.name)
    doc.meta.setdefault("format", kind)
    if not doc.meta.get("symbol") and doc.meta.get("detected_symbol"):
        doc.meta["symbol"] = doc.meta["detected_symbol"]
    return doc


def load_corpus(paths: list[str | Path] | None = None) -> Corpus:
    """Like `qa.ingest.txt.load_corpus`, for any mix of .pdf, .docx and .txt files."""
    from qa.ingest import txt

    return txt.load_corpus(paths, load=load_document)
