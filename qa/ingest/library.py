"""The library: reports a user added (PDF, Word or text), kept in one folder beside the bundled report.

Layout of `REPORT_QA_LIBRARY` (default: `<REPORT_QA_HOME>/library`)::

    .lock                       file lock: one writer at a time (filelock)
    <id>/source.pdf             the file as given (.pdf / .docx / .txt)
    <id>/document.json          the parsed Document (the `corpus --json` shape, plus markers, warnings, meta)
    <id>/entry.json             metadata: symbol, title, language, date, sha256, counts, source name, added

An entry appears whole or not at all: it is written into a hidden `.incoming-*` folder (each file
fsynced) that is renamed to `<id>` in one step, under the lock. A write that fails or is killed halfway
leaves only that hidden folder, which readers ignore and the next writer (or the app's start,
`clean_leftovers`) deletes. Adding the same file
(same sha256) again changes nothing. Documents with one symbol in several languages are versions of
one report: `versions(symbol)` lists them, and adding one warns when paragraph counts differ.

`load_corpus_with_library()` is the corpus the CLI and the app serve: the bundled report(s) plus every
readable library document (a damaged entry is skipped with a warning); `with_library(documents)` adds the
library to other documents. Indexing stays incremental because `qa.retrieval.index.open_index` embeds
through the content-hash cache: a corpus with one new report embeds only that report's texts.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from qa.errors import UserError
from qa.ingest.files import MAX_BYTES, check_file, load_corpus, load_document, safe_name
from qa.ingest.versions import check_version, symbol_key
from qa.paths import library_dir
from qa.types import Corpus, Document, Footnote, Marker, Paragraph

log = logging.getLogger("report_qa.library")

FORMAT = 1
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")
LOCK_TIMEOUT_S = 120.0
INCOMING_ID = "incoming"  # the id a document is parsed under before it has its own

# progress(fraction 0..1, message): the same order as gradio.Progress.
AddProgress = Callable[[float, str], None]


class LibraryError(UserError):
    """A library operation that cannot be done; the message says why and what to do."""


# -------------------------------------------------------------------------------------- JSON records

def document_to_record(doc: Document) -> dict:
    """Everything needed to rebuild `doc` exactly: the public JSON plus markers, warnings and meta."""
    return {
        "format": FORMAT,
        "document": doc.to_json(),
        "markers": {str(p.n): [[m.n, m.offset] for m in p.markers] for p in doc.paragraphs if p.markers},
        "warnings": list(doc.warnings),
        "meta": dict(doc.meta),
    }


def document_from_record(rec: dict) -> Document:
    d = rec["document"]
    markers = rec.get("markers", {})
    paragraphs = [
        Paragraph(p["n"], p["text"], list(p["section"]), list(p["footnotes"]),
                  [Marker(n, off) for n, off in markers.get(str(p["n"]), [])])
        for p in d["paragraphs"]
    ]
    footnotes = [Footnote(f["n"], f["text"], f["paragraph"], list(f["urls"])) for f in d["footnotes"]]
    return Document(d["id"], d["title"], d["language"], paragraphs, footnotes, list(rec.get("warnings", [])),
                    dict(rec.get("meta", {})))


@dataclass
class Entry:
    """One report in the library (what `qa list` shows)."""

    id: str
    symbol: str | None
    title: str
    language: str
    date: str | None
    sha256: str
    source: str            # the file name as given
    file: str              # the stored copy, relative to the entry folder
    format: str            # pdf / docx / txt
    paragraphs: int
    footnotes: int
    warnings: int
    added: str
    bytes: int = 0

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> Entry:
        return cls(**{k: d.get(k) for k in cls.__dataclass_fields__})


@dataclass
class AddResult:
    """What `add` did: the entry, the parsed document, whether it was new, and what to tell the user."""

    entry: Entry
    document: Document
    added: bool
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        return {
            "id": self.entry.id, "added": self.added, "symbol": self.entry.symbol, "title": self.entry.title,
            "language": self.entry.language, "format": self.entry.format, "source": self.entry.source,
            "paragraphs": self.entry.paragraphs, "footnotes": self.entry.footnotes, "sha256": self.entry.sha256,
            "warnings": list(self.document.warnings), "notes": list(self.notes), "seconds": round(self.seconds, 2),
        }


# ------------------------------------------------------------------------------------------- helpers

def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write(path: Path, data: bytes) -> None:
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def copy_file(src: Path, dst: Path) -> None:
    """Copy with fsync (the hook tests use to interrupt a copy halfway)."""
    with src.open("rb") as fin, dst.open("wb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)
        fout.flush()
        os.fsync(fout.fileno())


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:80] or "report"


# ------------------------------------------------------------------------------------------- library

class Library:
    """A folder of reports. Reads need no lock (entries appear by rename); writes take the file lock."""

    def __init__(self, root: str | Path | None = None, *, max_bytes: int = MAX_BYTES):
        self.root = Path(root) if root else library_dir()
        self.max_bytes = max_bytes

    # -- reading
    def entries(self) -> list[Entry]:
        if not self.root.is_dir():
            return []
        out = []
        for d in sorted(self.root.iterdir()):
            if d.name.startswith(".") or not (d / "entry.json").is_file():
                continue
            try:
                out.append(Entry.from_json(json.loads((d / "entry.json").read_text(encoding="utf-8"))))
            except (OSError, ValueError, TypeError):
                continue
        return sorted(out, key=lambda e: (e.added, e.id))

    def get(self, doc_id: str) -> Entry:
        self._check_id(doc_id)
        f = self.root / doc_id / "entry.json"
        if not f.is_file():
            known = ", ".join(e.id for e in self.entries()) or "none"
            raise LibraryError(f"no report {doc_id!r} in the library (known: {known}); see qa list")
        return Entry.from_json(json.loads(f.read_text(encoding="utf-8")))

    def document(self, doc_id: str) -> Document:
        self.get(doc_id)
        try:
            rec = json.loads((self.root / doc_id / "document.json").read_text(encoding="utf-8"))
            return document_from_record(rec)
        except (OSError, ValueError, KeyError) as exc:
            raise LibraryError(f"library entry {doc_id} is damaged ({exc}); remove it (qa remove {doc_id}) "
                               "and add the file again") from exc

    def documents(self) -> list[Document]:
        return [self.document(e.id) for e in self.entries()]

    def versions(self, symbol: str) -> list[Entry]:
        """Every language version of the report with this symbol."""
        key = symbol_key(symbol)
        return [e for e in self.entries() if e.symbol and symbol_key(e.symbol) == key]

    # -- writing
    def _lock(self):
        self.root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.root / ".lock"), timeout=LOCK_TIMEOUT_S)
        try:
            lock.acquire()
        except Timeout as exc:
            raise LibraryError(f"the library {self.root} is busy (another process holds {self.root / '.lock'}); "
                               "try again") from exc
        return lock

    def _clean_stale(self) -> list[str]:
        """Leftovers of writes that were killed halfway (only called under the lock); their names."""
        gone = []
        for d in self.root.iterdir():
            if d.name.startswith((".incoming-", ".removing-")):
                shutil.rmtree(d, ignore_errors=True)
                gone.append(d.name)
        return gone

    def clean_leftovers(self) -> list[str]:
        """Remove what adds or removals killed halfway left (`.incoming-*`, `.removing-*`), under the lock; the
        app calls this at start-up. Returns the names removed."""
        if not self.root.is_dir() or not any(d.name.startswith((".incoming-", ".removing-")) for d in self.root.iterdir()):
            return []
        lock = self._lock()
        try:
            return self._clean_stale()
        finally:
            lock.release()

    @staticmethod
    def _check_id(doc_id: str) -> None:
        if not ID_RE.match(doc_id or "") or ".." in doc_id:
            raise LibraryError(f"invalid report id {doc_id!r}: ids are letters, digits, '.', '_' and '-' (see qa list)")

    def add(self, path: str | Path, *, symbol: str | None = None, title: str | None = None,
            language: str | None = None, name: str | None = None, date: str | None = None,
            progress: AddProgress | None = None) -> AddResult:
        """Parse `path` and store it. `name` is the file's own name when it came by upload."""
        t0 = time.perf_counter()
        step = progress or (lambda _f, _m: None)
        path = Path(path)
        name = safe_name(name if name is not None else path.name)
        step(0.0, f"checking {name}")
        kind = check_file(path, max_bytes=self.max_bytes)
        if Path(name).suffix.lower() != path.suffix.lower():
            raise LibraryError(f"{name}: the name's extension does not match the file ({path.suffix})")
        sha = file_sha256(path)
        for e in self.entries():
            if e.sha256 == sha:
                step(1.0, f"{name} is already in the library as {e.id}")
                return AddResult(e, self.document(e.id), False, time.perf_counter() - t0,
                                 [f"already in the library as {e.id}; nothing changed"])
        step(0.1, f"reading {name}")
        doc = load_document(path, doc_id=INCOMING_ID, title=title or "", language=language or "",
                            max_bytes=self.max_bytes,
                            progress=lambda d, t: step(0.1 + 0.6 * d / max(t, 1), f"reading {name}"))
        if not (doc.title or "").strip() or doc.title == INCOMING_ID:  # no title found: never the temporary id
            doc.title = str(doc.meta.get("pdf_title") or "").strip() or Path(name).stem
        symbol = (symbol or doc.meta.get("symbol") or "").strip() or None
        step(0.75, "saving")
        lock = self._lock()
        try:
            self._clean_stale()
            existing = self.entries()
            for e in existing:
                if e.sha256 == sha:   # another process added it while we parsed
                    return AddResult(e, self.document(e.id), False, time.perf_counter() - t0,
                                     [f"already in the library as {e.id}; nothing changed"])
                if symbol and e.symbol and symbol_key(e.symbol) == symbol_key(symbol) and e.language == doc.language:
                    raise LibraryError(f"{symbol} ({doc.language}) is already in the library as {e.id} from "
                                       f"{e.source}; remove it first (qa remove {e.id}) to replace it")
            base = slug(f"{symbol}-{doc.language}" if symbol else f"{Path(name).stem}-{doc.language}")
            taken = {e.id for e in existing} | {d.name for d in self.root.iterdir()}
            doc_id, k = base, 2
            while doc_id in taken:
                doc_id, k = f"{base}-{k}", k + 1
            doc.id = doc_id
            doc.meta.update({"symbol": symbol, "sha256": sha, "source": name, "format": kind,
                             "date": date or doc.meta.get("date")})
            entry = Entry(doc_id, symbol, doc.title, doc.language, doc.meta.get("date"), sha, name,
                          f"source{path.suffix.lower()}", kind, len(doc.paragraphs), len(doc.footnotes),
                          len(doc.warnings), time.strftime("%Y-%m-%dT%H:%M:%S%z"), path.stat().st_size)
            self._store(path, doc, entry)
        finally:
            lock.release()
        notes = self.version_notes(entry, doc)
        step(1.0, f"added {doc_id}: {entry.paragraphs} paragraphs, {entry.footnotes} footnotes")
        return AddResult(entry, doc, True, time.perf_counter() - t0, notes)

    def _store(self, path: Path, doc: Document, entry: Entry) -> None:
        try:
            tmp = Path(tempfile.mkdtemp(prefix=".incoming-", dir=self.root))
        except OSError as exc:
            raise _disk_full(exc, self.root, entry.source) or exc from None
        try:
            copy_file(path, tmp / entry.file)
            _write(tmp / "document.json", json.dumps(document_to_record(doc), ensure_ascii=False).encode())
            _write(tmp / "entry.json", json.dumps(entry.to_json(), ensure_ascii=False, indent=1).encode())
            _fsync_dir(tmp)
            os.replace(tmp, self.root / entry.id)
            _fsync_dir(self.root)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            full = _disk_full(exc, self.root, entry.source)  # issue 17: a full disk is a clear message, not a traceback
            if full is not None:
                raise full from exc
            raise

    def remove(self, doc_id: str) -> Entry:
        self._check_id(doc_id)
        lock = self._lock()
        try:
            entry = self.get(doc_id)
            trash = self.root / f".removing-{doc_id}-{os.getpid()}"
            os.replace(self.root / doc_id, trash)
            _fsync_dir(self.root)
            shutil.rmtree(trash, ignore_errors=True)
            return entry
        finally:
            lock.release()

    def version_notes(self, entry: Entry, doc: Document, others: list[Document] | None = None) -> list[str]:
        """Warnings when other language versions of this report disagree on the paragraph count, or (checked against
        the first other version, ¶ by ¶) on the numbers, dates, footnote markers or web addresses."""
        if not entry.symbol:
            return []
        notes, checked = [], False
        for e in self.versions(entry.symbol):
            if e.id != entry.id and e.paragraphs != entry.paragraphs:
                notes.append(f"{entry.symbol}: the {entry.language} version has {entry.paragraphs} paragraphs but the "
                             f"{e.language} version ({e.id}) has {e.paragraphs}; ¶ numbers may not line up")
            if e.id != entry.id and e.language != entry.language and not checked:  # ¶ by ¶, against the first
                checked = True
                try:
                    check = check_version(self.document(e.id), doc)
                except LibraryError:
                    continue
                if check.misaligned or check.footnotes_misaligned:
                    notes.append(f"{entry.symbol}: against the {e.language} version ({e.id}): {check.summary()}; "
                                 f"see qa versions {entry.symbol}")
                    notes += [f"{entry.symbol}: {n}" for n in check.notes]
        for d in others or []:
            if d.meta.get("symbol") and symbol_key(d.meta["symbol"]) == symbol_key(entry.symbol) \
                    and len(d.paragraphs) != entry.paragraphs and d.id != entry.id:
                notes.append(f"{entry.symbol}: the {entry.language} version has {entry.paragraphs} paragraphs but "
                             f"{d.id} ({d.language}) has {len(d.paragraphs)}")
        return notes


def _disk_full(exc: BaseException, root: Path, name: str) -> LibraryError | None:
    """A LibraryError for "no space left" / "quota exceeded" (nothing was kept), else None."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return LibraryError(f"the disk is full ({root}): {name} was not added and nothing of it was kept; "
                            "free some space (or ask the server's administrator) and try again")
    return None


# ------------------------------------------------------------------------------- module-level helpers

def add(path: str | Path, *, symbol: str | None = None, title: str | None = None, language: str | None = None,
        name: str | None = None, progress: AddProgress | None = None, library: Library | None = None) -> AddResult:
    return (library or Library()).add(path, symbol=symbol, title=title, language=language, name=name,
                                      progress=progress)


def remove(doc_id: str, *, library: Library | None = None) -> Entry:
    return (library or Library()).remove(doc_id)


def entries(*, library: Library | None = None) -> list[Entry]:
    return (library or Library()).entries()


def versions(symbol: str, corpus: Corpus | None = None, *, library: Library | None = None) -> list[Document]:
    """Every document (bundled or added) whose symbol is `symbol`: the language versions of one report."""
    corpus = corpus or load_corpus_with_library(library=library)
    key = symbol_key(symbol)
    return [d for d in corpus.documents if d.meta.get("symbol") and symbol_key(d.meta["symbol"]) == key]


def version_warnings(corpus: Corpus) -> list[str]:
    """One line per report whose language versions disagree on the number of paragraphs."""
    groups: dict[str, list[Document]] = {}
    for d in corpus.documents:
        if d.meta.get("symbol"):
            groups.setdefault(symbol_key(d.meta["symbol"]), []).append(d)
    out = []
    for docs in groups.values():
        counts = {d.id: len(d.paragraphs) for d in docs}
        if len(set(counts.values())) > 1:
            detail = ", ".join(f"{d.language} {len(d.paragraphs)} ¶ ({d.id})" for d in docs)
            out.append(f"{docs[0].meta['symbol']}: language versions differ in paragraph count: {detail}")
    return out


def with_library(documents: list[Document], library: Library | None = None) -> Corpus:
    """`documents` plus every readable report in the library whose id is not taken yet. A damaged library
    entry is skipped with a warning (logged), so one bad entry never stops the CLI or the app."""
    library = library or Library()
    docs, taken = list(documents), {d.id for d in documents}
    for e in library.entries():
        if e.id in taken:
            continue
        try:
            docs.append(library.document(e.id))
        except LibraryError as exc:
            log.warning("library: %s", exc)
            continue
        taken.add(e.id)
    return Corpus(docs)


def load_corpus_with_library(paths: list[str | Path] | None = None, *, library: Library | None = None) -> Corpus:
    """The corpus the CLI and the app serve: the bundled report(s) (or `paths`) plus the library's reports; the
    bundled report always loads, a damaged library entry is skipped with a warning."""
    return with_library(load_corpus(paths or None).documents, library)
