"""UI labels in the six UN languages. The report is quoted in its own language; only labels change."""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "paragraph": "Paragraph", "section": "Section", "footnotes": "Footnotes", "fn": "fn",
        "answer": "Answer", "cited": "Cited paragraphs", "searched": "Searched for",
        "not_covered": "The report does not appear to cover this.",
        "not_mentioned": "The report does not mention {names}.",
        "mentions_not": "The report mentions {names} but does not give {what}.",
        "gives_not": "The report does not give {what} for this.",
        "what_when": "a date", "what_how_many": "a number", "what_names": "the names", "what_list": "the names", "what_link": "a link", "what_amount": "an amount of money", "what_city": "the city", "what_person": "the person's name",
        "possibly_related": "Possibly related paragraphs", "no_footnotes": "No footnotes.",
        "lookup_missing_paragraph": "The report has paragraphs {first}–{last}; there is no ¶{n}.",
        "lookup_missing_footnote": "The report has footnotes 1–{last}; there is no footnote {n}.",
        "footnote_of": "Footnote {n} (marker in ¶{p})",
        "same_numbers": "Paragraph numbers are the same in every UN language version of the report.",
        "quote_note": "Quoted verbatim from the report (original language).",
        # generated (LLM) answers: qa/answer/llm.py
        "generated": "Generated answer (checked against the cited paragraphs)",
        "quotes": "Verbatim quotes from the report",
        "translation": "unofficial machine translation",
        "dropped": "{n} generated sentence(s) failed the citation check and were removed.",
        "all_dropped": "The generated answer failed the citation check; the verbatim quotes are shown instead.",
        "refused": "The language model gave no usable answer ({why}); the verbatim quotes are shown instead.",
        "error": "The generated answer is unavailable ({why}); the verbatim quotes are shown instead.",
    },
    "zh": {
        "paragraph": "第{n}段", "section": "章节", "footnotes": "脚注", "fn": "注",
        "answer": "回答", "cited": "引用的段落", "searched": "检索内容",
        "not_covered": "报告似乎没有涉及这个问题。",
        "not_mentioned": "报告没有提及{names}。",
        "mentions_not": "报告提到了{names}，但没有给出{what}。",
        "gives_not": "报告没有给出这方面的{what}。",
        "what_when": "日期", "what_how_many": "数字", "what_names": "具体名称", "what_list": "具体名称", "what_link": "链接", "what_amount": "金额", "what_city": "城市", "what_person": "人名",
        "possibly_related": "可能相关的段落", "no_footnotes": "无脚注。",
        "lookup_missing_paragraph": "报告共有第{first}至第{last}段，没有第{n}段。",
        "lookup_missing_footnote": "报告共有脚注 1 至 {last}，没有脚注 {n}。",
        "footnote_of": "脚注 {n}（标注于第{p}段）",
        "same_numbers": "报告各联合国语文版本的段落编号相同。",
        "quote_note": "引文摘自报告原文。",
        # generated (LLM) answers: qa/answer/llm.py
        "generated": "生成的回答（已对照所引段落核查）",
        "quotes": "报告原文引文",
        "translation": "非官方机器翻译",
        "dropped": "有 {n} 个生成的句子未通过引文核查，已删除。",
        "all_dropped": "生成的回答未通过引文核查；下面是报告原文引文。",
        "refused": "语言模型没有给出可用的回答（{why}）；下面是报告原文引文。",
        "error": "无法获得生成的回答（{why}）；下面是报告原文引文。",
    },
    "fr": {
        "paragraph": "Paragraphe", "section": "Section", "footnotes": "Notes de bas de page", "fn": "note",
        "answer": "Réponse", "cited": "Paragraphes cités", "searched": "Recherche effectuée",
        "not_covered": "Le rapport ne semble pas traiter de cette question.",
        "not_mentioned": "Le rapport ne mentionne pas {names}.",
        "mentions_not": "Le rapport mentionne {names} mais ne donne pas {what}.",
        "gives_not": "Le rapport ne donne pas {what} à ce sujet.",
        "what_when": "de date", "what_how_many": "de chiffre", "what_names": "les noms", "what_list": "les noms", "what_link": "de lien", "what_amount": "de montant", "what_city": "la ville", "what_person": "le nom de la personne",
        "possibly_related": "Paragraphes peut-être liés", "no_footnotes": "Aucune note.",
        "lookup_missing_paragraph": "Le rapport compte les paragraphes {first} à {last} ; il n'y a pas de ¶{n}.",
        "lookup_missing_footnote": "Le rapport compte les notes 1 à {last} ; il n'y a pas de note {n}.",
        "footnote_of": "Note {n} (appel au ¶{p})",
        "same_numbers": "Les numéros de paragraphe sont les mêmes dans toutes les versions linguistiques du rapport.",
        "quote_note": "Citation textuelle du rapport (langue originale).",
        # generated (LLM) answers: qa/answer/llm.py
        "generated": "Réponse générée (vérifiée d'après les paragraphes cités)",
        "quotes": "Citations textuelles du rapport",
        "translation": "traduction automatique non officielle",
        "dropped": "{n} phrase(s) générée(s) n'ont pas passé la vérification des citations et ont été retirées.",
        "all_dropped": "La réponse générée n'a pas passé la vérification des citations ; voici les citations textuelles.",
        "refused": "Le modèle de langue n'a pas donné de réponse utilisable ({why}) ; voici les citations textuelles.",
        "error": "La réponse générée n'est pas disponible ({why}) ; voici les citations textuelles.",
    },
    "es": {
        "paragraph": "Párrafo", "section": "Sección", "footnotes": "Notas", "fn": "nota",
        "answer": "Respuesta", "cited": "Párrafos citados", "searched": "Búsqueda realizada",
        "not_covered": "El informe no parece tratar este tema.",
        "not_mentioned": "El informe no menciona {names}.",
        "mentions_not": "El informe menciona {names} pero no da {what}.",
        "gives_not": "El informe no da {what} al respecto.",
        "what_when": "una fecha", "what_how_many": "una cifra", "what_names": "los nombres", "what_list": "los nombres", "what_link": "un enlace", "what_amount": "un monto", "what_city": "la ciudad", "what_person": "el nombre de la persona",
        "possibly_related": "Párrafos posiblemente relacionados", "no_footnotes": "Sin notas.",
        "lookup_missing_paragraph": "El informe tiene los párrafos {first} a {last}; no existe el ¶{n}.",
        "lookup_missing_footnote": "El informe tiene las notas 1 a {last}; no existe la nota {n}.",
        "footnote_of": "Nota {n} (llamada en el ¶{p})",
        "same_numbers": "Los números de párrafo son los mismos en todas las versiones lingüísticas del informe.",
        "quote_note": "Cita textual del informe (idioma original).",
        # generated (LLM) answers: qa/answer/llm.py
        "generated": "Respuesta generada (verificada con los párrafos citados)",
        "quotes": "Citas textuales del informe",
        "translation": "traducción automática no oficial",
        "dropped": "{n} oración(es) generada(s) no superaron la verificación de las citas y se eliminaron.",
        "all_dropped": "La respuesta generada no superó la verificación de las citas; se muestran las citas textuales.",
        "refused": "El modelo de lenguaje no dio una respuesta utilizable ({why}); se muestran las citas textuales.",
        "error": "La respuesta generada no está disponible ({why}); se muestran las citas textuales.",
    },
    "ru": {
        "paragraph": "Пункт", "section": "Раздел", "footnotes": "Сноски", "fn": "сн.",
        "answer": "Ответ", "cited": "Цитируемые пункты", "searched": "Поиск по запросу",
        "not_covered": "Похоже, в докладе нет сведений по этому вопросу.",
        "not_mentioned": "В докладе не упоминается: {names}.",
        "mentions_not": "В докладе упоминается {names}, но не приводится {what}.",
        "gives_not": "В докладе не приводится {what} по этому вопросу.",
        "what_when": "дата", "what_how_many": "число", "what_names": "названия", "what_list": "названия", "what_link": "ссылка", "what_amount": "сумма", "what_city": "город", "what_person": "имя",
        "possibly_related": "Возможно, связанные пункты", "no_footnotes": "Сносок нет.",
        "lookup_missing_paragraph": "В докладе пункты {first}–{last}; пункта {n} нет.",
        "lookup_missing_footnote": "В докладе сноски 1–{last}; сноски {n} нет.",
        "footnote_of": "Сноска {n} (ссылка в п. {p})",
        "same_numbers": "Номера пунктов одинаковы во всех языковых версиях доклада.",
        "quote_note": "Дословная цитата из доклада (язык оригинала).",
        # generated (LLM) answers: qa/answer/llm.py
        "generated": "Сгенерированный ответ (проверен по цитируемым пунктам)",
        "quotes": "Дословные цитаты из доклада",
        "translation": "неофициальный машинный перевод",
        "dropped": "Удалено сгенерированных предложений, не прошедших проверку ссылок: {n}.",
        "all_dropped": "Сгенерированный ответ не прошёл проверку ссылок; показаны дословные цитаты.",
        "refused": "Языковая модель не дала пригодного ответа ({why}); показаны дословные цитаты.",
        "error": "Сгенерированный ответ недоступен ({why}); показаны дословные цитаты.",
    },
    "ar": {
        "paragraph": "الفقرة", "section": "الفرع", "footnotes": "الحواشي", "fn": "حاشية",
        "answer": "الإجابة", "cited": "الفقرات المستشهد بها", "searched": "تم البحث عن",
        "not_covered": "لا يبدو أن التقرير يتناول هذا الموضوع.",
        "not_mentioned": "لا يذكر التقرير {names}.",
        "mentions_not": "يذكر التقرير {names} لكنه لا يذكر {what}.",
        "gives_not": "لا يذكر التقرير {what} بهذا الشأن.",
        "what_when": "تاريخًا", "what_how_many": "رقمًا", "what_names": "الأسماء", "what_list": "الأسماء", "what_link": "رابطًا", "what_amount": "مبلغًا", "what_city": "المدينة", "what_person": "اسم الشخص",
        "possibly_related": "فقرات قد تكون ذات صلة", "no_footnotes": "لا توجد حواش.",
        "lookup_missing_paragraph": "يتضمن التقرير الفقرات {first}–{last}؛ لا توجد الفقرة {n}.",
        "lookup_missing_footnote": "يتضمن التقرير الحواشي 1–{last}؛ لا توجد الحاشية {n}.",
        "footnote_of": "الحاشية {n} (الإحالة في الفقرة {p})",
        "same_numbers": "أرقام الفقرات هي نفسها في جميع النسخ اللغوية للتقرير.",
        "quote_note": "اقتباس حرفي من التقرير (باللغة الأصلية).",
        # generated (LLM) answers: qa/answer/llm.py
        "generated": "إجابة مولَّدة (جرى التحقق منها مقابل الفقرات المستشهد بها)",
        "quotes": "اقتباسات حرفية من التقرير",
        "translation": "ترجمة آلية غير رسمية",
        "dropped": "أُزيلت {n} من الجمل المولَّدة لأنها لم تجتز التحقق من الاستشهادات.",
        "all_dropped": "لم تجتز الإجابة المولَّدة التحقق من الاستشهادات؛ تُعرض الاقتباسات الحرفية بدلاً منها.",
        "refused": "لم يقدّم النموذج اللغوي إجابة صالحة ({why})؛ تُعرض الاقتباسات الحرفية بدلاً منها.",
        "error": "الإجابة المولَّدة غير متاحة ({why})؛ تُعرض الاقتباسات الحرفية بدلاً منها.",
    },
}


def labels(lang: str) -> dict[str, str]:
    return LABELS.get(lang, LABELS["en"])


def paragraph_label(lang: str, n: int) -> str:
    """'Paragraph 25' / '第25段' / 'Paragraphe 25' …"""
    tmpl = labels(lang)["paragraph"]
    return tmpl.format(n=n) if "{n}" in tmpl else f"{tmpl} {n}"


def cite(n: int, footnotes: list[int] | tuple[int, ...] = (), lang: str = "en", doc: str | None = None) -> str:
    """The inline citation: [¶25] or [¶10, 注4] / [¶10, fn 4]; with `doc` (several reports loaded) it names the
    report first: [A/75/36 ¶25], [A/79/123 ¶10, fn 4]."""
    head = f"[{doc} ¶{n}" if doc else f"[¶{n}"
    if not footnotes:
        return head + "]"
    fn = labels(lang)["fn"]
    sep = "" if lang == "zh" else " "
    return head + ", " + ", ".join(f"{fn}{sep}{f}" for f in footnotes) + "]"
