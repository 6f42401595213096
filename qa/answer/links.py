"""Official language versions and citations people can paste.

Every UN report is published in Arabic, Chinese, English, French, Russian and Spanish with the same paragraph
numbers, so a citation such as ¶25 can be opened in any of them at ``https://undocs.org/<code>/<symbol>``. The
site's codes are ``ar``, ``ch`` (Chinese, as the bundled report's own footnotes write it), ``en``, ``fr``, ``ru``
and ``es``. Links are listed with the reader's language first.

Citation strings follow each language's UN conventions: ``A/75/36, para. 25 (fn. 6)``, ``A/75/36，第25段（脚注6）``,
``A/75/36, párr. 25 (nota 6)``, ``A/75/36, par. 25 (note 6)``, ``A/75/36, п. 25 (сноска 6)``,
``A/75/36، الفقرة 25 (الحاشية 6)``. Language names (autonyms), list joining ("6 and 7", "6 et 7", "6和7") and
text direction come from CLDR through Babel.
"""

from __future__ import annotations

import re
from functools import cache
from urllib.parse import quote

UNDOCS = "https://undocs.org"
# The reader's language comes first; the rest follow in this order.
ORDER: tuple[str, ...] = ("en", "fr", "es", "ru", "ar", "zh")
# Our language codes → the codes undocs.org uses (Chinese is "ch" there).
UNDOCS_CODE: dict[str, str] = {"ar": "ar", "zh": "ch", "en": "en", "fr": "fr", "ru": "ru", "es": "es"}
# A UN document symbol: A/75/36, A/HRC/43/3, S/2020/1/Add.1, E/CN.6/2020/3 …
_SYMBOL = re.compile(r"^[A-Z][A-Za-z0-9.\-]*(/[A-Za-z0-9.\-()]+)+$")

_CITE: dict[str, dict[str, str]] = {
    # para: the paragraph; fn / fns: one / several footnotes; wrap: how the footnotes are attached.
    "en": {"para": "{sym}, para. {n}", "fn": "fn. {x}", "fns": "fns. {x}", "wrap": " ({})"},
    "fr": {"para": "{sym}, par. {n}", "fn": "note {x}", "fns": "notes {x}", "wrap": " ({})"},
    "es": {"para": "{sym}, párr. {n}", "fn": "nota {x}", "fns": "notas {x}", "wrap": " ({})"},
    "ru": {"para": "{sym}, п. {n}", "fn": "сноска {x}", "fns": "сноски {x}", "wrap": " ({})"},
    "ar": {"para": "{sym}، الفقرة {n}", "fn": "الحاشية {x}", "fns": "الحواشي {x}", "wrap": " ({})"},
    "zh": {"para": "{sym}，第{n}段", "fn": "脚注{x}", "fns": "脚注{x}", "wrap": "（{}）"},
}

_UI: dict[str, dict[str, str]] = {
    "en": {"open": "Open ¶{n} in:", "open_in": "Open ¶{n} in {lang}", "copy": "Copy citation", "copied": "Copied",
           "official": "Official text"},
    "fr": {"open": "Ouvrir le ¶{n} en :", "open_in": "Ouvrir le ¶{n} en {lang}", "copy": "Copier la référence",
           "copied": "Copié", "official": "Texte officiel"},
    "es": {"open": "Abrir el ¶{n} en:", "open_in": "Abrir el ¶{n} en {lang}", "copy": "Copiar la cita",
           "copied": "Copiado", "official": "Texto oficial"},
    "ru": {"open": "Открыть п. {n}:", "open_in": "Открыть п. {n}: {lang}", "copy": "Копировать ссылку",
           "copied": "Скопировано", "official": "Официальный текст"},
    "ar": {"open": "فتح الفقرة {n}:", "open_in": "فتح الفقرة {n}: {lang}", "copy": "نسخ الإحالة",
           "copied": "تم النسخ", "official": "النص الرسمي"},
    "zh": {"open": "打开第{n}段：", "open_in": "打开第{n}段：{lang}", "copy": "复制引文", "copied": "已复制",
           "official": "正式文本"},
}


def reader_language(lang: str | None) -> str:
    """One of the six UN languages (our codes: zh, not ch); English when `lang` is none of them."""
    lang = (lang or "").strip().lower().replace("_", "-").split("-")[0]
    if lang == "ch":
        lang = "zh"
    return lang if lang in ORDER else "en"


def valid_symbol(symbol: object) -> str | None:
    return symbol if isinstance(symbol, str) and len(symbol) <= 80 and _SYMBOL.match(symbol) else None


@cache
def language_name(lang: str) -> str:
    """The language's own name from CLDR, capitalised as a menu item: English, Français, Español, Русский, العربية, 中文."""
    from babel import Locale

    name = Locale.parse(lang).get_display_name(lang) or lang
    return name[:1].upper() + name[1:]


@cache
def text_direction(lang: str) -> str:
    """"rtl" or "ltr", from CLDR."""
    from babel import Locale

    return "rtl" if Locale.parse(lang).character_order == "right-to-left" else "ltr"


def official_url(symbol: str, lang: str) -> str:
    """https://undocs.org/<code>/<symbol>, e.g. https://undocs.org/ch/A/75/36 for the Chinese text."""
    return f"{UNDOCS}/{UNDOCS_CODE[reader_language(lang)]}/{quote(symbol, safe='/')}"


def ordered_languages(reader: str | None) -> list[str]:
    first = reader_language(reader)
    return [first] + [lang for lang in ORDER if lang != first]


def official_links(symbol: str | None, reader: str | None = None, n: int | None = None) -> list[dict]:
    """The six language versions, reader's first: [{"lang", "code", "name", "url", "title"}]; [] without a symbol."""
    symbol = valid_symbol(symbol)
    if not symbol:
        return []
    ui = _UI[reader_language(reader)]
    out = []
    for lang in ordered_languages(reader):
        name = language_name(lang)
        item = {"lang": lang, "code": UNDOCS_CODE[lang], "name": name, "url": official_url(symbol, lang)}
        if n is not None:
            item["title"] = ui["open_in"].format(n=n, lang=name)
        out.append(item)
    return out


def _join(items: list[str], lang: str) -> str:
    from babel.lists import format_list

    return format_list(items, locale=lang) if len(items) > 1 else "".join(items)


def citation_string(symbol: str | None, n: int, footnotes: list[int] | tuple[int, ...] = (), lang: str | None = "en") -> str:
    """A citation to paste: 'A/75/36, para. 25 (fn. 6)' in the reader's conventions ('A/75/36，第25段（脚注6）' …).

    Without a symbol, the paragraph alone ('para. 25').
    """
    lang = reader_language(lang)
    c = _CITE[lang]
    symbol = valid_symbol(symbol)
    text = c["para"].format(sym=symbol or "", n=n)
    if not symbol:
        text = text.split(" ", 1)[1] if lang != "zh" else text.lstrip("，")
    fns = sorted(dict.fromkeys(int(f) for f in footnotes))
    if fns:
        key = "fn" if len(fns) == 1 else "fns"
        text += c["wrap"].format(c[key].format(x=_join([str(f) for f in fns], lang)))
    return text


def ui_text(lang: str | None, key: str, **kw) -> str:
    return _UI[reader_language(lang)][key].format(**kw)


def official(symbol: str | None, n: int, footnotes: list[int] | tuple[int, ...] = (), lang: str | None = "en") -> dict:
    """What the JSON of a cited paragraph or quote carries: the symbol, the citation string and the six links."""
    symbol = valid_symbol(symbol)
    return {"symbol": symbol, "citation": citation_string(symbol, n, footnotes, lang),
            "links": official_links(symbol, lang, n)}


def cited_footnotes(highlights, markers, evidence_footnotes) -> list[int]:
    """The footnotes an answer cites in one paragraph: those marked inside a highlighted sentence, and the evidence."""
    out = list(evidence_footnotes or [])
    for fn, off in markers or []:
        if any(s < off <= e for s, e in highlights or []):
            out.append(fn)
    return sorted(dict.fromkeys(out))


def annotate(data: dict, lang: str | None) -> dict:
    """Add `official` (symbol, citation string, links) to each paragraph, related paragraph and quote of Answer JSON."""
    symbols: dict[tuple[str, int], str | None] = {}
    for key in ("paragraphs", "related"):
        for p in data.get(key) or []:
            symbols[(p["doc"], p["n"])] = p.get("symbol")
            fns = cited_footnotes(p.get("highlights"), p.get("markers"), p.get("evidence_footnotes"))
            p["official"] = official(p.get("symbol"), p["n"], fns, lang)
    for q in data.get("quotes") or []:
        q["official"] = official(symbols.get((q["doc"], q["paragraph"])), q["paragraph"], q.get("footnotes") or [], lang)
    return data
