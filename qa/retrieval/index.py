"""Corpus → retrieval units → embeddings (cached by content hash) → a saved vector store per encoder.

`open_index` is the one entry point: it opens the store `--store` names (FAISS files under the cache
home by default, or Milvus; embeddings/stores/), loads the saved store when its manifest matches the
model and the corpus, and rebuilds (with a log line saying why) when the store is missing, built for
another model or corpus, or fails its checksum.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from embeddings.cache import EmbeddingCache
from embeddings.encoders import Encoder
from embeddings.stores import IndexMissing, IndexProblem, Store, open_store
from qa.paths import cache_home
from qa.text import URL_RE
from qa.types import Corpus, Paragraph, UnitKind

log = logging.getLogger("report_qa")
UNIT_TYPE = "paragraph+heading+sentence+clause+footnote/v7"  # v6: records carry lang; v7: more abbreviations


@dataclass(frozen=True)
class Unit:
    """One retrieval unit of a paragraph. `sentence` indexes `Paragraph.spans`; `span` is that sentence's offsets."""

    doc: str
    paragraph: int
    kind: UnitKind
    sentence: int = -1
    footnote: int | None = None
    text: str = ""
    span: tuple[int, int] | None = None

    def record(self) -> dict:
        """The opaque record the vector store keeps beside the vector."""
        d = asdict(self)
        d["span"] = list(self.span) if self.span else None
        return d

    @classmethod
    def from_record(cls, r: dict) -> Unit:
        return cls(r["doc"], r["paragraph"], r["kind"], r.get("sentence", -1), r.get("footnote"), r.get("text", ""),
                   tuple(r["span"]) if r.get("span") else None)


def corpus_checksum(corpus: Corpus) -> str:
    return hashlib.sha256(json.dumps(corpus.to_json(), ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def heading_context(p: Paragraph) -> str:
    """The section and subsection titles without their enumerators: context for a paragraph."""
    titles = [re.sub(r"^(?:[A-ZА-Я]|\d+|[IVXLC]+)\.\s*", "", s) for s in p.section[1:]] or p.section[:1]
    return " ".join(titles)


_CLAUSE_END = re.compile(r"(?<=[，；：,;:])")


def clause_windows(sentence: str, *, min_chars: int = 4) -> list[str]:
    """Clauses of a long sentence, alone and in pairs: small units an English query can match.

    A sentence that is a single clause yields nothing (the sentence unit already covers it).
    """
    parts = [c for c in _CLAUSE_END.split(sentence) if len(c.strip()) >= min_chars]
    if len(parts) < 2:
        return []
    out = []
    for j, c in enumerate(parts):
        out.append(c.strip())
        if j + 1 < len(parts):
            out.append((c + parts[j + 1]).strip())
    return out


_URL_NOISE = {"www", "http", "https", "pdf", "aspx", "html", "htm", "pages", "documents", "files", "sites", "default",
              "content", "uploads", "wp", "en", "fr", "es", "ch", "newsid", "langid", "displaynews", "newsevents"}


def footnote_search_text(text: str) -> str:
    """A footnote as embedded for search: its words, and of each web address only the words of its file name.

    Host names and path boilerplate ("www.ohchr.org/EN/…/Pages") would make every footnote look
    alike to an English question; the file name ("COVID-19-and-Special-Procedures") says what it is.
    """
    def words(m: re.Match) -> str:
        path = m.group(0).split("?")[0].rstrip("/。.,")
        last = path.rsplit("/", 1)[-1] if "/" in path else ""
        toks = [t for t in re.split(r"[_\-.=&/]+|(?<=[a-z])(?=[A-Z])", last) if t]
        keep = [t for t in toks if t.lower() not in _URL_NOISE and not t.isdigit()]
        return " ".join(keep)

    return re.sub(r"\s+", " ", URL_RE.sub(words, text)).strip() or text


def build_units(corpus: Corpus) -> list[Unit]:
    units: list[Unit] = []
    for doc in corpus.documents:
        for p in doc.paragraphs:
            ctx = heading_context(p)
            units.append(Unit(doc.id, p.n, "paragraph", text=f"{ctx}：{p.text}" if ctx else p.text))
            if ctx:
                units.append(Unit(doc.id, p.n, "heading", text=ctx))
            for i, span in enumerate(p.spans):
                s = p.text[span[0]:span[1]]
                units.append(Unit(doc.id, p.n, "sentence", sentence=i, text=s, span=span))
                for c in clause_windows(s):
                    units.append(Unit(doc.id, p.n, "clause", sentence=i, text=c, span=span))
        for f in doc.footnotes:
            if f.paragraph is not None:
                units.append(Unit(doc.id, f.paragraph, "footnote", footnote=f.n, text=footnote_search_text(f.text)))
    return units


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[-80:] or "model"


@dataclass
class IndexHome:
    """Where indexes and the embedding cache go; falls back to memory when it is not writable."""

    root: Path | None
    note: str = ""

    @classmethod
    def resolve(cls, root: Path | None = None) -> IndexHome:
        root = Path(root) if root else cache_home()
        try:
            root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=root, prefix=".probe-"):
                pass
            return cls(root)
        except OSError as exc:
            note = (f"cache directory {root} is not writable ({exc.strerror}); working in memory this time. "
                    "Set REPORT_QA_HOME to a writable folder to keep the index between runs")
            return cls(None, note)


def _progress_printer(label: str, stream=None) -> Callable[[int, int], None]:
    """A tqdm bar on a terminal; a plain line per quarter when stderr is a log file."""
    stream = stream or sys.stderr
    tty = hasattr(stream, "isatty") and stream.isatty()
    state: dict = {"bar": None, "quarter": -1}

    def show(done: int, total: int) -> None:
        if tty:
            from tqdm import tqdm

            if state["bar"] is None:
                state["bar"] = tqdm(total=total, desc=label, file=stream, unit="text", leave=True)
            state["bar"].update(done - state["bar"].n)
            if done >= total:
                state["bar"].close()
            return
        quarter = 4 * done // max(total, 1)
        if quarter != state["quarter"]:
            state["quarter"] = quarter
            stream.write(f"{label}: {done}/{total}\n")
            stream.flush()

    return show


def open_index(corpus: Corpus, encoder: Encoder, *, home: IndexHome | None = None, rebuild: bool = False,
               progress: Callable[[int, int], None] | None = None, quiet: bool = False,
               store_uri: str | None = None) -> tuple[Store, dict]:
    """Load the saved store for (corpus, encoder) or build it. Returns the store and a build report.

    `store_uri` (`--store`): None for FAISS files under `home`, or `milvus://HOST:PORT` / a Milvus Lite
    `*.db` path (`embeddings.stores.open_store`); the embedding cache stays under `home` either way.
    """
    home = home or IndexHome.resolve()
    location = open_store(store_uri)
    csum = corpus_checksum(corpus)
    expect = {
        "model": encoder.name, "model_fingerprint": encoder.fingerprint, "corpus_sha256": csum,
        "unit_type": UNIT_TYPE, "prompts": {"query": encoder.query_prompt, "passage": encoder.passage_prompt},
    }
    folder = home.root / "index" / csum[:16] / _safe(encoder.name) if home.root else None
    key = location.key_for(expect, folder)  # FAISS: that folder; Milvus: a collection name
    report: dict = {"model": encoder.name, "path": location.address(key), "rebuilt_because": None,
                    "store": location.label}
    if home.note:
        log.warning(home.note)
        report["note"] = home.note
    if key is not None and not rebuild:
        try:
            t0 = time.perf_counter()
            store = location.load(key, expect=expect)
            report.update(loaded=True, seconds=time.perf_counter() - t0, units=len(store.units))
            return store, report
        except IndexProblem as problem:
            if not isinstance(problem, IndexMissing):
                log.warning("index at %s not used: %s; rebuilding", key, problem.reason)
            report["rebuilt_because"] = problem.reason
    t0 = time.perf_counter()
    units = build_units(corpus)
    cache = EmbeddingCache(home.root / "embeddings.sqlite3" if home.root else None)
    if progress is None and not quiet:
        progress = _progress_printer(f"embedding with {encoder.name}")
    vectors = cache.embed([u.text for u in units], fingerprint=encoder.fingerprint, role="passage",
                          dim=encoder.dim, encode=encoder.encode_passages, progress=progress)
    langs = {d.id: d.language for d in corpus.documents}
    records = [{**u.record(), "lang": langs.get(u.doc)} for u in units]  # lang: for store filters
    store = location.build(vectors, records, manifest=expect)
    if key is not None:
        try:
            location.save(store, key)  # Milvus wrote it while building
        except OSError as exc:
            log.warning("could not save the index to %s (%s); using it from memory", key, exc.strerror)
            report["path"] = None
    report.update(loaded=False, seconds=time.perf_counter() - t0, units=len(units),
                  embedded=cache.misses, reused=cache.hits)
    return store, report


def configure_logging() -> None:
    if not logging.getLogger("report_qa").handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("report-qa: %(message)s"))
        logging.getLogger("report_qa").addHandler(handler)
        logging.getLogger("report_qa").setLevel(os.environ.get("REPORT_QA_LOG", "INFO"))
