"""Retrieval served by Milvus: the collection, its dense and BM25 searches and the filters stay in the engine.

`ServedRetriever` answers a question with a fixed number of engine round trips whatever the collection's size,
and holds no records and no corpus: only the query encoders (e5, optionally USE), the per-document metadata and
the bridge's data kept in the collection's manifest, and the vectors of a fixed statistics sample (below).

- `fusion="local"` (default): one dense search per vector field (e5, and USE where the collection has it; top
  `depth` units), one BM25 search (top `depth` paragraphs for the question, plus the bridge's Chinese forms and
  the `place` forms as extra text queries) and one BM25 request for the statistics sample's paragraphs, sent at
  once from worker threads: 3 (4 with USE) round trips. The lists are fused here with the weights of
  fusion.json for the question's group.
- `fusion="rrf"` / `"weighted"`: the same requests in one `hybrid_search`, grouped by paragraph and fused in
  Milvus by `RRFRanker(60)` or `WeightedRanker` (the group's weights): 1 round trip.

**Statistics, as the local engine takes them.** Fusion standardizes each signal with its mean and standard
deviation over the collection. The build picks a fixed sample of `SAMPLE_SIZE` paragraphs (every paragraph of a
smaller collection; seeded, as `Retriever` draws its own) and writes their units first, so opening reads the
sample's vectors in one request per 16,384 units (a fixed cost, whatever the collection's size). Per question the
sample's dense components are scored here (a few thousand dot products) and its BM25 comes from the engine in the
parallel request above. A dense signal is standardized with the sample's moments. A lexical signal's moments are
stratified: its top list is known exactly, every other paragraph scores 0 when the list is not full, and
otherwise the sample's paragraphs off the list stand for the rest. The fused top-1 margin over the sample is the
local engine's `confidence`.

**BM25, as the local engine scores it.** The BM25 text of each paragraph (its section titles, text and
footnotes, as `LexicalIndex` reads it) is written as the engine's own tokens (`lexical.tokenize`: jieba words,
CJK bigrams, Latin and number tokens), each as one ASCII word (`term`), so Milvus' `standard` analyzer keeps
them whole; the BM25 index has bm25s' k1 = 1.5, b = 0.75. The paragraphs are a collection of their own
(`<name>_lexical`): BM25 statistics (document count, average length) over paragraphs only, as `LexicalIndex`
counts them, where the unit collection would count every sentence row as a document. The unit collection keeps
the same tokens on its paragraph units for `hybrid_search`, which needs every request in one collection.

Records (paragraph text, section, footnotes) come by id for the hits shown: `fetch` (1 more round trip).
A served collection is built by `build_served` from the unit vectors and records `open_index` makes: by default
paragraph and sentence units (`kinds=ALL_KINDS` keeps headings, clauses and footnotes too), optionally USE's
vectors of the same units as a second vector field; each record carries `passage` (the id of its paragraph's
unit) and the paragraph unit carries its section and footnotes.
"""

from __future__ import annotations

import functools
import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from embeddings.stores.milvus import FETCH_ROWS, MAX_TOPK, MilvusStore, filter_expression
from qa.retrieval.bridge import PLACE_KINDS, Bridge, bridge_query
from qa.retrieval.fusion import DENSE_WEIGHTS, FusionConfig, query_group
from qa.retrieval.lexical import tokenize
from qa.retrieval.signals import SAMPLE_SIZE
from qa.text import cjk_share, detect_language
from qa.types import Corpus

__all__ = ["SERVED_KINDS", "ServedHit", "ServedLayout", "ServedResult", "ServedRetriever", "build_served",
           "lexical_text", "served_records"]

SERVED_KINDS = ("paragraph", "sentence")  # the default: what pays off at scale
ALL_KINDS = ("paragraph", "heading", "sentence", "clause", "footnote")
DEPTH = 600  # candidates per list (units for dense, paragraphs for BM25)
RRF_K = 60
FIRST_READ = 50  # stage 2 reads these best candidates first; the rest only where they can still enter the top
EXACT = 2_000  # candidates (best first, by their provisional score) that stage 2 may score exactly: in practice every
# candidate, since only those whose upper bound reaches the top_k-th exact score are read (median 50-80 of them)
UNIT_RUNS = "report-qa-unit-runs/1"  # each paragraph's units are ids passage .. passage + units - 1 (in the manifest)
LEXICAL_TOKENS = "report-qa-lexical/1"  # how `lexical_text` writes the engine's tokens (in the manifest)
BM25 = {"k1": 1.5, "b": 0.75}  # bm25s' defaults, with which LexicalIndex scores
LEXICAL_ANALYZER = {"tokenizer": "standard"}  # splits on non-word characters: a `term` stays one token
_KIND = {"paragraph": 0, "heading": 1, "sentence": 2, "clause": 3, "footnote": 2}  # a footnote counts as a sentence


@dataclass
class ServedHit:
    doc: str
    paragraph: int
    score: float
    rank: int
    passage: int  # the id of the paragraph's unit: `fetch` reads its record
    signals: dict[str, float] = field(default_factory=dict)
    # per encoder, its best sentence, clause and footnote units on the dense list: (encoder, kind, unit id, cosine)
    evidence: list[tuple[str, str, int, float]] = field(default_factory=list)


@dataclass
class ServedResult:
    """A served search: the hits, the fused top-1 margin over the sample (the local engine's `confidence`; None
    without a sample), and the highest raw cosine of any unit per encoder (for the "not covered" rule)."""

    hits: list[ServedHit]
    confidence: float | None = None
    top_similarity: dict[str, float] = field(default_factory=dict)
    sample_scores: np.ndarray | None = None  # the fused score of every sample paragraph


@dataclass
class ServedLayout:
    """The units a served collection keeps: positions into the given records (in collection order), their new
    records, and the statistics sample (passage ids of its paragraphs; their units are the first `sample_units`)."""

    keep: np.ndarray
    records: list[dict]
    sample: np.ndarray
    sample_units: int


# --- BM25 text ---------------------------------------------------------------------------------------

def term(token: str) -> str:
    """An engine token as one ASCII word (`t` + 16 hex digits), which any Milvus analyzer keeps whole."""
    return "t" + hashlib.blake2b(token.encode(), digest_size=8).hexdigest()


def lexical_text(text: str, *, document: bool = False) -> str:
    """The engine's BM25 tokens of `text` (`lexical.tokenize`), each as a `term`, joined by spaces; a document
    without tokens is the token "∅", as `LexicalIndex` indexes it."""
    tokens = tokenize(text)
    return " ".join(term(t) for t in (tokens or (["∅"] if document else [])))


def paragraph_bm25_text(corpus: Corpus | None, record: dict) -> str:
    """What `LexicalIndex` indexes for a paragraph: its section titles, text and footnotes (from `corpus`), else the
    paragraph unit's text (its headings and text)."""
    doc = corpus.document(record["doc"]) if corpus is not None else None
    p = doc.paragraph(record["paragraph"]) if doc is not None else None
    if p is None:
        return str(record.get("text") or "")
    fn_text = {f.n: f.text for f in doc.footnotes}
    return " ".join(p.section[1:]) + " " + p.text + " " + " ".join(fn_text.get(n, "") for n in p.footnotes)


# --- building ----------------------------------------------------------------------------------------

def served_records(records: list[dict], corpus: Corpus | None = None, kinds: tuple[str, ...] = SERVED_KINDS, *,
                   sample_size: int = SAMPLE_SIZE, seed: int = 0) -> ServedLayout:
    """The units a served collection keeps: the units of `kinds` (always with the paragraph units), the units of the
    statistics sample's paragraphs first (`sample_size` paragraphs drawn with `seed` as `Retriever` draws its
    sample; all of them in a smaller collection), each paragraph's units in one run of ids led by its paragraph unit,
    each unit with `passage` = the new id of its paragraph's unit and `units` = how many units its paragraph has (they
    are ids `passage` .. `passage + units - 1`: stage 2 reads a candidate's units by id); the
    paragraph unit also carries `lexical` (its BM25 text as `lexical_text`) and, from `corpus`, what the answer
    stage reads of it: `body` (its text), `section`, `notes` (its footnote numbers), `markers` ([n, offset]) and
    `footnotes` ([n, text, urls] of the footnotes attached to it)."""
    kinds = ("paragraph", *kinds)
    keep = [i for i, r in enumerate(records) if r.get("kind") in kinds]
    paragraphs: dict[tuple[str, int], int] = {}
    for i in keep:
        r = records[i]
        if r["kind"] == "paragraph":
            paragraphs.setdefault((r["doc"], int(r["paragraph"])), len(paragraphs))
    n = len(paragraphs)
    rng = np.random.default_rng(seed)
    chosen = np.arange(n) if n <= sample_size else np.sort(rng.choice(n, sample_size, replace=False))
    in_sample = np.zeros(n, dtype=bool)
    in_sample[chosen] = True

    def paragraph_of(i: int) -> int:
        key = (records[i]["doc"], int(records[i]["paragraph"]))
        if key not in paragraphs:
            raise ValueError(f"no paragraph unit for {key}")
        return paragraphs[key]

    # each paragraph's units in one run of ids, its paragraph unit first (`passage` .. `passage + units`): stage 2
    # reads a candidate's units by id; the sample's paragraphs first (their units are the first `sample_units` rows)
    groups: dict[int, list[int]] = {}
    for i in keep:
        groups.setdefault(paragraph_of(i), []).append(i)
    for g in groups.values():
        g.sort(key=lambda i: records[i]["kind"] != "paragraph")  # stable: the paragraph unit, then the rest in order
    order = sorted(groups, key=lambda p: not in_sample[p])
    keep = [i for p in order for i in groups[p]]
    first_rows = [i for p in order if in_sample[p] for i in groups[p]]
    first: dict[tuple[str, int], int] = {}
    size: dict[tuple[str, int], int] = {}
    for new, i in enumerate(keep):
        r = records[i]
        key = (r["doc"], int(r["paragraph"]))
        first.setdefault(key, new)
        size[key] = size.get(key, 0) + 1
    out = []
    for i in keep:
        r = dict(records[i])
        r["passage"] = first[(r["doc"], int(r["paragraph"]))]
        r["units"] = size[(r["doc"], int(r["paragraph"]))]
        if r["kind"] == "paragraph" and r["passage"] == len(out):
            if corpus is not None:
                doc = corpus.document(r["doc"])
                p = doc.paragraph(r["paragraph"])
                r["section"] = list(p.section)
                r["footnotes"] = [[f.n, f.text, list(f.urls)] for f in doc.footnotes if f.paragraph == p.n]
                r["body"], r["notes"] = p.text, list(p.footnotes)  # the paragraph as the answer stage reads it
                r["markers"] = [[m.n, m.offset] for m in p.markers]
            r["lexical"] = lexical_text(paragraph_bm25_text(corpus, r), document=True)
        out.append(r)
    sample = np.array(sorted({r["passage"] for r in out[:len(first_rows)]}), dtype=np.int64)
    return ServedLayout(np.asarray(keep, dtype=np.int64), out, sample, len(first_rows))


def document_metadata(corpus: Corpus) -> list[dict]:
    return [{"id": d.id, "title": d.title, "language": d.language, "paragraphs": len(d.paragraphs),
             "footnotes": len(d.footnotes), "meta": dict(d.meta)} for d in corpus.documents]


def bridge_text(corpus: Corpus) -> str:
    """What the bridge needs of the corpus, in a few lines: the Chinese forms of its places and terms that the corpus
    uses, and its years (`Bridge(concepts, bridge_text(corpus))` matches as `Bridge.for_corpus(corpus)` does)."""
    b = Bridge.for_corpus(corpus)
    forms = sorted({z for found in b.present.values() for z in found})
    return "\n".join(forms + sorted(b.years))


def lexical_name(name: str) -> str:
    return f"{name}_lexical"


def build_served(vectors: np.ndarray, records: list[dict], *, manifest: dict, uri: str, name: str,
                 corpus: Corpus | None = None, documents: list[dict] | None = None,
                 kinds: tuple[str, ...] = SERVED_KINDS, use_vectors: np.ndarray | None = None,
                 sample_size: int = SAMPLE_SIZE, layout: ServedLayout | None = None, **options) -> MilvusStore:
    """A served collection from `open_index`'s unit vectors and records (see `served_records`, or give its
    `layout`); `use_vectors`: USE's vectors of the same units, kept beside e5's. Its paragraphs' BM25 collection
    (`lexical_name(name)`) is built first; the unit collection's manifest names its generation."""
    layout = layout or served_records(records, corpus, kinds, sample_size=sample_size)
    keep, out = layout.keep, layout.records
    if use_vectors is not None:
        options["extra_vectors"] = {"use": np.asarray(use_vectors)[keep]}
    docs = documents if documents is not None else (document_metadata(corpus) if corpus is not None else [])
    paragraphs = [r for i, r in enumerate(out) if r["kind"] == "paragraph" and r["passage"] == i]
    lex_records = [{"doc": r["doc"], "paragraph": int(r["paragraph"]), "kind": "paragraph", "lang": r.get("lang"),
                    "passage": int(r["passage"]), "units": int(r["units"]), "text": r["lexical"]} for r in paragraphs]
    shared = {k: options[k] for k in ("db_name", "num_partitions", "shards_num") if k in options}
    lexical = MilvusStore.build(np.full((len(lex_records), 2), np.float32(2 ** -0.5), dtype=np.float32), lex_records,
                                manifest={**manifest, "role": "lexical"}, uri=uri, name=lexical_name(name),
                                index_type="flat", served=True, text_field="text", analyzer=LEXICAL_ANALYZER,
                                bm25=BM25, **shared)
    extra = {"documents": docs, "served_kinds": sorted({"paragraph", *kinds}), "paragraphs": len(paragraphs),
             "sample": layout.sample.tolist(), "sample_units": int(layout.sample_units), "unit_runs": UNIT_RUNS,
             "lexical": {"collection": lexical.collection, "tokens": LEXICAL_TOKENS, **BM25}}
    if corpus is not None:
        extra["bridge_text"] = bridge_text(corpus)
    return MilvusStore.build(np.asarray(vectors)[keep], out, manifest={**manifest, **extra}, uri=uri, name=name,
                             served=True, text_field="lexical", analyzer=LEXICAL_ANALYZER, bm25=BM25, **options)


# --- fusion ------------------------------------------------------------------------------------------

def _moments(x: np.ndarray) -> tuple[float, float]:
    return (float(x.mean()), float(x.std())) if x.size else (0.0, 0.0)


def _z(x: np.ndarray, stats: tuple[float, float]) -> np.ndarray:
    mean, sd = stats
    return (x - mean) / sd if sd > 1e-9 else np.zeros_like(x)


def _components(best: np.ndarray, floor: float | None = None) -> dict[str, np.ndarray]:
    """A paragraph's dense components from the best cosine of each unit kind (rows of `best`: paragraph, heading,
    sentence/footnote, clause; -inf: none). With every unit known (`floor` None), as `DenseIndex` falls back: no
    paragraph unit → 0, no sentence → the paragraph, clause ≥ sentence, no heading → the paragraph. From a list that
    stops at cosine `floor`, a unit off the list scores `floor` (its upper bound): a paragraph found by one sentence
    does not take that sentence's score for its paragraph unit, nor its paragraph's for its other sentences."""
    if floor is None:
        para = np.where(np.isfinite(best[0]), best[0], 0.0)
        sent = np.where(np.isfinite(best[2]), best[2], para)
        head = np.where(np.isfinite(best[1]), best[1], para)
    else:
        para, sent, head = (np.where(np.isfinite(best[k]), best[k], floor) for k in (0, 2, 1))
    clause = np.maximum(np.where(np.isfinite(best[3]), best[3], sent), sent)
    return {"para": para, "sent": sent, "clause": clause, "head": head}


@dataclass
class Sample:
    """The statistics sample, read once at open: passage ids (sorted), each unit's sample row and kind, and the units'
    vectors per encoder."""

    passages: np.ndarray
    unit_row: np.ndarray
    unit_kind: np.ndarray
    vectors: dict[str, np.ndarray]
    paragraphs: int  # paragraphs in the whole collection

    def dense(self, qvecs: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
        """Each encoder's components for every sample paragraph."""
        out = {}
        for enc, q in qvecs.items():
            block = self.vectors.get(enc)
            if block is None:
                continue
            cos = block @ np.asarray(q, dtype=np.float32).reshape(-1)
            best = np.full((4, len(self.passages)), -np.inf)
            np.maximum.at(best, (self.unit_kind, self.unit_row), cos.astype(np.float64))
            out[enc] = _components(best)
        return out


def fuse_lists(dense: dict[str, list], lexical: dict[str, list], weights: dict[str, float], w_sentence: float,
               top_k: int, *, sample: Sample | None = None, sample_dense: dict | None = None,
               sample_lexical: dict[str, list] | None = None, depth: int | None = None,
               filtered: bool = False, complete: bool | set[int] = False) -> ServedResult:
    """Fuse the engine's candidate lists (`dense`: per encoder, "e5" and "use"; `lexical`: per BM25 text).

    An encoder's score of a paragraph is (1 − w_sentence) × its paragraph unit's cosine + w_sentence × its best
    sentence's or footnote's, "<encoder>_clause" its best clause's and "heading" its heading's (a unit missing from
    a list takes that list's lowest cosine, or, for the paragraphs whose every unit is listed (`complete`: True for
    all, or a set of passage ids), the fallbacks of `DenseIndex`: `_components`); each lexical signal is the BM25 score (0 off its list;
    "place": 1 on it). A candidate in the sample takes its exact dense components from the sample's
    (`sample_dense`: `Sample.dense`).

    Standardization: with a `sample` (and the BM25 of its paragraphs, `sample_lexical`), as the module docstring
    says; without one, over the union of the candidates with its own mean and standard deviation (every paragraph,
    when the lists hold every unit: the exhaustive reference)."""
    meta: dict[int, tuple[str, int]] = {}
    best: dict[str, dict[int, np.ndarray]] = {}
    floors: dict[str, float] = {}
    tops: dict[str, float] = {}
    units: dict[tuple[int, str, str], tuple[int, float]] = {}  # (passage, encoder, kind) → its best unit, cosine
    for enc, hits in dense.items():
        table = best[enc] = {}
        floors[enc] = min((float(h["distance"]) for h in hits), default=0.0)
        tops[enc] = max((float(h["distance"]) for h in hits), default=0.0)
        for h in hits:
            e = h["entity"]
            p = int(e["passage"])
            meta[p] = (e["doc"], int(e["paragraph"]))
            row = table.setdefault(p, np.full(4, -np.inf))
            kind = e.get("kind") or "sentence"
            k = _KIND.get(kind, 2)
            d = float(h["distance"])
            row[k] = max(row[k], d)
            if kind in ("sentence", "clause", "footnote") and h.get("id") is not None:
                key = (p, enc, kind)
                if key not in units or d > units[key][1]:
                    units[key] = (int(h["id"]), d)
    lex: dict[str, dict[int, float]] = {}
    for name, hits in lexical.items():
        lex[name] = {}
        for h in hits:
            e = h["entity"]
            p = int(e["passage"])
            meta[p] = (e["doc"], int(e["paragraph"]))
            lex[name][p] = 1.0 if name == "place" else abs(float(h["distance"]))  # Milvus Lite: BM25 negated
    if not meta:
        return ServedResult([], None, tops, None)
    keys = np.fromiter(meta, dtype=np.int64)
    at = None
    if sample is not None:
        pos = np.searchsorted(sample.passages, keys)
        pos = np.minimum(pos, len(sample.passages) - 1)
        at = np.where(sample.passages[pos] == keys, pos, -1)  # each candidate's sample row, or -1
    parts: dict[str, np.ndarray] = {}
    sparts: dict[str, np.ndarray] = {}
    stats: dict[str, tuple[float, float]] = {}
    sample_dense = sample_dense or {}
    heads = []
    for enc, table in best.items():
        b = np.stack([table.get(int(p), np.full(4, -np.inf)) for p in keys], axis=1)
        if complete is True or complete is False:
            comp = _components(b, None if complete else floors[enc])
        else:
            known = np.isin(keys, np.fromiter(complete, dtype=np.int64, count=len(complete)))
            comp = _components(b, floors[enc])
            for k, v in _components(b).items():
                comp[k] = np.where(known, v, comp[k])
        exact = sample_dense.get(enc)
        if exact is not None and at is not None:
            inside = at >= 0
            for k in comp:
                comp[k][inside] = exact[k][at[inside]]
        signals = {enc: comp["para"] if not w_sentence else (1 - w_sentence) * comp["para"] + w_sentence * comp["sent"],
                   f"{enc}_clause": comp["clause"], f"heading.{enc}": comp["head"]}
        ssignals = {}
        if exact is not None:
            ssignals = {enc: exact["para"] if not w_sentence else
                        (1 - w_sentence) * exact["para"] + w_sentence * exact["sent"],
                        f"{enc}_clause": exact["clause"], f"heading.{enc}": exact["head"]}
        for name, x in signals.items():
            weight = weights.get("heading" if name.startswith("heading.") else name, 0.0)
            if not weight and name != enc:
                continue
            parts[name] = x
            if name in ssignals:
                sparts[name] = ssignals[name]
                stats[name] = _moments(ssignals[name])
            else:
                stats[name] = _moments(x)
            if name.startswith("heading."):
                heads.append(name)
    for name, table in lex.items():
        x = np.array([table.get(int(p), 0.0) for p in keys], dtype=np.float64)
        parts[name] = x
        svals = None
        if sample is not None and sample_lexical is not None and name in sample_lexical:
            sv = {int(h["entity"]["passage"]): abs(float(h["distance"])) for h in sample_lexical[name]}
            svals = np.array([sv.get(int(p), 0.0) for p in sample.passages], dtype=np.float64)
            if name == "place":
                svals = (svals > 0).astype(np.float64)
            sparts[name] = svals
            inside = at >= 0
            x[inside] = svals[at[inside]]  # a candidate in the sample: its BM25, on the list or not
        stats[name] = _lexical_moments(table, x, svals, sample, depth, filtered)
    fused = np.zeros(len(keys))
    sfused = np.zeros(len(sample.passages)) if sample is not None else None
    for name, x in parts.items():
        if name.startswith("heading."):
            continue
        w = weights.get(name, 0.0)
        if not w:
            continue
        fused += w * _z(x, stats[name])
        if sfused is not None and name in sparts:
            sfused += w * _z(sparts[name], stats[name])
    if heads and weights.get("heading", 0.0):  # the mean of the encoders' standardized heading scores, as `fuse`
        fused += weights["heading"] * np.mean([_z(parts[h], stats[h]) for h in heads], axis=0)
        if sfused is not None and all(h in sparts for h in heads):
            sfused += weights["heading"] * np.mean([_z(sparts[h], stats[h]) for h in heads], axis=0)
    if not any(weights.get(n, 0.0) for n in parts if not n.startswith("heading.")) and not (
            heads and weights.get("heading", 0.0)):  # no signal weighted: the dense list (or BM25) alone
        name = "e5" if "e5" in parts else ("bm25" if "bm25" in parts else None)
        if name is not None:
            fused = _z(parts[name], stats[name])
            if sfused is not None and name in sparts:
                sfused = _z(sparts[name], stats[name])
    order = np.lexsort((keys, -fused))[:top_k]
    shown = {n: x for n, x in parts.items()}
    if heads:
        shown["heading"] = np.mean([parts[h] for h in heads], axis=0)
        for h in heads:
            shown.pop(h)
    by_passage: dict[int, list] = {}
    for (p, enc, kind), (uid, d) in units.items():
        by_passage.setdefault(p, []).append((enc, kind, uid, d))
    hits = [ServedHit(*meta[int(keys[i])], float(fused[i]), r + 1, int(keys[i]),
                      {n: float(x[i]) for n, x in shown.items()}, by_passage.get(int(keys[i]), []))
            for r, i in enumerate(order)]
    confidence = None
    if sfused is not None and len(order):
        b = int(order[0])
        rest = sfused if at is None or at[b] < 0 else np.delete(sfused, at[b])
        confidence = 10.0 if rest.size < 2 else float((fused[b] - rest.mean()) / (float(rest.std()) or 1e-9))
    return ServedResult(hits, confidence, tops, sfused)


def _lexical_moments(listed: dict[int, float], union: np.ndarray, svals: np.ndarray | None, sample: Sample | None,
                     depth: int | None, filtered: bool) -> tuple[float, float]:
    """(mean, sd) of a lexical signal over the collection: stratified (its list exactly; the other paragraphs 0
    when the list is not full, else as the sample's paragraphs off the list), or the sample's own moments under a
    document or language filter (the list is then the filter's), or the union's without a sample. A signal the
    sample never sees (sd 0) falls back to the union's moments."""
    if svals is None or sample is None:
        return _moments(union)
    if filtered:
        stats = _moments(svals)
    else:
        values = np.fromiter(listed.values(), dtype=np.float64, count=len(listed))
        n = max(sample.paragraphs, len(values), 1)
        rest_n = n - len(values)
        full = depth is not None and len(values) >= depth
        m1 = m2 = 0.0
        if full and rest_n:
            off = svals[~np.isin(sample.passages, np.fromiter(listed, dtype=np.int64, count=len(listed)))]
            if off.size:
                m1, m2 = float(off.mean()), float((off ** 2).mean())
        mean = (float(values.sum()) + rest_n * m1) / n
        var = (float((values ** 2).sum()) + rest_n * m2) / n - mean ** 2
        stats = (mean, float(np.sqrt(max(var, 0.0))))
    return stats if stats[1] > 1e-9 else _moments(union)


class ServedRetriever:
    """Hybrid search served by Milvus over a collection built by `build_served` (see the module docstring)."""

    def __init__(self, store: MilvusStore, encoder, *, config: FusionConfig | None = None,
                 bridge: Bridge | None = None, fusion: str = "local", depth: int = DEPTH, use=None,
                 sample: bool = True, exact: bool = True, exact_candidates: int = EXACT, first_read: int = FIRST_READ):
        """`use`: the USE encoder, read when the collection has `vector_use` (built with `use_vectors`); `sample`:
        read the statistics sample (False: standardize over the candidates, as collections built without one);
        `exact`: score every unit of the best `exact_candidates` candidates exactly (stage 2: the best `first_read`
        first, then those that can still enter the top: one or two more round trips; one per vector field on a
        collection built before its units were kept in runs of ids)."""
        if not store.manifest.get("served"):
            raise ValueError(f"{store.location} was not built for served search (build_served)")
        if fusion not in ("local", "rrf", "weighted"):
            raise ValueError(f"fusion {fusion!r}: local, rrf or weighted")
        self.store, self.encoder, self.bridge = store, encoder, bridge
        self.use = use if "use" in (store.manifest.get("extra_vectors") or {}) else None
        self.config = config or FusionConfig.load()
        self.fusion, self.depth, self.exact = fusion, min(int(depth), MAX_TOPK), exact
        self.exact_candidates, self.first_read = max(1, int(exact_candidates)), max(1, int(first_read))
        self.sample_when_needed = True  # False: ask for the sample's BM25 with the lists, every time
        self.documents = list(store.manifest.get("documents") or [])
        self.round_trips = 0  # engine requests made so far (opening not counted)
        self.timings: dict[str, float] = {}  # the last local-fusion query's phases, in ms (the benchmark reports them)
        self._params = dict(store.manifest.get("index", {}).get("search") or {})
        if "ef" in self._params:
            self._params["ef"] = max(int(self._params["ef"]), self.depth)
        lexical = store.manifest.get("lexical")
        # the paragraphs' BM25 collection (opened by its generation, built with this one); an older collection
        # has BM25 over its own paragraph units only
        self.lexical = (MilvusStore.open(store.uri, name=lexical["collection"], db_name=store.db_name)
                        if lexical else store)
        self.tokens = lexical.get("tokens") if lexical else None
        # each paragraph's units are one run of ids (`served_records`): stage 2 reads a candidate's units by id
        self.runs = store.manifest.get("unit_runs") == UNIT_RUNS
        self._fields = ["id", "doc", "paragraph", "passage", "kind"] + (["units"] if self.runs else [])
        self.sample = self._read_sample() if sample and store.manifest.get("sample") else None
        # the sample's paragraphs are the BM25 collection's first rows: a primary-key range names them
        self._sample_filter = "" if self.sample is None else (
            f"id < {len(self.sample.passages)}" if self.runs and self.lexical is not store else
            f"passage in [{', '.join(str(int(p)) for p in self.sample.passages)}]")

    @classmethod
    def open(cls, uri: str, name: str, encoder, **options) -> ServedRetriever:
        return cls(MilvusStore.open(uri, name=name), encoder, **options)

    def _read_sample(self) -> Sample:
        """The sample's units (the collection's first `sample_units` rows) with their vectors: one request per
        16,384 units, whatever the collection's size."""
        m = self.store.manifest
        n_units = int(m.get("sample_units") or 0)
        passages = np.asarray(m["sample"], dtype=np.int64)
        fields = ["id", "passage", "kind", "vector"] + (["vector_use"] if self.use is not None else [])
        rows: list[dict] = []
        for start in range(0, n_units, FETCH_ROWS):  # by primary key: a range filter scans the collection
            stop = min(n_units, start + FETCH_ROWS)
            rows.extend(self.store.client.query(self.store.collection, ids=list(range(start, stop)),
                                                output_fields=fields, strict_float32=True))
        rows.sort(key=lambda r: r["id"])
        unit_row = np.searchsorted(passages, np.array([int(r["passage"]) for r in rows], dtype=np.int64))
        vectors = {"e5": np.asarray([r["vector"] for r in rows], dtype=np.float32).reshape(len(rows), -1)}
        if self.use is not None:
            vectors["use"] = np.asarray([r["vector_use"] for r in rows], dtype=np.float32).reshape(len(rows), -1)
        kinds = np.array([_KIND.get(r["kind"], 2) for r in rows], dtype=np.int64)
        total = int(m.get("paragraphs") or sum(int(d.get("paragraphs", 0)) for d in self.documents) or len(passages))
        return Sample(passages, unit_row.astype(np.int64), kinds, vectors, total)

    # --- the requests ------------------------------------------------------------------------------

    def _bm25_query(self, text: str) -> str:
        return lexical_text(text) if self.tokens else text

    def _texts(self, query: str, language: str, *, bridge: bool = True) -> dict[str, str]:
        """The BM25 queries: the question, and the bridge's Chinese forms ("bridge") and place forms ("place"), as
        the collection's BM25 reads them; a text without tokens is left out."""
        texts = {"bm25": query}
        if bridge and self.bridge is not None and "bridge" in self.config.enabled:
            entities = self.bridge.match(query, language)
            bq = bridge_query(entities)
            if bq:
                texts["bridge"] = bq
            pq = bridge_query([e for e in entities if e.kind in PLACE_KINDS])
            if pq:
                texts["place"] = pq
        out = {name: self._bm25_query(t) for name, t in texts.items()}
        return {name: t for name, t in out.items() if t.strip()}

    def _filter(self, docs, langs, kind: str | None = None) -> str:
        flt = {k: v for k, v in (("doc", docs), ("lang", langs), ("kind", [kind] if kind else None)) if v}
        return filter_expression(flt or None)

    def search(self, query: str, *, top_k: int = 10, docs: list[str] | None = None, langs: list[str] | None = None,
               language: str | None = None, mode: str = "hybrid") -> list[ServedHit]:
        """The `top_k` best paragraphs for `query` (within `docs` / `langs` when given)."""
        return self.query(query, top_k=top_k, docs=docs, langs=langs, language=language, mode=mode).hits

    def query(self, query: str, *, top_k: int = 10, docs: list[str] | None = None, langs: list[str] | None = None,
              language: str | None = None, mode: str = "hybrid") -> ServedResult:
        """`search` with the fused top-1 margin over the sample and the top cosines (`ServedResult`). `mode` as the
        local engine's: "hybrid", "dense" (e5 alone, `DENSE_WEIGHTS`) or "lexical" (BM25 alone)."""
        weights, w_sentence, texts = self.plan(query, language, mode=mode)
        qvecs = {}
        if mode != "lexical":
            qvecs["e5"] = np.ascontiguousarray(self.encoder.encode_queries([query]), dtype=np.float32)
        if self.use is not None and mode == "hybrid":
            qvecs["use"] = np.ascontiguousarray(self.use.encode_queries([query]), dtype=np.float32)
        if self.fusion == "local":
            return self._local(qvecs, texts, weights, w_sentence, top_k, docs, langs)
        return ServedResult(self._hybrid(qvecs, texts, weights, top_k, docs, langs))

    def plan(self, query: str, language: str | None = None, *,
             mode: str = "hybrid") -> tuple[dict[str, float], float, dict[str, str]]:
        """The weights of the question's group (e5 stands for USE when the collection has no USE vectors, and for
        the clause and heading signals when it lacks their units), the sentence share, and the BM25 texts."""
        language = language or detect_language(query)
        kinds = set(self.store.manifest.get("served_kinds") or SERVED_KINDS)
        if mode == "lexical":
            return {"bm25": 1.0}, 0.0, {k: v for k, v in self._texts(query, language, bridge=False).items()}
        if mode == "dense":
            w = DENSE_WEIGHTS
            clause = "clause" in kinds
            return ({"e5": w.e5 + (0 if clause else w.e5_clause), "e5_clause": w.e5_clause if clause else 0.0},
                    w.sentence, {})
        w = self.config.weights_for(query_group(cjk_share(query), language, min_cjk=self.config.lexical_min_cjk))
        use = self.use is not None
        e5, clause, heading = w.e5 + (0 if use else w.use), w.e5_clause + (0 if use else w.use_clause), w.heading
        weights = {"e5": e5 + (0 if "clause" in kinds else clause) + (0 if "heading" in kinds else heading),
                   "e5_clause": clause if "clause" in kinds else 0.0, "heading": heading if "heading" in kinds else 0.0,
                   "use": w.use + (0 if "clause" in kinds else w.use_clause) if use else 0.0,
                   "use_clause": w.use_clause if use and "clause" in kinds else 0.0,
                   "bm25": w.bm25, "bridge": w.bridge, "place": w.place}
        on = set(self.config.enabled)
        weights = {k: (v if k in on or k.startswith("e5") else 0.0) for k, v in weights.items()}
        return weights, w.sentence, self._texts(query, language)

    def _hybrid(self, qvecs, texts, weights, top_k, docs, langs) -> list[ServedHit]:
        from pymilvus import AnnSearchRequest, RRFRanker, WeightedRanker  # optional dependency (report-qa[milvus])

        reqs = [AnnSearchRequest(data=q, anns_field=_field(name), limit=self.depth, expr=self._filter(docs, langs),
                                 param={"metric_type": "IP", "params": self._params}) for name, q in qvecs.items()]
        names = list(qvecs)
        for name, text in texts.items():
            if weights.get(name, 0) > 0 or name == "bm25" and not any(weights.get(n, 0) > 0 for n in texts):
                reqs.append(AnnSearchRequest(data=[text], anns_field="sparse", limit=self.depth,
                                             expr=self._filter(docs, langs, "paragraph"),
                                             param={"metric_type": "BM25"}))
                names.append(name)
        ranker = RRFRanker(RRF_K) if self.fusion == "rrf" else WeightedRanker(*[max(weights[n], 1e-3) for n in names])
        self.round_trips += 1
        res = self.store.client.hybrid_search(self.store.collection, reqs, ranker=ranker, limit=top_k,
                                              group_by_field="passage", output_fields=["doc", "paragraph", "passage"])
        hits = []
        for rank, h in enumerate(res[0] if res else []):
            e = h["entity"]
            hits.append(ServedHit(e["doc"], int(e["paragraph"]), float(h["distance"]), rank + 1, int(e["passage"])))
        return hits

    def _local(self, qvecs, texts, weights, w_sentence, top_k, docs, langs) -> ServedResult:
        """The dense searches (one per vector field), the BM25 search and the sample's BM25, sent at once from worker
        threads; the sample's dense scores are computed here meanwhile."""
        client, coll = self.store.client, self.store.collection
        lex = self.lexical
        kind = None if lex is not self.store else "paragraph"
        names = [n for n in texts if n == "bm25" or weights.get(n, 0) > 0]
        jobs = {name: _pool().submit(client.search, coll, data=q, anns_field=_field(name), limit=self.depth,
                                     filter=self._filter(docs, langs), output_fields=self._fields,
                                     search_params={"metric_type": "IP", "params": self._params})
                for name, q in qvecs.items()}
        data = [texts[n] for n in names]
        lexical_job = _pool().submit(lex.client.search, lex.collection, data=data, anns_field="sparse",
                                     limit=self.depth, filter=self._filter(docs, langs, kind),
                                     output_fields=["doc", "paragraph", "passage"] + (["units"] if self.runs else []),
                                     search_params={"metric_type": "BM25"}) if names else None
        sample_search = functools.partial(
            lex.client.search, lex.collection, data=data, anns_field="sparse", limit=len(self.sample.passages),
            filter=self._sample_filter + (' and kind == "paragraph"' if kind else ""), output_fields=["passage"],
            search_params={"metric_type": "BM25"}) if names and self.sample is not None else None
        # the sample's BM25 is known from the BM25 lists when none is full (a paragraph off them scores 0) and no
        # filter narrows them: it is then not asked for (Milvus Lite serves one request at a time)
        later = sample_search is not None and self.sample_when_needed and not (docs or langs)
        sample_job = _pool().submit(sample_search) if sample_search is not None and not later else None
        t0 = time.perf_counter()
        self.round_trips += len(jobs) + (lexical_job is not None) + (sample_job is not None)
        sample_dense = self.sample.dense({k: v[0] for k, v in qvecs.items()}) if self.sample is not None else None
        dense = {name: list(job.result()[0]) for name, job in jobs.items()}
        lexical = dict(zip(names, lexical_job.result(), strict=True)) if lexical_job is not None else {}
        sample_lexical = dict(zip(names, sample_job.result(), strict=True)) if sample_job is not None else None
        if later and any(len(hits) >= self.depth for hits in lexical.values()):
            self.round_trips += 1
            sample_lexical = dict(zip(names, sample_search(), strict=True))
        elif later:
            inside = set(self.sample.passages.tolist())
            sample_lexical = {n: [h for h in hits if int(h["entity"]["passage"]) in inside] for n, hits in lexical.items()}
        t1 = time.perf_counter()
        self.timings = {"lists": (t1 - t0) * 1000}
        fuse = functools.partial(fuse_lists, weights=weights, w_sentence=w_sentence, sample=self.sample,
                                 sample_dense=sample_dense, sample_lexical=sample_lexical, depth=self.depth,
                                 filtered=bool(docs or langs))
        if not self.exact or not qvecs:
            return fuse(dense, lexical, top_k=top_k)
        # stage 2: the best candidates by their provisional score (a unit off a list at the list's floor: an upper
        # bound) get every unit's exact cosine. Candidates whose score is already exact (in the sample, or every
        # unit on the lists) set a bar: a candidate whose upper bound is below the top_k-th exact score cannot
        # enter the top_k, so its units are not read (the ranking is the one reading them all would give).
        n_exact = max(self.exact_candidates, top_k)
        counts = _unit_counts(dense, lexical) if self.runs else {}
        listed = _listed_units(dense, qvecs)
        known = {p for p, c in counts.items() if all(i in listed for i in range(p, p + c))}
        provisional = fuse(dense, lexical, top_k=n_exact, complete=known)
        sample = set(self.sample.passages.tolist()) if self.sample is not None else set()
        exact_scores = sorted((h.score for h in provisional.hits if h.passage in known or h.passage in sample),
                              reverse=True)
        bar = exact_scores[top_k - 1] if len(exact_scores) >= top_k else -np.inf
        exact = {h.passage for h in provisional.hits[:n_exact] if h.score >= bar} - sample - known
        t2 = time.perf_counter()
        read = len(exact)
        if not exact:
            complete: set[int] = set(known)
        elif self.runs:
            # two reads: the best FIRST_READ by upper bound, then those whose upper bound still reaches the
            # top_k-th exact score (usually far fewer than all of them)
            order = [h.passage for h in provisional.hits if h.passage in exact]
            first = order[:self.first_read]
            complete = known | self._units_by_id(qvecs, dense, sorted(first), counts, listed)
            rest = order[self.first_read:]
            if rest:
                scored = fuse(dense, lexical, top_k=n_exact, complete=complete).hits
                exact_scores = sorted((h.score for h in scored if h.passage in complete or h.passage in sample),
                                      reverse=True)
                bar = exact_scores[top_k - 1] if len(exact_scores) >= top_k else -np.inf
                upper = {h.passage: h.score for h in provisional.hits}
                rest = [p for p in rest if upper[p] >= bar]
                if rest:
                    complete |= self._units_by_id(qvecs, dense, sorted(rest), counts, listed)
            read = len(first) + len(rest)
        else:
            complete = self._exact_units(qvecs, dense, sorted(exact))
        t3 = time.perf_counter()
        out = fuse(dense, lexical, top_k=top_k, complete=complete)
        self.timings["candidates_read"] = float(read)
        self.timings.update(provisional=(t2 - t1) * 1000, stage2=(t3 - t2) * 1000,
                            fuse=(time.perf_counter() - t3) * 1000)
        return out

    def _units_by_id(self, qvecs, dense: dict[str, list], passages: list[int], counts: dict[int, int],
                     listed: set[int]) -> set[int]:
        """Every unit of these paragraphs that the dense lists lack, read by id (a paragraph's units are ids
        `passage` .. `passage + units - 1`) with its vectors in one request whatever the collection's size; their
        cosines are added to the dense lists. Returns the paragraphs whose every unit is now known."""
        passages = [p for p in passages if counts.get(p)]
        ids = [i for p in passages for i in range(p, p + counts[p]) if i not in listed]
        if not ids:
            return set(passages)
        fields = ["id", "doc", "paragraph", "passage", "kind"] + [_field(name) for name in qvecs]
        rows = []
        for start in range(0, len(ids), MAX_TOPK):  # one request: EXACT paragraphs have far fewer units
            part = ids[start:start + MAX_TOPK]
            self.round_trips += 1
            rows.extend(self.store.client.query(self.store.collection, ids=part, output_fields=fields,
                                                strict_float32=True))
        for name, q in qvecs.items():
            block = np.asarray([r[_field(name)] for r in rows], dtype=np.float32).reshape(len(rows), -1)
            cos = block @ np.asarray(q, dtype=np.float32).reshape(-1)
            dense[name].extend({"id": int(r["id"]), "distance": float(c),
                                "entity": {k: r[k] for k in ("doc", "paragraph", "passage", "kind")}}
                               for r, c in zip(rows, cos, strict=True))
        got = {int(r["id"]) for r in rows}
        return {p for p in passages if all(i in got or i in listed for i in range(p, p + counts[p]))}

    def _exact_units(self, qvecs, dense: dict[str, list], passages: list[int]) -> set[int]:
        """Every unit of these paragraphs with its exact cosine: one filtered search per vector field, sent at once,
        added to the dense lists. Returns the paragraphs whose units all came back (all of them, but for a
        truncated answer)."""
        flt = f"passage in [{', '.join(map(str, passages))}]"
        client, coll = self.store.client, self.store.collection
        jobs = {name: _pool().submit(client.search, coll, data=q, anns_field=_field(name), limit=MAX_TOPK, filter=flt,
                                     output_fields=["id", "doc", "paragraph", "passage", "kind"],
                                     search_params={"metric_type": "IP", "params": self._params})
                for name, q in qvecs.items()}
        self.round_trips += len(jobs)
        complete = set(passages)
        for name, job in jobs.items():
            hits = job.result()[0]
            if len(hits) >= MAX_TOPK:
                complete = set()
            dense[name].extend(hits)
        return complete

    def fetch(self, hits: list[ServedHit]) -> dict[int, dict]:
        """The records of these hits' paragraphs (text, section, footnotes), by id: one round trip."""
        return self.records([h.passage for h in hits])

    def records(self, passages) -> dict[int, dict]:
        """The records of these units, by id: one round trip."""
        self.round_trips += 1
        return {i: row["record"] for i, row in self.store.fetch(passages).items()}


def _listed_units(dense: dict[str, list], qvecs: dict) -> set[int]:
    """The units whose every cosine is known: on the dense list of each vector field."""
    sets = [{int(h["id"]) for h in dense.get(name, []) if h.get("id") is not None} for name in qvecs]
    return set.intersection(*sets) if sets else set()


def _unit_counts(dense: dict[str, list], lexical: dict[str, list]) -> dict[int, int]:
    """How many units each listed paragraph has (the `units` column), by passage id."""
    out: dict[int, int] = {}
    for hits in (*dense.values(), *lexical.values()):
        for h in hits:
            e = h["entity"]
            if e.get("units") is not None:
                out[int(e["passage"])] = int(e["units"])
    return out


@functools.cache
def _pool() -> ThreadPoolExecutor:
    """Threads that send a question's engine requests at once (its tasks never wait on one another)."""
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="report-qa-served")


def _field(encoder: str) -> str:
    return "vector" if encoder == "e5" else f"vector_{encoder}"


def timed_search(retriever: ServedRetriever, query: str, **kw) -> tuple[list[ServedHit], float, int]:
    """Hits, milliseconds and engine round trips of one search."""
    before = retriever.round_trips
    t = time.perf_counter()
    hits = retriever.search(query, **kw)
    return hits, (time.perf_counter() - t) * 1000, retriever.round_trips - before
