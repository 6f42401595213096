"""Fusion and the "not covered" rule: pure functions of a `QuerySignals` record and weights.

`fuse(signals, weights)` standardizes each component with its mean and spread over the sample
rows (the whole collection when it is small), or with the whole collection's where `signals.stats` has
them (lexical signals, and the dense components that are one unit's cosine: paragraph, heading), and adds
them with the weights of the query's group; `combine` adds the fused scores of a follow-up's extra queries.
`abstains(...)` is the calibrated rule: the best paragraph barely stands out (fused top-1 margin),
nothing is close for USE, or the question names a place or year the report never mentions (with
a looser margin). Weights and thresholds live in `fusion.json`, chosen by cross-validation
(`python -m qa tune`); nothing here knows about any particular question.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from qa.retrieval.signals import GROUPS, Group, QuerySignals
from qa.types import Mode

CONFIG_PATH = Path(__file__).with_name("fusion.json")


# --- the data: weights and thresholds per query group, and their file ---------------------------------------

@dataclass(frozen=True)
class Weights:
    """Weights of the standardized components for one group of queries, and its abstention thresholds."""

    e5: float = 1.0
    use: float = 0.0
    e5_clause: float = 0.0  # best clause (or clause pair) of the paragraph, e5
    use_clause: float = 0.0  # same with USE
    heading: float = 0.0  # the paragraph's section/subsection title (both encoders)
    bm25: float = 0.0
    bridge: float = 0.0  # BM25 of the report's Chinese forms of the places and terms the question names
    prf: float = 0.0  # BM25 of the top dense paragraphs' distinctive words
    place: float = 0.0  # 1 for paragraphs that name a place the question names (questions with many answers)
    sentence: float = 0.5  # share of the best sentence/footnote vector in a dense signal (rest: paragraph)
    abstain_margin: float = 3.0  # below this fused top-1 margin the report is taken not to cover the question
    abstain_use: float = 0.0  # …or when no unit is this close to the question for USE (0: rule off)
    abstain_missing: float = 99.0  # …or, when it names a place/year the report lacks, below this margin


# The `dense` mode is e5 alone at every granularity (paragraph, best sentence/footnote, best clause),
# a fixed recipe independent of the hybrid tuning, so it stays an honest single-model baseline.
DENSE_WEIGHTS = Weights(e5=1.0, e5_clause=1.0, sentence=0.5)
SIGNALS = ("e5", "use", "e5_clause", "use_clause", "heading", "bm25", "bridge", "prf", "place")
ENCODERS: dict[Mode, tuple[str, ...]] = {"hybrid": ("e5", "use"), "dense": ("e5",), "lexical": ()}  # read per mode


@dataclass
class FusionConfig:
    groups: dict[str, Weights] = field(default_factory=lambda: {g: Weights() for g in GROUPS})
    lexical_min_cjk: float = 0.3
    enabled: tuple[str, ...] = SIGNALS  # signals switched on (the benchmark switches new ones off)

    @classmethod
    def load(cls, path: Path = CONFIG_PATH) -> FusionConfig:
        if not path.exists():
            return cls()
        data = json.loads(path.read_text())
        known = {f.name for f in fields(Weights)}
        groups = {g: Weights(**{k: v for k, v in data["groups"][g].items() if k in known}) for g in GROUPS}
        return cls(groups, data.get("lexical_min_cjk", 0.3))

    def weights_for(self, group: str) -> Weights:
        return self.groups[group]

    def with_group(self, group: str, weights: Weights) -> FusionConfig:
        return FusionConfig({**self.groups, group: weights}, self.lexical_min_cjk, self.enabled)

    def without(self, *signals: str) -> FusionConfig:
        return FusionConfig(dict(self.groups), self.lexical_min_cjk, tuple(s for s in self.enabled if s not in signals))

    def save(self, path: Path = CONFIG_PATH, report: dict | None = None) -> None:
        """Write the weights (the only copy) and, separately, how they were chosen (figures, not weights)."""
        data = {"groups": {g: asdict(w) for g, w in self.groups.items()}, "lexical_min_cjk": self.lexical_min_cjk}
        if report:
            data["chosen_by"] = report
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        tmp.replace(path)


# --- normalization: pure functions of score arrays ----------------------------------------------------------

def moments(x: np.ndarray) -> tuple[float, float]:
    """(mean, standard deviation) of `x`; (0, 0) when it is empty."""
    return (float(x.mean()), float(x.std())) if x.size else (0.0, 0.0)


def standardize(x: np.ndarray, sample: np.ndarray, *, at: np.ndarray | None = None,
                stats: tuple[float, float] | None = None) -> np.ndarray:
    """z-score with the mean and standard deviation of the sample rows, or with `stats` (mean, sd) when known;
    of the positions `at` only, if given."""
    mean, sd = moments(x[sample]) if stats is None else stats
    part = x if at is None else x[at]
    return (part - mean) / sd if sd > 1e-9 else np.zeros_like(part)


def margin(fused: np.ndarray, sample: np.ndarray, best: int) -> float:
    """How far the best row stands above the field, in standard deviations of the other sampled rows."""
    rest = fused[sample & (np.arange(len(fused)) != best)]
    if rest.size < 2:
        return 10.0
    sd = float(rest.std()) or 1e-9
    return float((fused[best] - rest.mean()) / sd)


# --- fusion -------------------------------------------------------------------------------------------------

def fuse(sig: QuerySignals, weights: Weights, *, mode: Mode = "hybrid",
         enabled: tuple[str, ...] = SIGNALS) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Fused score per row of `sig.rows`, and the raw component behind each weight (for display)."""
    parts: dict[str, np.ndarray] = {}
    if mode == "lexical":
        bm = sig.lexical.get("bm25", np.zeros(len(sig.rows), dtype=np.float32))
        return bm.astype(np.float32), {"bm25": bm}
    w = DENSE_WEIGHTS if mode == "dense" else weights
    encoders = ENCODERS[mode]
    on = set(enabled)
    fused = np.zeros(len(sig.rows), dtype=np.float32)
    for name in encoders:
        d = sig.dense.get(name)
        if d is None:
            continue
        weight, cweight = getattr(w, name), getattr(w, f"{name}_clause")
        if weight and name in on:
            raw = d.combined(w.sentence)
            parts[name] = raw
            exact = sig.stats.get(f"{name}.para") if w.sentence == 0 else None  # the paragraph's cosine alone
            fused += weight * standardize(raw, sig.sample, stats=exact)
        if cweight and f"{name}_clause" in on:
            parts[f"{name}_clause"] = d.clause
            fused += cweight * standardize(d.clause, sig.sample)
    heads = [n for n in encoders if n in sig.dense]
    if w.heading and heads and "heading" in on:
        parts["heading"] = np.mean([sig.dense[n].head for n in heads], axis=0)
        fused += w.heading * np.mean([standardize(sig.dense[n].head, sig.sample, stats=sig.stats.get(f"{n}.head"))
                                      for n in heads], axis=0)
    if mode == "dense":
        return fused, parts
    for name in ("bm25", "bridge", "prf", "place"):
        x = sig.lexical.get(name)
        weight = getattr(w, name)
        if x is not None and weight and name in on and x.max() > 0:
            parts[name] = x
            fused += weight * standardize(x, sig.sample, stats=sig.stats.get(name))
    return fused, parts


def combine(fused: np.ndarray, extras: list[tuple[np.ndarray, float]], sample: np.ndarray) -> np.ndarray:
    """The question's fused scores with those of weighted extra queries (a follow-up's own words), over the same
    rows: at each step both are z-scored over the sample rows, then added with the extra query's weight."""
    for extra, weight in extras:
        fused = standardize(fused, sample) + weight * standardize(extra, sample)
    return fused


def weighted_encoders(weights: Weights, *, mode: Mode = "hybrid", enabled: tuple[str, ...] = SIGNALS) -> frozenset[str]:
    """The encoders whose scores `fuse` (or the feedback ranking) reads with these weights: a row that only stands
    in the sample need not be scored with the others (USE, for Chinese questions)."""
    if mode == "lexical":
        return frozenset()
    w = DENSE_WEIGHTS if mode == "dense" else weights
    on = set(enabled)
    names = ENCODERS[mode]
    used = {n for n in names if (getattr(w, n) and n in on) or (getattr(w, f"{n}_clause") and f"{n}_clause" in on)}
    if (w.heading and "heading" in on) or (mode == "hybrid" and w.prf and "prf" in on):
        used |= set(names)
    return frozenset(used)


# --- the "not covered" rule and the query groups ------------------------------------------------------------

def abstains(weights: Weights, margin_value: float, best_use: float | None, missing: bool, *,
             named: bool = False) -> bool:
    """The calibrated "not covered" rule for one query group. `named`: the best paragraph uses the report's form of
    a place, body or term the question names; a short question about it ("OHCHR activities in Sri Lanka?") is far
    from every sentence for USE, yet covered, so the USE floor does not apply."""
    if margin_value < weights.abstain_margin:
        return True
    if missing and margin_value < weights.abstain_missing:
        return True
    return bool(weights.abstain_use and not named and best_use is not None and best_use < weights.abstain_use)


def query_group(cjk: float, language: str, *, min_cjk: float = 0.3) -> Group:
    """Which weights a query gets: Chinese script, English, or another language (fr, es, ar, ru …)."""
    if cjk >= min_cjk:
        return "zh"
    return "en" if language == "en" else "other"
