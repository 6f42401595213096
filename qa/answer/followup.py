"""Follow-up questions: "那墨西哥呢？", "What about Mexico?", "哪些国家？" need the conversation.

An elliptical question is searched together with the last full question of the conversation,
so the earlier topic carries over and the new detail (a country, "which countries") narrows it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from qa.retrieval.bridge import PLACE_KINDS
from qa.text import detect_language, is_cjk

_LEADS = re.compile(
    r"^\s*(?:那|那么|还有|以及|另外|和|而|哪些|哪个|哪|什么时候|多少|"
    r"and\b|what about\b|how about\b|and in\b|and the\b|which\b|who\b|when\b|where\b|"
    r"et\b|et en\b|et à\b|et au\b|et pour\b|quels?\b|quelles?\b|"
    r"¿?\s*y\b|¿?\s*y en\b|¿?\s*qué hay de\b|¿?\s*cuáles\b|"
    r"а\b|и\b|а как\b|что насч[её]т\b|как насч[её]т\b|а в\b|какие\b|"
    r"وماذا عن|ماذا عن|وفي|وما|و)",
    re.IGNORECASE,
)
# Bare question words ("¿En qué países?", "Где?", "متى؟") lean on the earlier turn only when very short.
_WH = re.compile(
    r"^\s*(?:¿?\s*en qué\b|¿?\s*dónde\b|¿?\s*cuándo\b|¿?\s*quién(?:es)?\b|¿?\s*cuánt[oa]s?\b|"
    r"où\b|quand\b|combien\b|dans quels?\b|где\b|когда\b|сколько\b|в каких\b|кто\b|أين|متى|كم|في أي)",
    re.IGNORECASE,
)
_TAILS = re.compile(r"(?:呢|吗)\s*[？?]?\s*$")


def content_size(text: str) -> int:
    """Words of a question: Latin-script words plus one per two CJK characters."""
    cjk = sum(is_cjk(ch) for ch in text)
    words = len(re.findall(r"[^\W\d_]+", "".join(" " if is_cjk(ch) else ch for ch in text)))
    return cjk // 2 + words


def is_elliptical(question: str) -> bool:
    """Short questions that lean on an earlier turn ("And in Chad?", "那在疫情期间呢？")."""
    q = question.strip()
    if not q:
        return False
    size = content_size(q)
    if size <= 2:
        return True
    if size <= 6 and (_LEADS.search(q) or _TAILS.search(q)):
        return True
    if size <= 3 and _WH.search(q):
        return True
    return False


def contextual_query(history: list[str], question: str) -> str:
    """The query to search: the question itself, or the question joined to the topic it continues."""
    if not history or not is_elliptical(question):
        return question.strip()
    topic = history[-1]
    # The previous turn may itself have been a follow-up: resolve it first.
    topic = contextual_query(history[:-1], topic)
    return f"{topic.strip()} {question.strip()}"


FOLLOWUP_OWN_WEIGHT = 0.3
TOPIC_WEIGHT = 0.5  # a longer question that refers back ("what did it recommend?") searches the earlier topic too

# Pronouns and demonstratives that point back to the previous answer, in the six languages.
_BACK = re.compile(
    r"它|它们|他|她|他们|她们|其|该|此|这项|这个|这些|这一|那项|那个|那些|上述|前述|此事|两者|二者|"
    r"\b(?:it|its|they|them|their|that|this|these|those|there|he|she|him|her|his|former|latter|both)\b|"
    r"\b(?:cela|ça|celui-ci|celle-ci|ceux-ci|celles-ci|cette|ces|ils|elles|elle|leur|leurs)\b|"
    r"\b(?:eso|ese|esa|esos|esas|esto|este|esta|estos|estas|ello|ellos|ellas|él|ella|allí|ahí|su|sus|dich[oa]s?|"
    r"mism[oa]s?|aquel|aquella)\b|"
    r"(?:^|\s)(?:это|этот|эта|эти|этого|этой|этих|этом|этим|этому|тот|та|те|он|она|они|оно|его|её|ее|их|им|ей|ему|"
    r"ими|там|него|неё|них|ней|нему|данн\w+)(?=\s|[?.,!]|$)|"
    r"ذلك|هذا|هذه|تلك|هؤلاء|هناك|(?:^|\s)(?:هو|هي|هم)(?=\s|$)|(?:^|\s)(?:عن|في|من|ب|ل|مع)(?:ه|ها|هم)(?=\s|[؟?.,،]|$)",
    re.IGNORECASE,
)


# French only (in Spanish "en", "y" are "in", "and"): "ce", "il", "là", "y" (there), not in "est-ce", "a-t-il",
# "Y a-t-il …", "il y a".
_BACK_FR = re.compile(r"(?<![-'’])\b(?:ce|il|là)\b(?!-)|(?<!il )(?<=\w )y\b|\bl['’](?:a|ont|avait|avaient)\b",
                      re.IGNORECASE)
# Spanish only: a clitic "lo", "le", "les" before the verb ("¿Lo cambiaron?", "¿Cuándo lo adoptaron?").
_BACK_ES = re.compile(r"(?:^|¿|\b(?:cu[aá]ndo|d[oó]nde|c[oó]mo|qui[eé]n(?:es)?|qu[eé]|y|ya)\s+)(?:lo|le|les)\s+"
                      r"(?!que\b|de\b|m[aá]s\b)[^\W\d_]{3,}", re.IGNORECASE)
# "this report", "this period": the report itself, not something said before.
_SELF = re.compile(
    r"\b(?:this|the) (?:report|period|reporting period|year|document)\b|\b(?:ce|le présent) (?:rapport|document)\b|"
    r"\bcette (?:période|année)\b|\b(?:este|el presente) (?:informe|período|periodo|año|documento)\b|"
    r"\besta (?:época|etapa)\b|(?:этот|данный|настоящий) (?:доклад|документ|период)|"
    r"(?:этом|данном|настоящем) (?:докладе|документе|периоде)|(?:этого|данного) (?:доклада|периода)|"
    r"هذا التقرير|هذه الفترة|هذا العام", re.IGNORECASE)


# A question that opens with "and" continues the conversation whatever its length ("¿Y en cuántos países ayudó …?",
# "et dans quelle coalition …", "وما اسم المشروع …"). Arabic و is a prefix: only before a question word.
_AND = re.compile(r"^\s*¿?\s*(?:(?:and|et|y(?!\s+a\b|\s+a-t)|а|и)\b|那么|还有|另外|而|و(?=ما|ماذا|كم|هل|متى|أين|من|كيف|لماذا|أي|في))",
                  re.IGNORECASE)


def points_back(question: str, lang: str | None = None) -> bool:
    """Whether the question has a pronoun or demonstrative for something said before ("When was it adopted?",
    "那项呼吁…")."""
    q = _SELF.sub(" ", question)
    return bool(_BACK.search(q) or (lang == "fr" and _BACK_FR.search(q)) or (lang == "es" and _BACK_ES.search(q)))


def refers_back(question: str, lang: str | None = None) -> bool:
    """Whether the question continues what was said before: it points back, or it opens with "and"."""
    return points_back(question, lang) or bool(_AND.search(question))


TOPIC_TURNS = 3  # earlier questions a topic may reach back over ("What about the right to development?" → "Where
#                 did it start a pilot project on that?" → "and how many people got trained?")


def resolved_topic(history: list[str], entities: Callable[[str], list] | None = None) -> str:
    """The topic the last earlier question was about: that question, joined to the topic before it when it leaned
    on one itself (elliptical, pointing back, or short and naming nothing of the report), up to TOPIC_TURNS. A
    longer "And how did it support …?" that only opens with "and" brings its own topic."""
    parts = [history[-1].strip()]
    for earlier in reversed(history[-TOPIC_TURNS:-1]):
        last = parts[0]
        lang = detect_language(last)
        if not (leans_on_topic(last, entities, lang) or points_back(last, lang)):
            break
        parts.insert(0, earlier.strip())
    return " ".join(parts)


def swap_places(topic: str, question: str, entities: Callable[[str], list] | None) -> str:
    """The topic with its places removed when the follow-up names other places ("And in Kenya?" after Chad)."""
    if entities is None:
        return topic
    new = [e for e in entities(question) if e.kind in PLACE_KINDS]
    if not new:
        return topic
    old = [e for e in entities(topic) if e.kind in PLACE_KINDS and e.id not in {n.id for n in new}]
    for e in sorted(old, key=lambda e: -e.start):
        topic = topic[:e.start] + topic[e.end:]
    return re.sub(r"\s+", " ", topic).strip()


def followup_queries(history: list[str], question: str, entities: Callable[[str], list] | None = None,
                     lang: str | None = None, *, topic_weight: float = TOPIC_WEIGHT,
                     own_weight: float = FOLLOWUP_OWN_WEIGHT) -> tuple[str, list[tuple[str, float]]]:
    """The main query and weighted extra queries for a question in a conversation.

    A follow-up searches the earlier topic joined to its own words; when it names a new place, the
    topic's places are swapped out, so "And in Kenya?" keeps the topic and changes the country. It also
    searches its own words at a lower weight, so the new detail still counts next to the carried-over
    topic (0.3: best of 0.25–0.75 on the evaluation set's follow-ups). A longer question that refers back
    with a pronoun or demonstrative searches its own words, and the earlier topic at `topic_weight`.
    `entities(text)` finds places (the retriever's multilingual bridge); without it, no swap.
    """
    q = question.strip()
    if not history:
        return q, []
    topic = resolved_topic(history, entities)
    if not leans_on_topic(q, entities, lang):
        return (q, [(topic, topic_weight)]) if refers_back(q, lang) else (q, [])
    main = f"{swap_places(topic, q, entities)} {q}"
    return main, [(q, own_weight)]


def names_own(question: str, entities: Callable[[str], list] | None) -> bool:
    """Whether a question names something of the report itself (a place, body, programme, term), not only the Office."""
    if entities is None:
        return True
    return any(e.own_name for e in entities(question))


def leans_on_topic(question: str, entities: Callable[[str], list] | None = None, lang: str | None = None) -> bool:
    """A follow-up searched together with the earlier topic: an elliptical one ("And in Chad?"), or a short one
    (CONTEXT_WORDS words at most) that asks something and names nothing of the report itself ("How many took
    part?", "¿Con base en qué resolución?", "What was the focus of that debate?"). A keyword query with no
    question in it ("UN Prevention Platform") starts a new topic."""
    if is_elliptical(question):
        return True
    asks = refers_back(question, lang) or any(m in question for m in "?？؟") or bool(_WH.search(question))
    return asks and content_size(question) <= CONTEXT_WORDS and not names_own(question, entities)


CONTEXT_WORDS = 7  # chosen on the tuning sets' follow-ups, checked on their questions asked after an unrelated one
