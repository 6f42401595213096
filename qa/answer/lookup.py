"""Direct lookups: "第25段", "¶25", "paragraph 25", "para. 25", "脚注6", "注6", "footnote 6", "fn 6", "note 6".

A lookup returns that paragraph or footnote exactly; it is not a search. It only triggers when
the reference is essentially the whole question ("What does paragraph 25 say?"), so a question
that merely mentions a number is still searched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PARA = [
    r"第\s*(\d{1,4})\s*段",
    r"¶\s*(\d{1,4})",
    r"§\s*(\d{1,4})",
    r"\b(?:paragraph|paragraphe|párrafo|parrafo|para|par|pár|parr)\.?\s*(?:no\.?\s*|n[°º]\s*)?(\d{1,4})\b",
    r"(?:пункт|п\.)\s*(\d{1,4})",
    r"الفقرة\s*(\d{1,4})",
]
_FOOT = [
    r"(?:脚注|注释|附注|注)\s*(\d{1,3})",
    r"\b(?:footnote|foot-note|fn|f\.n|note de bas de page|note|nota al pie|nota|n\.)\.?\s*(?:no\.?\s*)?(\d{1,3})\b",
    r"сноск[аеиу]\s*(\d{1,3})",
    r"الحاشية\s*(\d{1,3})",
]
_FILLER = re.compile(
    r"(?:\b(?:show|display|open|read|quote|give|what|does|do|say|says|is|in|the|of|me|please|about|text|"
    r"montre[rz]?|affiche[rz]?|que|dit|le|la|du|de|lire|voir|"
    r"muestra|muestre|mostrar|qué|dice|el|del|ver|leer|"
    r"покажи|что|в|говорится)\b|اعرض|ماذا|تقول|"
    r"请|显示|查看|打开|给我|看看|内容|说了什么|说什么|讲了什么|是什么|原文|全文|的|一下|"
    r"[\s?？!！.。,，:：;；()（）\"'“”«»¿¡-])+",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Lookup:
    kind: str  # "paragraph" or "footnote"
    n: int
    doc: str | None = None


def parse_lookup(question: str) -> Lookup | None:
    q = question.strip()
    for kind, patterns in (("footnote", _FOOT), ("paragraph", _PARA)):
        for pat in patterns:
            m = re.search(pat, q, re.IGNORECASE)
            if not m:
                continue
            rest = (q[:m.start()] + " " + q[m.end():]).strip()
            leftover = _FILLER.sub(" ", rest).strip()
            if len(leftover) <= 3:
                return Lookup(kind, int(m.group(1)))
    return None
