"""A multilingual bridge from the question's words to the report's own Chinese names and terms.

Two sources, both data:
- Country and territory names in the six UN languages from CLDR (through Babel). Where CLDR's
  Chinese name differs from the form the report writes (刚果（金） → 刚果民主共和国), the report's form
  is an alias (`terms/place_aliases.tsv`); places CLDR lacks (巴勒斯坦被占领土, 萨赫勒 …) come from
  `terms/places_extra.tsv`.
- UN bodies, mechanisms and recurring terms in the six languages (`terms/un_terms.tsv`, UNTERM forms).

A question is matched after normalization for its language: lowercase and accents folded for Latin
scripts, Snowball stems for English, French, Spanish and Russian, and for Arabic the article and
clitic prefixes (ال، ب، و، ف، ل) stripped and letter variants unified. The longest phrase wins.
What matched gives (1) Chinese forms to add to the lexical query as their own signal, and (2) the
named places, so that a question about a country the report never mentions can be answered "not
covered" and say so.
"""

from __future__ import annotations

import csv
import functools
import gettext
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files
from typing import Literal

import pycountry
import snowballstemmer
from babel import Locale

from qa.text import is_cjk

EntityKind = Literal["place", "region", "term", "body", "year"]
PLACE_KINDS = ("place", "region")
OFFICE = frozenset({"term:ohchr", "term:high_commissioner"})  # the Office itself: named by most questions
BRIDGE_LANGS = ("en", "fr", "es", "ru", "ar")
MAX_PHRASE = 8
PREFIX = 5
_NEXT_NAME = re.compile(r"[ \u00a0]+[A-ZÀ-ÖØ-ÞА-ЯЁ][a-zß-öø-ÿа-яё]")  # the next word is capitalized: a name goes on
PREFIX_LANGS = ("ru", "ar")  # languages whose names inflect beyond what the stemmer undoes
# CLDR codes that are not countries or territories a question names as a place.
_NOT_PLACES = {"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"}
# CLDR world regions worth bridging (Africa, the Americas, Asia, Europe, Oceania and their parts).
_REGIONS = {"002", "005", "009", "011", "013", "014", "015", "017", "018", "019", "021", "029", "030", "034",
            "035", "053", "054", "057", "061", "142", "143", "145", "150", "151", "154", "155", "202", "419"}
_TERMS_DIR = "terms"

_AR_CONJUNCTIONS = ("و", "ف")
_AR_PREFIXES = ("بال", "كال", "لل", "ال", "ب", "ل")
_AR_DIACRITICS = re.compile("[\u064b-\u0652\u0670\u0640]")
_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*", re.UNICODE)


@dataclass(frozen=True)
class Entity:
    """Something the question names: a place, a UN term, or a year; with the report's Chinese forms."""

    id: str
    kind: EntityKind
    surface: str  # the words of the question that matched
    zh: tuple[str, ...]  # the report's forms (or CLDR's, when the report has none)
    in_corpus: bool = True
    start: int = -1  # character offsets of `surface` in the question
    end: int = -1

    @property
    def own_name(self) -> bool:
        """A name of the report's own: one it uses, not a year and not the Office itself (which most paragraphs
        name, so it tells them apart no more than "the")."""
        return self.in_corpus and self.kind != "year" and self.id not in OFFICE


@dataclass
class Concept:
    id: str
    kind: EntityKind
    zh: list[str]
    forms: dict[str, list[str]] = field(default_factory=dict)
    city: bool = False  # a place that is a city (places_extra.tsv), for "which city?"


def _fold(text: str) -> str:
    """Lowercase without accents (users often type French and Spanish without them)."""
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def _arabic(word: str) -> str:
    word = _AR_DIACRITICS.sub("", word)
    word = word.translate(str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ة": "ه", "ى": "ي"}))
    for c in _AR_CONJUNCTIONS:  # a conjunction (و، ف), then a preposition or the article
        if word.startswith(c) and len(word) > 3:
            word = word[1:]
            break
    for p in _AR_PREFIXES:
        if word.startswith(p) and len(word) - len(p) >= 3:
            return word[len(p):]
    return word


_STEMMERS = threading.local()


def _stemmer(lang: str):
    """One Snowball stemmer per language and per thread: a stemmer keeps the word it works on in itself, so two
    threads sharing one corrupt each other (IndexError in find_among_b when a library rebuild ran beside
    questions; found by tests/test_soak.py)."""
    cache = getattr(_STEMMERS, "by_lang", None)
    if cache is None:
        cache = _STEMMERS.by_lang = {}
    if lang not in cache:
        name = {"en": "english", "fr": "french", "es": "spanish", "ru": "russian"}.get(lang)
        cache[lang] = snowballstemmer.stemmer(name) if name else None
    return cache[lang]


def normalize_tokens(text: str, lang: str) -> list[tuple[str, int, int]]:
    """(normalized token, start, end) for each word of `text` in language `lang`."""
    out = []
    stem = _stemmer(lang)
    for m in _WORD.finditer(text):
        w = m.group(0)
        if any(is_cjk(ch) for ch in w):
            continue
        if lang == "ar":
            tok = _arabic(w)
        else:
            low = w.lower().replace("’", "'")
            if lang in ("fr", "es", "en") and "'" in low:  # l'ONU, d'Ukraine
                head, _, tail = low.partition("'")
                if len(head) <= 2 and tail:
                    low = tail
            tok = stem.stemWord(low) if stem else low
            tok = _fold(tok)
        out.append((tok, m.start(), m.end()))
    return out


def _read_tsv(name: str) -> list[dict]:
    path = files("qa.retrieval") / _TERMS_DIR / name
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as f:
        return [row for row in csv.DictReader(f, delimiter="\t") if any((v or "").strip() for v in row.values())]


def _forms(cell: str | None) -> list[str]:
    return [x.strip() for x in (cell or "").split("|") if x.strip()]


def load_concepts() -> list[Concept]:
    """Places (CLDR + the report's aliases + extra places) and UN terms, each with its forms per language."""
    aliases: dict[str, list[str]] = {}
    for row in _read_tsv("place_aliases.tsv"):
        aliases.setdefault(row["zh_cldr"].strip(), []).append(row["zh_report"].strip())
    names = {lang: Locale.parse(lang).territories for lang in ("zh", *BRIDGE_LANGS)}
    formal = {row["code"].strip(): row for row in _read_tsv("place_names.tsv")}
    iso = _iso_names()
    concepts = []
    for code, zh in names["zh"].items():
        if code in _REGIONS:
            kind: EntityKind = "region"
        elif len(code) == 2 and code.isalpha() and code not in _NOT_PLACES:
            kind = "place"
        else:
            continue
        zh_forms = aliases.get(zh, []) + [zh]
        forms = {lang: [names[lang][code]] + _forms(formal.get(code, {}).get(lang)) + iso.get((lang, code), [])
                 for lang in BRIDGE_LANGS if code in names[lang]}
        concepts.append(Concept(f"{kind}:{code}", kind, zh_forms, forms))
    for row in _read_tsv("places_extra.tsv"):
        concepts.append(Concept(f"place:{row['id']}", "place", _forms(row.get("zh")),
                                {lang: _forms(row.get(lang)) for lang in BRIDGE_LANGS}, row.get("city") == "yes"))
    # International bodies, named or not in the report: one the report never names is "not covered".
    for row in _read_tsv("bodies.tsv"):
        concepts.append(Concept(f"body:{row['id']}", "body", _forms(row.get("zh")),
                                {lang: _forms(row.get(lang)) for lang in BRIDGE_LANGS}))
    for row in _read_tsv("un_terms.tsv"):
        concepts.append(Concept(f"term:{row['id']}", "term", _forms(row.get("zh")),
                                {lang: _forms(row.get(lang)) for lang in BRIDGE_LANGS}))
    return concepts


def _iso_names() -> dict[tuple[str, str], list[str]]:
    """ISO 3166 country names (short, official, common) in each bridge language, from pycountry's translations:
    the forms UN texts often use where CLDR's differ (fr "Bélarus" beside CLDR's "Biélorussie")."""
    out: dict[tuple[str, str], list[str]] = {}
    for lang in BRIDGE_LANGS:
        if lang == "en":
            tr = gettext.NullTranslations()
        else:
            try:
                tr = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang])
            except OSError:
                continue
        for c in pycountry.countries:
            names = [getattr(c, a, None) for a in ("name", "official_name", "common_name")]
            out[(lang, c.alpha_2)] = list(dict.fromkeys(tr.gettext(n) for n in names if n))
    return out


_YEAR = re.compile(r"(?<!\d)(19[5-9]\d|20[0-4]\d)(?!\d)")
# A numbered session or forum ("43rd session", "43.º período de sesiones", "43-ю сессию", "الدورة 43"): the report
# writes its number in Chinese numerals ("第四十三届").
_SESSION_WORDS = r"(?:sessions?|sesi[oó]n|sesiones|per[ií]odo|сесси\w*|forum|foro|форум\w*)"
_SESSION = re.compile(
    r"(?<![\d.])(\d{1,3})(?:st|nd|rd|th|e|ème|eme|er|re|[.]?[ºª°]|-?[а-я]{1,3})?\.?\s+(?:[^\W\d_]+\s+)?"
    + _SESSION_WORDS + r"\b|\b(?:session|sesi[oó]n|сесси\w*|الدورة|دورة)\s*(?:n[°º.]?\s*)?(\d{1,3})(?![\d.])",
    re.IGNORECASE)


def chinese_number(n: int) -> str:
    """1–999 in Chinese numerals, as the report writes ordinals ("四十三", "八十四", "十二")."""
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    if n < 20:
        return "十" + (digits[n % 10] if n % 10 else "")
    if n < 100:
        return digits[n // 10] + "十" + (digits[n % 10] if n % 10 else "")
    rest = n % 100
    tail = "" if not rest else ("零" + digits[rest] if rest < 10 else
                                 ("一" + chinese_number(rest) if rest < 20 else chinese_number(rest)))
    return digits[n // 100] + "百" + tail


class Bridge:
    """Phrase dictionaries per language, built once per corpus; `match(question, lang)` is pure."""

    def __init__(self, concepts: list[Concept], corpus_text: str):
        self.concepts = {c.id: c for c in concepts}
        self.corpus_text = corpus_text
        self.present: dict[str, tuple[str, ...]] = {}
        for c in concepts:
            found = tuple(z for z in c.zh if z and z in corpus_text)
            self.present[c.id] = found
        self.phrases: dict[str, dict[tuple[str, ...], str]] = {lang: {} for lang in BRIDGE_LANGS}
        # Keys that only a short acronym spells ("WHO", "ИИ"): matched only where the reader wrote capitals, so that
        # "Who was appointed?" and Russian "и" (and) name nothing.
        self.acronyms: dict[str, set[tuple[str, ...]]] = {lang: set() for lang in BRIDGE_LANGS}
        spelled: dict[str, set[tuple[str, ...]]] = {lang: set() for lang in BRIDGE_LANGS}
        for c in concepts:
            for lang, forms in c.forms.items():
                for form in forms:
                    toks = tuple(t for t, _, _ in normalize_tokens(form, lang))
                    if toks and len(toks) <= MAX_PHRASE:
                        # A term never overrides a place with the same words (e.g. "Chad" the country).
                        self.phrases[lang].setdefault(toks, c.id)
                        (self.acronyms if form.isupper() and len(form) <= 3 else spelled)[lang].add(toks)
        for lang in BRIDGE_LANGS:
            self.acronyms[lang] -= spelled[lang]
        # One-word place names as written (folded): a lowercase word that meets a short place name only through the
        # stemmer ("малых", small, stems as "Мали") names no place; "tunisia" or "в тунисе" in lowercase still do.
        self.place_words: dict[str, set[str]] = {lang: set() for lang in BRIDGE_LANGS}
        for c in concepts:
            if c.kind in PLACE_KINDS:
                for lang, forms in c.forms.items():
                    self.place_words.setdefault(lang, set()).update(
                        _fold(f.replace("’", "'")) for f in forms if len(f.split()) == 1)
        # Inflected single names the stemmer leaves apart (Беларусь/Беларуси) meet on a 5-letter prefix,
        # used only where that prefix names one concept.
        self.prefixes: dict[str, dict[str, str | None]] = {lang: {} for lang in BRIDGE_LANGS}
        for lang, table in self.phrases.items():
            for toks, cid in table.items():
                if len(toks) == 1 and len(toks[0]) >= PREFIX:
                    key = toks[0][:PREFIX]
                    prev = self.prefixes[lang].get(key, cid)
                    self.prefixes[lang][key] = cid if prev == cid else None
        self.zh_names: dict[str, str] = {}
        for c in concepts:
            for z in c.zh:
                if len(z) >= 2:
                    self.zh_names.setdefault(z, c.id)
        self.zh_lengths = sorted({len(z) for z in self.zh_names}, reverse=True)
        self.years = set(_YEAR.findall(corpus_text))

    @functools.cached_property
    def cities(self) -> frozenset[str]:
        """The report's forms of the cities it names."""
        return frozenset(f for cid, c in self.concepts.items() if c.city for f in self.present[cid])

    @classmethod
    def for_corpus(cls, corpus) -> Bridge:
        parts = []
        for d in corpus.documents:
            parts.extend(p.text for p in d.paragraphs)
            parts.extend(f.text for f in d.footnotes)
            parts.extend(s for p in d.paragraphs for s in p.section)
        return cls(_concepts(), "\n".join(parts))

    def _entity(self, cid: str, surface: str, start: int, end: int) -> Entity:
        c = self.concepts[cid]
        present = self.present[cid]
        return Entity(cid, c.kind, surface, present or tuple(c.zh), bool(present), start, end)

    def _meets_place_by_stemming(self, cid: str, word: str, lang: str) -> bool:
        """A word of a cased script that meets a one-word place only through the stemmer, not as the place is written."""
        return (self.concepts[cid].kind in PLACE_KINDS and lang != "ar"
                and _fold(word.replace("’", "'")) not in self.place_words.get(lang, ()))

    def _first_name(self, cid: str, question: str, start: int, end: int, lang: str) -> bool:
        """Such a word capitalized and followed by another capitalized word: a person's name ("George Floyd" is not
        Géorgie/Georgia)."""
        word = question[start:end]
        return (word[:1].isupper() and self._meets_place_by_stemming(cid, word, lang)
                and bool(_NEXT_NAME.match(question, end)))

    def _stemmed_common_word(self, cid: str, word: str, lang: str) -> bool:
        """Such a word in lowercase: a common word ("малых", small, stems as "Мали")."""
        return word[:1].islower() and self._meets_place_by_stemming(cid, word, lang)

    def match(self, question: str, lang: str) -> list[Entity]:
        """Places, terms and years the question names, longest phrase first, in question order."""
        found: list[Entity] = []
        if lang in self.phrases:
            toks = normalize_tokens(question, lang)
            i = 0
            while i < len(toks):
                for n in range(min(MAX_PHRASE, len(toks) - i), 0, -1):
                    key = tuple(t for t, _, _ in toks[i:i + n])
                    cid = self.phrases[lang].get(key)
                    if cid and key in self.acronyms[lang] and not question[toks[i][1]:toks[i][2]].isupper():
                        cid = None
                    if cid and n == 1 and len(key[0]) < PREFIX and self._stemmed_common_word(
                            cid, question[toks[i][1]:toks[i][2]], lang):
                        cid = None
                    if cid and n == 1 and self._first_name(cid, question, toks[i][1], toks[i][2], lang):
                        cid = None
                    if cid:
                        s, e = toks[i][1], toks[i + n - 1][2]
                        found.append(self._entity(cid, question[s:e], s, e))
                        i += n
                        break
                else:
                    tok, s, e = toks[i]
                    # inflected names (Беларусь/Беларуси) only: in en/fr/es a prefix joins unrelated words
                    # ("countries" and "counter-terrorism")
                    inflected = lang in PREFIX_LANGS and len(tok) >= PREFIX
                    cid = self.prefixes[lang].get(tok[:PREFIX]) if inflected else None
                    if cid:
                        found.append(self._entity(cid, question[s:e], s, e))
                    i += 1
        if any(is_cjk(ch) for ch in question):
            i = 0
            while i < len(question):
                for n in self.zh_lengths:
                    cid = self.zh_names.get(question[i:i + n])
                    if cid:
                        found.append(self._entity(cid, question[i:i + n], i, i + n))
                        i += n
                        break
                else:
                    i += 1
        for m in _SESSION.finditer(question):
            n = int(m.group(1) or m.group(2))
            form = f"第{chinese_number(n)}届"
            if form in self.corpus_text:  # a number the report does not use names nothing
                found.append(Entity(f"session:{n}", "term", m.group(0), (form,), True, m.start(), m.end()))
        for m in _YEAR.finditer(question):
            y = m.group(0)
            found.append(Entity(f"year:{y}", "year", y, (y,), y in self.years, m.start(), m.end()))
        seen, out = set(), []
        for e in sorted(found, key=lambda e: e.start):
            if e.id not in seen:
                seen.add(e.id)
                out.append(e)
        return out


@lru_cache(maxsize=1)
def _concepts_cached() -> tuple[Concept, ...]:
    return tuple(load_concepts())


def _concepts() -> list[Concept]:
    return list(_concepts_cached())


def bridge_query(entities: list[Entity]) -> str:
    """The Chinese forms of what matched, as a lexical query (only forms the report uses; not the Office itself,
    which most paragraphs name: its forms only raised the paragraphs that name it most often)."""
    return " ".join(z for e in entities if e.own_name for z in e.zh)


def names_in(entities: list[Entity], text: str) -> bool:
    """Whether `text` uses the report's form of something these entities name (a place, body or term; not the
    Office itself, not a year)."""
    return any(e.own_name and any(f and f in text for f in e.zh)
               for e in entities)


def missing_places(entities: list[Entity]) -> list[Entity]:
    """Named countries, international bodies or years the report never mentions, when no place it names is in it."""
    named = [e for e in entities if e.kind in ("place", "body", "year")]
    missing = [e for e in named if not e.in_corpus]
    if missing and not any(e.in_corpus for e in named if e.kind == "place"):
        return missing
    return []
