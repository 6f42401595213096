"""Security of the rendered answer without a browser: every user or document string is escaped, and no
link can run script (javascript:, data:, vbscript:, in any case, entity-encoded, split by control characters,
or smuggled in as Markdown or raw HTML). The HTML is read back with a real HTML parser, the Markdown is
rendered by markdown-it with raw HTML allowed (harsher than the app's sanitizing chatbot)."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.answer.extractive import Answer, CitedParagraph, Quote
from qa.app.ui.markup import anchor, escape_md, safe_url
from qa.app.ui.render import answer_markdown, evidence_html, paragraph_html
from qa.types import Footnote

PAYLOADS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "&#106;avascript:alert(1)",
    "&#x6A;avascript&#x3A;alert(1)",
    "javascript&colon;alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    " \x01\x1fjavascript:alert(1)",
    "[x](javascript:alert(1))",
    "[x]( JaVaScRiPt:alert(1) )",
    "[x](<javascript:alert(1)>)",
    "[x](java\tscript:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x][r]\n\n[r]: javascript:alert(1)",
    "<javascript:alert(1)>",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<a href='javas&#99;ript:alert(1)'>x</a>",
    "<a href=javascript:alert(1)>x</a>",
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "<svg onload=alert(1)>",
    "<iframe src=\"data:text/html,<script>alert(1)</script>\"></iframe>",
    "\"><script>alert(1)</script>",
    "' onmouseover='alert(1)",
    "`<b>x</b>` **b** _i_ ~~s~~ # h | t |",
    "\\[x\\](javascript:alert(1))",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&amp; &#60; &",
]

BAD_SCHEMES = ("javascript", "data", "vbscript", "file")
URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "srcset", "background", "poster", "data"}


def browser_url(value: str) -> str:
    """What a browser makes of an attribute URL: C0 controls and spaces trimmed, tabs and newlines removed."""
    return re.sub(r"[\t\n\r]", "", value.strip("".join(map(chr, range(0x21)))))


def scheme(value: str) -> str | None:
    m = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", browser_url(value))
    return m.group(1).lower() if m else None


class Page(HTMLParser):
    """Collects elements, attributes (entities decoded, as a browser does) and the visible text."""

    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.text.append(data)


def assert_inert(markup: str, *, allowed_tags: set[str]) -> Page:
    page = Page(markup)
    for tag, attrs in page.tags:
        assert tag in allowed_tags, f"unexpected <{tag}> in {markup!r}"
        for name, value in attrs.items():
            assert not name.startswith("on"), f"event handler {name} on <{tag}>"
            assert name != "style"
            if name in URL_ATTRS:
                assert value is not None
                s = scheme(value)
                assert s not in BAD_SCHEMES, f"live {s}: URL {value!r} in <{tag}>"
                assert value.startswith("#") or s in ("http", "https"), f"unexpected link {value!r}"
    return page


def render_markdown(md: str) -> str:
    markdown_it = pytest.importorskip("markdown_it")
    return markdown_it.MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(md)


# --- safe_url ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "https://undocs.org/ch/A/HRC/43/3",
    "http://www.ohchr.org/EN/HRBodies/SP/Pages/COVID-19-and-Special-Procedures.aspx",
    "https://www.ohchr.org/x?a=1&b=2#frag",
    "HTTPS://UNDOCS.ORG/A/75/36",
])
def test_safe_url_keeps_web_addresses(url):
    assert safe_url(url) == url


@pytest.mark.parametrize("url", [
    *[p for p in PAYLOADS if ":" in p or "&" in p],
    "javascript://example.com/%0Aalert(1)",
    "JAVASCRIPT:alert(1)",
    "\x00javascript:alert(1)",
    "\u00a0javascript:alert(1)",
    "data:,hello",
    "DATA:text/html,<b>x</b>",
    "file:///etc/passwd",
    "ftp://ftp.example.org/x",
    "mailto:someone@example.org",
    "//evil.example/x",
    "http:evil.example",
    "https://",
    "http:\\\\evil.example",
    "www.ohchr.org/EN/Pages/Home.aspx",
    "http://[::1",
    "",
])
def test_safe_url_rejects_everything_else(url):
    assert safe_url(url) is None


URL_PIECES = ["javascript", "JaVaScRiPt", "data", "vbscript", "http", "https", ":", "//", "/", "\\", "\t", "\n",
              " ", "\x00", "\x1f", "&#106;", "&colon;", "%0a", "evil.example", "@", "x", "(1)", "#", "?", "[", "]"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(URL_PIECES), max_size=10).map("".join))
def test_safe_url_only_ever_returns_a_web_address(url):
    out = safe_url(url)
    if out is not None:
        assert out == url
        assert scheme(out) in ("http", "https")
        # And once in an attribute, the browser still sees that same web address.
        page = assert_inert(f'<a href="{html.escape(out, quote=True)}">x</a>', allowed_tags={"a"})
        assert page.tags[0][1]["href"] == out


# --- HTML (evidence panel) -----------------------------------------------------------------------------

PANEL_TAGS = {"article", "header", "footer", "span", "div", "p", "mark", "sup", "a", "ol", "li", "br", "h3", "nav",
              "button"}


def cited(text: str, *, section=("Chapter", "Section"), footnote_text: str = "fn", urls=(), highlights=(),
          markers=(), doc: str = "doc-1", n: int = 7, symbol: str | None = None) -> CitedParagraph:
    fn = Footnote(1, footnote_text, paragraph=n, urls=list(urls))
    return CitedParagraph(doc, n, list(section), text, list(highlights), list(markers), [fn], symbol=symbol)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_paragraph_html_escapes_every_string(payload):
    p = cited(f"Before {payload} after.", section=[payload, f"sub {payload}"], footnote_text=f"note {payload}",
              urls=[payload, "https://undocs.org/A/HRC/43/3"])
    out = paragraph_html(p, "en")
    page = assert_inert(out, allowed_tags=PANEL_TAGS)
    text = "".join(page.text)
    # Every string is shown literally (as text, never as markup), once where it belongs.
    assert f"Before {payload} after." in text and f"note {payload}" in text and payload in text
    hrefs = [a.get("href") for t, a in page.tags if t == "a"]
    assert "https://undocs.org/A/HRC/43/3" in hrefs
    assert all(h.startswith("#") or h == "https://undocs.org/A/HRC/43/3" for h in hrefs)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80), st.lists(st.text(max_size=20), max_size=3), st.text(max_size=40),
       st.text(max_size=10))
def test_paragraph_html_round_trips_any_text(text, section, footnote, doc):
    if not text:
        text = "x"
    cut = len(text) // 2
    p = cited(text, section=section, footnote_text=footnote, highlights=[(0, cut)] if cut else [],
              markers=[(1, len(text))], doc=doc)
    page = assert_inert(paragraph_html(p, "zh"), allowed_tags=PANEL_TAGS)
    # The visible text is exactly the strings we passed in, in order: nothing was dropped or interpreted.
    visible = "".join(page.text)
    norm = text.replace("\r\n", "\n").replace("\r", "\n")  # what an HTML parser does to line ends
    assert norm in visible.replace("\r\n", "\n").replace("\r", "\n")
    assert re.fullmatch(r"rqa-p-[A-Za-z0-9_-]*-7", anchor(doc, 7))
    ids = [a["id"] for t, a in page.tags if "id" in a]
    assert all(re.fullmatch(r"rqa-p-[A-Za-z0-9_-]*-7(-fn1)?", i) for i in ids)


def test_highlights_and_markers_are_the_only_markup():
    p = cited("<b>一</b>。二。", highlights=[(0, 9)], markers=[(1, 9)])
    out = paragraph_html(p, "zh")
    assert "<mark>&lt;b&gt;一&lt;/b&gt;。</mark>" in out
    assert '<sup class="rqa-fnref"><a href="#rqa-p-doc-1-7-fn1">1</a></sup>' in out


@pytest.mark.parametrize("payload", PAYLOADS)
def test_evidence_html_escapes_the_message(payload):
    ans = Answer(question=payload, query=payload, language="en", covered=False, kind="search", message=payload)
    page = assert_inert(evidence_html(ans), allowed_tags=PANEL_TAGS)
    assert payload.replace("\r", "") in "".join(page.text)
    related = Answer(question=payload, query=payload, language="fr", covered=False, kind="search", message=payload,
                     related=[cited(payload, section=[payload])])
    assert_inert(evidence_html(related), allowed_tags=PANEL_TAGS)


@pytest.mark.parametrize("symbol", ["A/75/36", *PAYLOADS, "A/75/36\" onclick=\"alert(1)", "A/75/36<script>"])
def test_official_links_and_citation_button_are_inert(symbol):
    """The document's UN symbol feeds links and a copy button: whatever it holds, links stay web addresses."""
    page = assert_inert(paragraph_html(cited("Text.", symbol=symbol), "fr"), allowed_tags=PANEL_TAGS)
    for tag, attrs in page.tags:
        if tag == "a" and not attrs["href"].startswith("#"):
            assert scheme(attrs["href"]) == "https" and attrs.get("rel") == "noopener noreferrer"
    ans = Answer(question="q", query="q", language="en", covered=True, kind="search", paragraphs=[cited("T.", symbol=symbol)],
                 quotes=[Quote(text="T.", doc="doc-1", paragraph=7, source="paragraph", citation="[¶7]")])
    md = assert_inert(render_markdown(answer_markdown(ans)), allowed_tags={"p", "blockquote", "a", "em", "strong", "br"})
    assert all(a["href"].startswith("#") or scheme(a["href"]) == "https" for t, a in md.tags if t == "a")


# --- Markdown (chat) --------------------------------------------------------------------------------------

MD_TAGS = {"p", "blockquote", "a", "em", "strong", "br"}


def md_answer(payload: str, *, covered: bool) -> Answer:
    quote = Quote(text=f"Quoted {payload} here.", doc="doc-1", paragraph=7, source="paragraph", citation="[¶7]")
    return Answer(question=payload, query=f"{payload} (searched)", language="en", covered=covered, kind="search",
                  quotes=[quote] if covered else [], message="" if covered else f"Not covered: {payload}",
                  notice=f"Notice: {payload}", related=[] if covered else [cited(payload)])


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("covered", [True, False])
def test_answer_markdown_shows_user_text_literally(payload, covered):
    out = render_markdown(answer_markdown(md_answer(payload, covered=covered)))
    page = assert_inert(out, allowed_tags=MD_TAGS)
    hrefs = [a["href"] for t, a in page.tags if t == "a"]
    assert hrefs and all(h == "#rqa-p-doc-1-7" for h in hrefs)  # only the citation links
    visible = re.sub(r"\s+", " ", "".join(page.text))
    one_line = re.sub(r"\s+", " ", payload).strip()
    assert one_line in visible  # shown as typed: not a link, not markup, entities not decoded


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=60))
def test_escape_md_round_trips_inline_text(text):
    """Rendered Markdown of escape_md(s) shows s itself (whitespace aside), and never makes an element."""
    out = render_markdown("x " + escape_md(text) + " y")
    page = assert_inert(out, allowed_tags={"p", "br"})
    visible = re.sub(r"\s+", " ", "".join(page.text)).strip()
    expect = re.sub(r"\s+", " ", f"x {text.replace(chr(0), chr(0xFFFD))} y").strip()
    assert visible == expect
