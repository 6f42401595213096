"""UI labels in the six UN languages. The report is quoted in its own language; only labels change."""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "paragraph": "Paragraph", "section": "Section", "footnotes": "Footnotes", "fn": "fn",
        "answer": "Answer", "cited": "Cited paragraphs", "searched": "Searched for",
        "not_covered": "The report does not appear to cover this.",
        "not_mentioned": "The report does not mention {names}.",
        "possibly_related": "Possibly related paragraphs", "no_footnotes": "No footnotes.",
        "lookup_missing_paragraph": "The report has paragraphs {first}–{last}; there is no ¶{n}.",
        "lookup_missing_footnote": "The report has footnotes 1–{last}; there is no footnote {n}.",
        "footnote_of": "Footnote {n} (marker in ¶{p})",
        "same_numbers": "Paragraph numbers are the same in every UN language version of the report.",
        "quote_note": "Quoted verbatim from the report (original language).",
    },
    "zh": {
        "paragraph": "第{n}段", "section": "章节", "footnotes": "脚注", "fn": "注",
        "answer": "回答", "cited": "引用的段落", "searched": "检索内容",
        "not_covered": "报告似乎没有涉及这个问题。",
        "not_mentioned": "报告没有提及{names}。",
        "possibly_related": "可能相关的段落", "no_footnotes": "无脚注。",
        "lookup_missing_paragraph": "报告共有第{first}至第{last}段，没有第{n}段。",
        "lookup_missing_footnote": "报告共有脚注 1 至 {last}，没有脚注 {n}。",
        "footnote_of": "脚注 {n}（标注于第{p}段）",
        "same_numbers": "报告各联合国语文版本的段落编号相同。",
        "quote_note": "引文摘自报告原文。",
    },
    "fr": {
        "paragraph": "Paragraphe", "section": "Section", "footnotes": "Notes de bas de page", "fn": "note",
        "answer": "Réponse", "cited": "Paragraphes cités", "searched": "Recherche effectuée",
        "not_covered": "Le rapport ne semble pas traiter de cette question.",
        "not_mentioned": "Le rapport ne mentionne pas {names}.",
        "possibly_related": "Paragraphes peut-être liés", "no_footnotes": "Aucune note.",
        "lookup_missing_paragraph": "Le rapport compte les paragraphes {first} à {last} ; il n'y a pas de ¶{n}.",
        "lookup_missing_footnote": "Le rapport compte les notes 1 à {last} ; il n'y a pas de note {n}.",
        "footnote_of": "Note {n} (appel au ¶{p})",
        "same_numbers": "Les numéros de paragraphe sont les mêmes dans toutes les versions linguistiques du rapport.",
        "quote_note": "Citation textuelle du rapport (langue originale).",
    },
    "es": {
        "paragraph": "Párrafo", "section": "Sección", "footnotes": "Notas", "fn": "nota",
        "answer": "Respuesta", "cited": "Párrafos citados", "searched": "Búsqueda realizada",
        "not_covered": "El informe no parece tratar este tema.",
        "not_mentioned": "El informe no menciona {names}.",
        "possibly_related": "Párrafos posiblemente relacionados", "no_footnotes": "Sin notas.",
        "lookup_missing_paragraph": "El informe tiene los párrafos {first} a {last}; no existe el ¶{n}.",
        "lookup_missing_footnote": "El informe tiene las notas 1 a {last}; no existe la nota {n}.",
        "footnote_of": "Nota {n} (llamada en el ¶{p})",
        "same_numbers": "Los números de párrafo son los mismos en todas las versiones lingüísticas del informe.",
        "quote_note": "Cita textual del informe (idioma original).",
    },
    "ru": {
        "paragraph": "Пункт", "section": "Раздел", "footnotes": "Сноски", "fn": "сн.",
        "answer": "Ответ", "cited": "Цитируемые пункты", "searched": "Поиск по запросу",
        "not_covered": "Похоже, в докладе нет сведений по этому вопросу.",
        "not_mentioned": "В докладе не упоминается: {names}.",
        "possibly_related": "Возможно, связанные пункты", "no_footnotes": "Сносок нет.",
        "lookup_missing_paragraph": "В докладе пункты {first}–{last}; пункта {n} нет.",
        "lookup_missing_footnote": "В докладе сноски 1–{last}; сноски {n} нет.",
        "footnote_of": "Сноска {n} (ссылка в п. {p})",
        "same_numbers": "Номера пунктов одинаковы во всех языковых версиях доклада.",
        "quote_note": "Дословная цитата из доклада (язык оригинала).",
    },
    "ar": {
        "paragraph": "الفقرة", "section": "الفرع", "footnotes": "الحواشي", "fn": "حاشية",
        "answer": "الإجابة", "cited": "الفقرات المستشهد بها", "searched": "تم البحث عن",
        "not_covered": "لا يبدو أن التقرير يتناول هذا الموضوع.",
        "not_mentioned": "لا يذكر التقرير {names}.",
        "possibly_related": "فقرات قد تكون ذات صلة", "no_footnotes": "لا توجد حواش.",
        "lookup_missing_paragraph": "يتضمن التقرير الفقرات {first}–{last}؛ لا توجد الفقرة {n}.",
        "lookup_missing_footnote": "يتضمن التقرير الحواشي 1–{last}؛ لا توجد الحاشية {n}.",
        "footnote_of": "الحاشية {n} (الإحالة في الفقرة {p})",
        "same_numbers": "أرقام الفقرات هي نفسها في جميع النسخ اللغوية للتقرير.",
        "quote_note": "اقتباس حرفي من التقرير (باللغة الأصلية).",
    },
}


def labels(lang: str) -> dict[str, str]:
    return LABELS.get(lang, LABELS["en"])


def paragraph_label(lang: str, n: int) -> str:
    """'Paragraph 25' / '第25段' / 'Paragraphe 25' …"""
    tmpl = labels(lang)["paragraph"]
    return tmpl.format(n=n) if "{n}" in tmpl else f"{tmpl} {n}"


def cite(n: int, footnotes: list[int] | tuple[int, ...] = (), lang: str = "en") -> str:
    """The inline citation: [¶25] or [¶10, 注4] / [¶10, fn 4]."""
    if not footnotes:
        return f"[¶{n}]"
    fn = labels(lang)["fn"]
    sep = "" if lang == "zh" else " "
    return f"[¶{n}, " + ", ".join(f"{fn}{sep}{f}" for f in footnotes) + "]"
