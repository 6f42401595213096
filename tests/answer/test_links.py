"""Official language versions (undocs.org links), citations to paste, ?p= links, and the evaluation behind the tab."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qa.answer.links import citation_string, official_links, reader_language, valid_symbol
from qa.app.ui.deeplink import accept_language_reader, linked_paragraph_html, parse_deep_link
from qa.app.ui.links import card_tools_html

ROOT = Path(__file__).resolve().parents[2]
SYMBOL = "A/75/36"


def test_bundled_report_has_its_symbol(corpus):
    assert corpus.documents[0].meta["symbol"] == SYMBOL


def test_links_put_the_reader_first_and_use_the_sites_codes():
    en = official_links(SYMBOL, "en", 25)
    assert [x["lang"] for x in en] == ["en", "fr", "es", "ru", "ar", "zh"]
    assert [x["name"] for x in en] == ["English", "Français", "Español", "Русский", "العربية", "中文"]
    assert en[0]["url"] == "https://undocs.org/en/A/75/36" and en[0]["title"] == "Open ¶25 in English"
    zh = official_links(SYMBOL, "zh", 25)
    assert zh[0]["lang"] == "zh" and zh[0]["url"] == "https://undocs.org/ch/A/75/36"  # as the report's own footnotes
    assert [x["lang"] for x in official_links(SYMBOL, "ar")][:2] == ["ar", "en"]
    assert official_links(SYMBOL, "de")[0]["lang"] == "en"  # not a UN language: English first
    assert {x["url"].split("/")[3] for x in zh} == {"ar", "ch", "en", "fr", "ru", "es"}


def test_bad_or_missing_symbols_give_no_links():
    for bad in (None, "", "javascript:alert(1)", "A/75/36\"><script>", "a b", "https://evil.example/x"):
        assert valid_symbol(bad) is None and official_links(bad, "en", 1) == []
    assert citation_string(None, 25, [6], "en") == "para. 25 (fn. 6)"
    assert citation_string(None, 25, [], "zh") == "第25段"


@pytest.mark.parametrize("lang, one, two, none", [
    ("en", "A/75/36, para. 25 (fn. 6)", "A/75/36, para. 25 (fns. 6 and 7)", "A/75/36, para. 25"),
    ("zh", "A/75/36，第25段（脚注6）", "A/75/36，第25段（脚注6和7）", "A/75/36，第25段"),
    ("es", "A/75/36, párr. 25 (nota 6)", "A/75/36, párr. 25 (notas 6 y 7)", "A/75/36, párr. 25"),
    ("fr", "A/75/36, par. 25 (note 6)", "A/75/36, par. 25 (notes 6 et 7)", "A/75/36, par. 25"),
    ("ru", "A/75/36, п. 25 (сноска 6)", "A/75/36, п. 25 (сноски 6 и 7)", "A/75/36, п. 25"),
    ("ar", "A/75/36، الفقرة 25 (الحاشية 6)", "A/75/36، الفقرة 25 (الحواشي 6 و7)", "A/75/36، الفقرة 25"),
])
def test_citation_strings_follow_each_language(lang, one, two, none):
    assert citation_string(SYMBOL, 25, [6], lang) == one
    assert citation_string(SYMBOL, 25, [7, 6, 6], lang) == two
    assert citation_string(SYMBOL, 25, [], lang) == none


def test_reader_language_and_accept_language():
    assert reader_language("ch") == "zh" and reader_language("fr-CA") == "fr" and reader_language(None) == "en"
    assert accept_language_reader("de-DE,de;q=0.9,ru;q=0.5") == "ru"
    assert accept_language_reader("zh-CN,zh;q=0.9,en;q=0.8") == "zh"
    assert accept_language_reader("de") is None and accept_language_reader("") is None


@pytest.mark.parametrize("link, n, lang", [
    ("?p=25", 25, None), ("#p25", 25, None), ("#p=25", 25, None), ("?x=1&p=40&lang=fr", 40, "fr"),
    ("?lang=ar#p12", 12, "ar"), ("?paragraph=7", 7, None),
])
def test_deep_links(link, n, lang):
    assert parse_deep_link(link) == {"n": n, "lang": lang, "doc": None}


@pytest.mark.parametrize("link", ["", "?page=3", "#rqa-p-ohchr-2020-h1-zh-25", "?q=p25", None])
def test_not_deep_links(link):
    assert parse_deep_link(link) == {}


def test_linked_paragraph_card(corpus):
    page = json.dumps({"link": "?p=25", "languages": ["de-DE", "es-ES", "en"]})
    html = linked_paragraph_html(corpus, page)
    assert 'data-paragraph="25"' in html and 'data-citation="A/75/36, párr. 25"' in html
    assert html.index('hreflang="es"') < html.index('hreflang="en"')  # the reader's language first
    assert 'href="https://undocs.org/ch/A/75/36"' in html and 'rel="noopener noreferrer"' in html
    assert 'data-citation="A/75/36, п. 25"' in linked_paragraph_html(corpus, "?p=25&lang=ru")
    assert "there is no ¶999" in linked_paragraph_html(corpus, "#p999")
    assert linked_paragraph_html(corpus, "?q=1") is None and linked_paragraph_html(corpus, '{"link": 5}') is None


def test_card_html_escapes_and_checks_every_url(corpus):
    from qa.answer.extractive import cited_paragraph

    doc = corpus.documents[0]
    p = cited_paragraph(doc, doc.paragraph(25), evidence_footnotes=[6])
    tools = card_tools_html(p, "en")
    assert 'data-citation="A/75/36, para. 25 (fn. 6)"' in tools and tools.count('class="rqa-lang"') == 6
    assert 'dir="rtl"' in tools and 'title="Open ¶25 in English"' in tools
    p.symbol = 'A/1"><img src=x onerror=alert(1)>'
    tools = card_tools_html(p, "en")
    assert "<img" not in tools and "rqa-lang" not in tools and 'data-citation="para. 25 (fn. 6)"' in tools


@pytest.mark.slow
def test_answers_carry_symbol_citation_and_links(engine):
    from qa.answer.chat import ChatSession
    from qa.app.ui.render import answer_markdown, answer_text, evidence_html

    ans = ChatSession(engine).ask("fn 6")
    data = ans.to_json()
    off = data["quotes"][0]["official"]
    assert off["symbol"] == SYMBOL and off["citation"] == "A/75/36, para. 25 (fn. 6)"
    assert off["links"][0] == {"lang": "en", "code": "en", "name": "English", "url": "https://undocs.org/en/A/75/36",
                               "title": "Open ¶25 in English"}
    assert data["paragraphs"][0]["official"]["citation"] == "A/75/36, para. 25 (fn. 6)"
    assert "https://undocs.org/en/A/75/36" in answer_text(ans) and "A/75/36, para. 25 (fn. 6)" in answer_text(ans)
    assert "[English](https://undocs.org/en/A/75/36 " in answer_markdown(ans)
    assert 'data-citation="A/75/36, para. 25 (fn. 6)"' in evidence_html(ans)
    zh = ChatSession(engine).ask("乍得废除了哪项法律中的死刑？").to_json()
    assert zh["quotes"][0]["official"]["links"][0]["url"] == "https://undocs.org/ch/A/75/36"
    assert zh["paragraphs"][0]["official"]["citation"] == "A/75/36，第90段"


@pytest.mark.slow
def test_cli_ask_json_includes_the_links(qa_home, tmp_path):
    env = {**os.environ, "REPORT_QA_HOME": str(qa_home), "REPORT_QA_LIBRARY": str(tmp_path / "library")}
    out = subprocess.run([sys.executable, "-m", "qa", "ask", "¶25", "--json"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    data = json.loads(out.stdout)
    off = data["paragraphs"][0]["official"]
    assert off["symbol"] == SYMBOL and off["links"][0]["url"] == "https://undocs.org/en/A/75/36"
    assert {x["code"] for x in off["links"]} == {"ar", "ch", "en", "fr", "ru", "es"}
    assert data["quotes"][0]["official"]["citation"].startswith("A/75/36, para. 25 (fns. ")


@pytest.mark.slow
def test_run_evaluation_is_the_cli_evaluation_with_progress(engine, tmp_path):
    from qa.app.ui.eval_tab import run_evaluation
    from qa.errors import UserError

    qfile = tmp_path / "mine.jsonl"
    qfile.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in SMALL_SET) + "\n", encoding="utf-8")
    seen = []
    out = run_evaluation(engine, str(qfile), ["hybrid", "lexical"], lambda d, t, label: seen.append((d, t)))
    assert out.questions == 4 and "mine.jsonl" in out.source
    assert seen[0] == (0, 12) and seen[-1] == (11, 12)  # 4 questions × 2 modes, then the 4 answers (hybrid)
    head, rows = out.overall
    assert [r[0] for r in rows] == ["lexical", "hybrid"] and head[:2] == ["mode", "hit@1"]
    assert {r[0] for r in out.by_language[1]} == {"zh", "en", "fr"}
    assert out.answers[0][:3] == ["group", "n", "answer accuracy"] and out.answers[1][0][:2] == ["overall", 3]  # 3 answerable
    assert {p.name for p in out.files} == {"metrics.json", "report.md", "qrels.txt", "hybrid.trec", "lexical.trec"}
    assert {p.name for p in out.plots} == {"recall_at_k.png", "ndcg_by_language.png"}
    metrics = json.loads(next(p for p in out.files if p.name == "metrics.json").read_text())
    assert metrics["modes"]["hybrid"]["overall"]["n"] == 3  # the unanswerable one is scored for abstention only
    assert out.worst_mode == "hybrid"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n')
    with pytest.raises(UserError, match=r"bad.jsonl:1: missing field"):
        run_evaluation(engine, str(bad), ["hybrid"])
    with pytest.raises(UserError, match="at least one"):
        run_evaluation(engine, str(qfile), [])


SMALL_SET = [
    {"id": "s1", "lang": "zh", "question": "乍得废除了哪项法律中的死刑？", "relevant": [90], "kind": "lexical"},
    {"id": "s2", "lang": "en", "question": "What training did staff receive after cyberattacks increased?",
     "relevant": [119], "kind": "paraphrase"},
    {"id": "s3", "lang": "fr", "question": "Combien de présences sur le terrain le Haut-Commissariat a-t-il ?",
     "relevant": [2], "kind": "paraphrase"},
    {"id": "s4", "lang": "en", "question": "What is the best recipe for lasagna?", "relevant": [], "kind": "unanswerable"},
]
