"""Which sentences of a cited paragraph answer the question: what it asks decides.

Retrieval ranks paragraphs and names each one's best-matching sentence. A reader wants the sentence
that states the fact: the date for "when", the number for "how many", the names for "which
countries", the footnote with its link for "where can I read", the sentence naming the place for
"what did OHCHR do in X". `intents()` reads what a question asks in the six UN languages; `Focus`
holds that and the report's forms of the places and terms it names (from the multilingual bridge),
and `rank_sentences()` orders a paragraph's sentences by match, with those features as bonuses.
Every quote stays a slice of its paragraph: this module only chooses among `Paragraph.spans`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from qa.answer.followup import FOLLOWUP_OWN_WEIGHT, TOPIC_WEIGHT, content_size
from qa.retrieval.bridge import OFFICE, PLACE_KINDS, Entity
from qa.retrieval.lexical import tokenize
from qa.types import Footnote, Paragraph

Intent = Literal["when", "how_many", "names", "list", "link", "activity", "amount", "city", "person"]

_INTENT_PATTERNS: dict[Intent, str] = {
    # "when" and "cuando" also join clauses ("… when they moved to remote work?"): a question word only at the start,
    # before a verb, or at the end
    "when": r"何时|什么时候|哪一?天|哪一?年|几月|哪个月|日期|(?:^|[,;:¿]\s*|\band\s+)when\b(?!\s[^?]*,)|"
            r"\bwhen (?:was|were|did|does|do|is|are|will|has|had|exactly)\b|\bwhen\s*\?|what date|which year|"
            r"what year|\bquand\b|à quelle date|quelle date|en quelle année|quel jour|cuándo|(?:^|[,;:¿]\s*|\by\s+)cuando\b(?!\s[^?]*,)|"
            r"\bcuando\s*\?|en qu[eé] (?:fecha|año|mes)|qu[eé] d[ií]a|"
            r"когда|в каком (?:году|месяце)|какого числа|какую дату|متى|في أي (?:عام|سنة|تاريخ|شهر)|ما تاريخ",
    "how_many": r"多少|(?<!哪)几(?:个|名|次|项|家)|数量|数目|how many|how much|number of|combien|quel nombre|"
                r"cu[aá]nt[oa]s?|qu[eé] n[uú]mero|сколько|какое число|какое количество|\bكم\b|عدد",
    "names": r"哪些|哪几|哪个国家|哪国|谁|\bwho\b|\bwhom\b|which (?:countries|states|countr|organi|bodies|entities|"
             r"partners|agencies)|what countries|\bqui\b|quels (?:pays|[ée]tats|partenaires|organismes)|quel pays|"
             r"qu[eé] pa[ií]ses|qui[eé]n(?:es)?|cu[aá]les|какие (?:страны|государства|организации|органы)|\bкто\b|"
             r"какая страна|أي (?:الدول|البلدان|دولة|بلد)|ما (?:الدول|البلدان)|\bمن\b (?:هم|هي|هو)|من الذي",
    # names in the plural ("which companies", "the names of"): the answer is a list of names
    "list": r"哪些(?:国家|公司|企业|机构|组织|成员|代表|缔约国)|哪几(?:个|家|位|名)|名字|名称|姓名|"
            r"(?:which|what) (?:[^\W\d_]+ )?(?:countries|states|companies|firms|agencies|organi[sz]ations|members|"
            r"people|persons|bodies|entities|fellows|speakers)\b|what are the names|names of|\bnamed?\b|"
            r"quels (?:pays|[ée]tats|entreprises|soci[ée]t[ée]s|organismes|membres)|quelles (?:entreprises|organisations)|"
            r"les noms|\bnoms\b|qu[eé] (?:pa[ií]ses|empresas|organismos|estados|agencias)|c[oó]mo se llaman|nombres|"
            r"какие (?:именно )?(?:страны|государства|компании|агентства|организации|\d+)|имена|названия|как зовут|"
            r"ما أسماء|أسماء|ما هي الدول|أي الدول|ما الدول|ما الشركات|ما هي الشركات|من هم",
    "link": r"哪里|哪儿|在哪(?:能|可以|可|看|读|找|查|下载)|何处|查阅|下载|链接|网址|网站|网页|出处|原文|哪份文件|"
            r"什么文件|\blink\b|\burl\b|website|web ?page|online|download|where can (?:i|one|we)|where (?:is|are|do|to)\b|(?:which|what) document|"
            r"document symbol|where (?:\w+ ){1,3}(?:find|read|access|consult|view)\b|"
            r"o[uù] (?:puis-je|peut-on|trouver|lire|consulter|se trouve|t[ée]l[ée]charger)|\blien\b|site|"
            r"o[uù] (?:[\w-]+[ '’]){1,5}(?:trouver|lire|consulter|t[ée]l[ée]charger)\b|"
            r"(?:lire|trouver|consulter|t[ée]l[ée]charger) o[uù]\b|t[ée]l[ée]charg|quel document|"
            r"d[oó]nde (?:puedo|se puede|encontrar|leer|consultar|est[aá]|descargar)|enlace|sitio|p[aá]gina|descarg|"
            r"d[oó]nde (?:\w+ ){1,3}(?:encontrar|leer|consultar|descargar|ver|hallar)(?:lo|la|los|las)?\b|"
            r"qu[eé] documento|"
            r"где (?:можно|найти|прочитать|опубликован|скачать)|ссылк|сайт|скачать|веб-страниц|как(?:ой|им|ого) документ|"
            r"где (?:\w+ ){1,2}(?:найти|прочитать|почитать|посмотреть|ознакомиться|скачать)|"
            r"أين يمكن|أين أجد|رابط|موقع|تحميل|أي وثيقة|ما الوثيقة|بأي وثيقة|"
            r"أين (?:\S+ ){1,2}(?:يمكن|أجد|أقرأ|نجد|الاطلاع)",
    "activity": r"做了什么|做了哪些|做过什么|开展了(?:哪些|什么)|采取了(?:哪些|什么)|(?:有|开展)?哪些(?:活动|工作)|"
                r"什么(?:活动|工作)|工作情况|"
                r"what (?:did|has|have|does)\b.*\b(?:do|done|doing)\b|activities|\bwork(?:ed)? (?:in|on)\b|"
                r"qu['’]a fait|qu['’]est-ce que .* fait|qu['’]a-t-(?:il|elle) fait|quelles activit|activit[ée]s|"
                r"qu[eé] (?:hizo|ha hecho|hace)|actividades|labor de|trabajo de|"
                r"что (?:сделал|делал|сделало|делает|сделано)|деятельност|"
                r"ماذا (?:فعلت|فعل|قدمت)|ما الذي (?:فعلت|قامت)|أنشطة|ما هي (?:أنشطة|أعمال)",
    # money: the answer is an amount with its currency
    "amount": r"多少钱|多少资金|多少经费|金额|款额|how much money|what amount|amount of (?:money|funding)|in dollars|"
              r"how much (?:funding|money|did .* (?:cost|spend|pay|give|receive|allocate))|combien d['’]argent|quel montant|"
              r"\bmontant\b|en dollars|cu[aá]nto dinero|qu[eé] (?:monto|cantidad de dinero)|\bmonto\b|\bimporte\b|"
              r"en d[oó]lares|сколько денег|как(?:ая|ую) сумм|в долларах|قيمة|بالدولار|مبلغ|كم من المال",
    # a city: the answer names one
    "city": r"哪个城市|哪座城市|什么城市|哪一个城市|which city|what city|in which town|quelle ville|"
            r"qu[eé] ciudad|в каком городе|какой город|в какой город|أي مدينة|ما المدينة|ما اسم المدينة",
    # a person's name (the report writes them with "·")
    "person": r"叫什么名字|姓名|names? of the (?:president|chair|fellows|experts|judges|speakers|participants)|"
              r"who (?:was|were) appointed|who (?:presides|chairs|chaired)|qui pr[ée]side|qui[eé]n preside|"
              r"как зовут|как (?:его|её|ее|их) зовут|фамили|кто председател|من يرأس|ما اسم رئيس",
}
_INTENTS = {k: re.compile(v, re.IGNORECASE) for k, v in _INTENT_PATTERNS.items()}
AMOUNT_RE = re.compile(r"\d[\d,. ]*\s*(?:万|亿)?\s*(?:美元|欧元|瑞士法郎|法郎|英镑)|(?:US)?\$\s*\d|\bUSD\b")

_MONTHS = (r"january|february|march|april|may|june|july|august|september|october|november|december|"
           r"janvier|f[ée]vrier|mars|avril|mai|juin|juillet|ao[uû]t|septembre|octobre|novembre|d[ée]cembre|"
           r"enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre|"
           r"январ|феврал|март|апрел|ма[йя]|июн|июл|август|сентябр|октябр|ноябр|декабр|"
           r"يناير|فبراير|مارس|أبريل|مايو|يونيو|يوليو|أغسطس|سبتمبر|أكتوبر|نوفمبر|ديسمبر")
DATE_RE = re.compile(r"\d{4}\s*年|\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?|[一二三四五六七八九十]+月|\d{1,2}\s*日|"
                     r"(?<!\d)(?:19|20)\d{2}(?!\d)|\b(?:" + _MONTHS + r")", re.IGNORECASE)
NUMBER_RE = re.compile(  # a count or an amount with its unit (not an ordinal 第…, a year or a session number)
    r"(?<![第\d])\d[\d,.]*\s*(?:%|％|个|名|次|项|份|万|亿|人|国|起|家|所|美元|欧元|瑞士法郎|天|周|场|篇|种|条|部|处|位|批|多)|"
    r"(?<![第\d])(?!一\s*(?:个|名|次|项|份|人|国|家|所|天|周|场|种|条|部|处|位|批))"  # "一项"/"一个" is "a", no count
    r"[一二两三四五六七八九十百千万]+\s*(?:个|名|次|项|份|人|国|家|所|天|周|场|种|条|部|处|位|批)|"
    r"(?<![\d/.\-])(?!(?:19|20)\d{2}\b)\d[\d,. ]*\s*(?:%|per ?cent|pour cent|por ciento|процент|\$|"
    r"[^\W\d_]{3,})", re.IGNORECASE)
SYMBOL_RE = re.compile(r"\b[A-Z]{1,4}/(?:[A-Z0-9.]+/)*[A-Z0-9.]+(?:/[A-Za-z0-9.]+)*")
_LIST_SEP = re.compile(r"[、;；]|和|及")  # Chinese lists names with 、 (and 和 before the last); ， joins clauses



@dataclass(frozen=True)
class AnswerWeights:
    """How the answer stage chooses what to quote; chosen by cross-validation on the tuning set
    (`eval/tune_answers.py`). Sentence scores are in units of "says everything the question says"."""

    rank: tuple[float, float] = (2.0, 1.2)  # the retriever's best and second-best sentence
    overlap: float = 3.0  # share of what the question says (names in any of their forms, words) in the sentence
    intent: float = 0.6  # the sentence can give what is asked: a date, a number, names, a link
    place: float = 1.5  # the sentence names the place the question names
    second_share: float = 1.0  # a 2nd/3rd paragraph is quoted when its fused score is within this share of the top
    max_sentences: int = 4  # paragraph sentences quoted at most (a country question: one per paragraph)
    per_paragraph: tuple[int, int] = (2, 1)  # sentences quoted from the first paragraph, and from each other one
    several: int = 2  # a question that asks several things: one more sentence per paragraph, this many more in all
    topic: float = TOPIC_WEIGHT  # a longer follow-up that refers back searches the earlier topic at this weight
    own: float = FOLLOWUP_OWN_WEIGHT  # a short one searches the topic joined to its words, and its words at this
    prior: float = 0.0  # a follow-up that refers back: the previous answer's paragraphs gain this many score spreads
    prior_quote: float = 0.0  # ... and searches the previous answer's first sentence at this weight
    prior_names: float = 0.0  # ... and the names in that sentence (places, bodies, terms) at this weight
    prior_bare: float = 1.0  # a bare follow-up ("From how many countries?", "А где?"): the previous answer's ¶ gain this
    split_parts: bool = True  # a two-part question quotes the best paragraph for each half
    typed_quotes: int = 1  # "how many"/"when"/"which ones" is declined when none of the first N quotes gives one
    typed_lead: bool = True  # "when"/"how many"/"which ones": a sentence that gives one leads its paragraph
    repeat: float = 0.0  # a follow-up: a sentence the previous answer quoted first loses this much
    decline_missing: bool = True  # a question naming only places the report never mentions is declined
    about_lead: bool = True  # a typed question: when the best paragraph names nothing it names, the next one that does leads
    typed_share: float = 0.2  # a typed question: when the best paragraph gives nothing of the kind asked, the next one
    # within this share of its score that does leads (0: never)


DEFAULT_WEIGHTS = AnswerWeights()


BROAD_WORDS = 1  # content words besides the names and the activity question that still leave a question broad
_FILLER = re.compile(
    r"人权高专办|高专办|办事处|联合国|高级专员|在|于|方面|国内|境内|"
    r"\b(?:the|un|united|nations|office|in|on|at|for|about|of|to|with|regarding|human|rights|high|commissioner|"
    r"le|la|les|l|au|aux|en|du|de|des|dans|pour|sur|haut|commissariat|droits|homme|"
    r"el|los|las|del|al|por|para|sobre|oficina|alto|comisionado|derechos|humanos|"
    r"в|во|на|по|для|о|об|управление|верховного|комиссара|правам|человека|"
    r"في|على|عن|من|المفوضية|السامية|لحقوق|الإنسان|الأمم|المتحدة)\b|[?？¿!！.,，、:：;；'’\"«»]",
    re.IGNORECASE)



def _leftover(question: str, entities: list[Entity]) -> int:
    """How many content words a question has besides its names, its activity phrase and filler."""
    q = question
    for e in sorted(entities, key=lambda e: -e.start):
        if (e.kind in PLACE_KINDS or e.id in OFFICE) and 0 <= e.start < e.end <= len(q):
            q = q[:e.start] + " " + q[e.end:]
    for rx in (_INTENTS["activity"], _FILLER):
        q = rx.sub(" ", q)
    return content_size(q)


# "that country", "there": the follow-up's place is one the previous answer named.
_PLACE_REF = re.compile(
    r"这个国家|该国|这些国家|那个国家|此国|当地|那里|\b(?:that|this|the same) (?:country|state|place|region)\b|\bthere\b|"
    r"\b(?:ce|cet|m[êe]me) (?:pays|[ée]tat|endroit)\b|\bl[àa]-bas\b|\b(?:ese|este|mismo) (?:pa[ií]s|estado|lugar)\b|"
    r"\ball[ií]\b|\bah[ií]\b|(?:эт|т)(?:а|ой|у|ом) (?:стран|государств)|\bтам\b|هذا البلد|هذه الدولة|تلك الدولة|هناك",
    re.IGNORECASE)


_PLACE_REF_FR = re.compile(r"\by\b|\bl[àa]\b", re.IGNORECASE)  # "Le HCDH y a-t-il …": y = there (French only)


def refers_to_place(question: str, lang: str | None = None) -> bool:
    """Whether a follow-up points to a place named before ("that country", "there", "该国", French "y")."""
    return bool(_PLACE_REF.search(question) or (lang == "fr" and _PLACE_REF_FR.search(question)))


_CONJ = re.compile(r"\s+(?:and|as well as|et|ainsi que|y|e|así como|и|а также)\s+|\s+و|和|以及|及其|，|,|;|；|[?？]\s*(?=\S)",
                   re.IGNORECASE)
MIN_PART = 3  # words each half of a two-part question has at least
_QWORD = re.compile(
    r"哪|什么|何时|多少|谁|如何|怎样|为什么|是否|\b(?:what|which|who|whom|when|where|how|why)\b|"
    r"\b(?:quel|quelle|quels|quelles|qui|quand|o[uù]|comment|combien|pourquoi)\b|qu['’]|"
    r"qu[eé]\b|cu[aá]l|qui[eé]n|cu[aá]ndo|d[oó]nde|c[oó]mo|cu[aá]nt|por qu[eé]|"
    r"\b(?:что|какой|какая|какие|каких|кто|когда|где|как|сколько|почему)\b|"
    r"(?:^|\s)(?:ما|ماذا|من|متى|أين|كيف|كم|لماذا|هل|أي)(?=\s)", re.IGNORECASE)
_EACH = re.compile(r"分别|各自|respectively|respectivement|respectivamente|соответственно|على التوالي", re.IGNORECASE)


def parts(question: str) -> list[str]:
    """A two-part question ("What did X say in February, and what did Y do in May?") as its two halves, split at
    the conjunction nearest the middle where each half has MIN_PART words; else the question alone."""
    q = question.strip()
    total = content_size(q)
    if total < 2 * MIN_PART + 1:
        return [q]
    best = None
    for m in _CONJ.finditer(q):
        left, right = q[:m.start()].strip(), q[m.end():].strip()
        asks_both = _EACH.search(q) or (_QWORD.search(left) and _QWORD.search(right))
        if asks_both and content_size(left) >= MIN_PART and content_size(right) >= MIN_PART:
            balance = abs(content_size(left) - content_size(right))
            if best is None or balance < best[0]:
                best = (balance, left, right)
    return [q] if best is None else [best[1], best[2]]


BARE_WORDS = 2


def bare(question: str) -> bool:
    """A follow-up that only asks ("When?", "依据的是哪项决议？", "Il y a un lien ?"): nothing but question words,
    what kind of answer it wants and at most BARE_WORDS other words, so its answer is about what was just said."""
    q = question
    for rx in (*_INTENTS.values(), _QWORD, _FILLER):
        q = rx.sub(" ", q)
    return content_size(q) <= BARE_WORDS


# Question words of the six languages (one in each of two clauses: the question asks several things).
_ASKS = re.compile(
    r"什么|哪|谁|何时|多少|几|为什么|怎么|如何|是否|"
    r"\b(?:what|which|who|whom|when|where|how|why|whether)\b|"
    r"\b(?:qu[eé]|cu[aá]l(?:es)?|qui[eé]n(?:es)?|cu[aá]ndo|d[oó]nde|c[oó]mo|cu[aá]nt[oa]s?|por qu[eé])\b|"
    r"\b(?:quels?|quelles?|qui|quand|o[uù]|comment|combien|pourquoi)\b|"
    r"(?:^|\s)(?:что|какой|какая|какие|каких|какое|кто|когда|где|как|скольк\w*|почему|зачем|ли)(?=\s|[?,]|$)|"
    r"(?:^|\s)(?:ما|ماذا|من|متى|أين|كيف|كم|لماذا|هل|أي|وما|ومتى|وأين|وكم|وكيف|ومن|وهل)(?=\s)", re.IGNORECASE)


def asks_several(question: str) -> bool:
    """Whether a question asks several things: two question marks, or question words in two clauses
    ("How many … and when?", "几项？最后塞进了哪个文件？", "¿Quién dirige … y desde cuándo …?")."""
    if len(re.findall(r"[?？؟]", question.strip())) >= 2:
        return True
    clauses = [c for c in re.split(r"[,，;；、]|\b(?:and|et|y|и|а также)\b|(?:^|\s)و|和|以及|并且|还", question) if c.strip()]
    return sum(bool(_ASKS.search(c)) for c in clauses) >= 2


def intents(question: str) -> set[Intent]:
    """What the question asks for, in any of the six languages (may be several, or none)."""
    return {k for k, rx in _INTENTS.items() if rx.search(question)}


@dataclass
class Focus:
    """What a question asks for and names, as the answer stage uses it to choose sentences."""

    intents: set[Intent] = field(default_factory=set)
    places: list[tuple[str, ...]] = field(default_factory=list)  # each named place's Chinese forms
    place_names: list[str] = field(default_factory=list)  # as the reader wrote them
    names: list[str] = field(default_factory=list)  # every name the report has that the question uses, as written
    units: list[tuple[str, ...]] = field(default_factory=list)  # what the question says: names (any form), words

    @classmethod
    def of(cls, question: str, query: str, entities: list[Entity]) -> Focus:
        units: list[tuple[str, ...]] = []
        covered = [(e.start, e.end) for e in entities]
        def named(e: Entity) -> bool:  # a name of the report's own (not the Office, not one it never uses)
            return e.own_name and any(e.zh)

        for e in sorted(entities, key=lambda e: not named(e)):  # the report's names first
            forms = tuple(f for f in e.zh if f)
            if forms and e.kind != "year":
                units.append(forms)
        n_names = sum(1 for e in entities if named(e))
        rest = query
        for s, e in sorted(covered, reverse=True):
            if 0 <= s < e <= len(rest):  # entities were matched on `query`
                rest = rest[:s] + " " + rest[e:]
        units.extend((t,) for t in dict.fromkeys(tokenize(rest)) if not t.startswith("§"))
        places = [e for e in entities if e.kind in PLACE_KINDS and e.in_corpus]
        named = [e.surface for e in entities if e.own_name]
        return cls(intents(question), [tuple(e.zh) for e in places], [e.surface for e in places],
                   named, units, broad=_leftover(question, entities) <= BROAD_WORDS, n_names=n_names)

    def overlap(self, text: str) -> float:
        """Share of what the question names or says (each name counted once, in any of its forms) in `text`."""
        if not self.units:
            return 0.0
        low = text.lower()
        return sum(any(u.lower() in low for u in unit) for unit in self.units) / len(self.units)

    def about(self, p: Paragraph, end: int | None = None) -> bool:
        """Whether `p` is about something the question names: the paragraph or its section names it (always, when
        the question names nothing); with `end`, only the sentences up to `end` count, besides the section."""
        if not self.n_names:
            return True
        text = p.text[:end] + " ".join(p.section)
        return any(u in text for unit in self.units[:self.n_names] for u in unit)

    def names_place(self, text: str) -> bool:
        return any(form in text for forms in self.places for form in forms)

    broad: bool = False  # little besides the place and the office: "What did OHCHR do in Guatemala?"
    n_names: int = 0  # the first n `units` are the names the question uses (not the Office)
    two_part: bool = False  # "when did it stop, and when did it resume?": each half's answer is quoted, none declined
    cities: frozenset[str] = frozenset()  # the report's forms of the cities it names (for "which city")
    said: tuple[str, ...] = ()  # a follow-up: what the previous answer quoted first (the reader has read it)

    @property
    def country_question(self) -> bool:
        """"What did OHCHR do in Guatemala?": a place and an activity, no narrower fact or topic asked."""
        return self.broad and bool(self.places) and "activity" in self.intents and not self.intents & {"when", "how_many"}


def features(sentence: str, p: Paragraph, start: int, end: int, footnotes: dict[int, Footnote]) -> set[Intent]:
    """Which kinds of answer a sentence can give."""
    out: set[Intent] = set()
    if DATE_RE.search(sentence):
        out.add("when")
    if NUMBER_RE.search(sentence):
        out.add("how_many")
    if len(_LIST_SEP.findall(sentence)) >= 2 or "·" in sentence:
        out.add("names")
    if "、" in sentence or "·" in sentence:
        out.add("list")
    if AMOUNT_RE.search(sentence):
        out.add("amount")
    if "·" in sentence:
        out.add("person")
    marks = [m.n for m in p.markers if start < m.offset <= end]
    if SYMBOL_RE.search(sentence) or any(footnotes.get(n) and (footnotes[n].urls or SYMBOL_RE.search(footnotes[n].text))
                                         for n in marks):
        out.add("link")
    return out


TYPED: tuple[Intent, ...] = ("when", "how_many", "list", "amount", "city", "person")  # a sentence gives one or not


def gives(focus: Focus, p: Paragraph, start: int, end: int, footnotes: dict[int, Footnote] | None = None
          ) -> set[Intent]:
    """The kinds of answer a sentence gives for this question: its `features`, and "city" when it names a city
    the question does not."""
    text = p.text[start:end]
    out = features(text, p, start, end, footnotes or {})
    own = {f for forms in focus.places for f in forms}
    if any(c in text and c not in own for c in focus.cities) and focus.about(p, end):  # a city of what is asked
        out.add("city")
    return out


def absent_type(focus: Focus, sentences: list[tuple[Paragraph, int, int]]) -> Intent | None:
    """The kind of answer asked for (a date, a number, a city) that none of these sentences gives, if any. When
    the question names a place, a sentence gives it only where it or its paragraph before it names that place."""
    asked = [t for t in TYPED if t in focus.intents]
    if not asked or focus.country_question or focus.two_part:
        return None
    # the place named in the sentence or before it in its paragraph ("30 多个会员国 … 在墨西哥" counts no Mexican prisoners)
    sentences = [(p, s, e) for p, s, e in sentences if not focus.places or focus.names_place(p.text[:e])]
    for t in asked:
        if not any(t in gives(focus, p, s, e) and focus.about(p) for p, s, e in sentences):
            return t
    return None


def rank_sentences(p: Paragraph, focus: Focus, retriever_order: list[int],
                   footnotes: dict[int, Footnote] | None = None, weights: AnswerWeights = DEFAULT_WEIGHTS
                   ) -> list[int]:
    """Indexes of `p`'s sentences, best answer first."""
    footnotes = footnotes or {}
    w = weights
    scored = []
    for i, (s, e) in enumerate(p.spans):
        text = p.text[s:e]
        score = 0.0
        if i in retriever_order[:len(w.rank)]:
            score += w.rank[retriever_order.index(i)]
        score += w.overlap * focus.overlap(text)
        asked = focus.intents - {"activity"}
        given = gives(focus, p, s, e, footnotes)
        if asked & given:
            score += w.intent
        if focus.places and focus.names_place(text):
            score += w.place
        if w.repeat and text in focus.said:
            score -= w.repeat
        typed = w.typed_lead and bool(asked & set(TYPED)) and not (asked & set(TYPED) <= given
                                                                    and focus.about(p))
        scored.append((typed, -score, i))
    return [i for *_, i in sorted(scored)]
