"""The parser: exact paragraphs, footnotes and section paths, and clear errors on bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from qa.ingest import load_corpus
from qa.ingest.structure import CorpusError, join_lines
from qa.ingest.txt import load_document, parse

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "data" / "ohchr-2020-h1.zh.txt"


@pytest.fixture(scope="module")
def doc():
    return load_document(REPORT)


def test_counts_and_numbering(doc):
    assert [p.n for p in doc.paragraphs] == list(range(1, 137))
    assert [f.n for f in doc.footnotes] == list(range(1, 33))
    assert doc.id == "ohchr-2020-h1-zh" and doc.language == "zh"
    assert doc.warnings == []


def test_bundled_copy_matches_shared_corpus():
    shared = ROOT.parent / "shared" / "corpus" / "ohchr-2020-h1.zh.txt"
    if not shared.exists():
        pytest.skip("shared/ corpus not beside this checkout")
    assert shared.read_bytes() == REPORT.read_bytes()


def test_metadata_sidecar(doc):
    assert doc.meta["period"] == {"start": "2020-01-01", "end": "2020-06-30"}
    assert doc.title.startswith("联合国人权事务高级专员办事处的活动")


def test_page_break_continuations(doc):
    assert "也门问题国际和区域知名专家小组。2020 年 6 月" in doc.paragraph(13).text
    assert doc.paragraph(13).text.endswith("成立利比亚实况调查团。")
    p28 = doc.paragraph(28).text
    assert "第五次联合国最不发达国家问题会议提出有关发展权的建议。" in p28
    assert "(A/HRC44/28)" in p28
    assert "哥伦比亚、刚果民主共和国" in doc.paragraph(88).text
    assert doc.paragraph(88).text.endswith("西巴尔干以及科索沃。")
    p96 = doc.paragraph(96).text
    assert "艾滋病联合规划署和联合国毒品和犯罪问题办公室两个机构的执行主任，就监狱" in p96


def test_paragraphs_starting_a_page_with_a_space(doc):
    for n in (44, 70, 104, 128, 135):
        p = doc.paragraph(n)
        assert p is not None and p.text and not p.text[0].isspace()
    assert doc.paragraph(44).text.startswith("因 COVID-19 疫情")


def test_marker_followed_by_a_date(doc):
    p10 = doc.paragraph(10)
    assert p10.footnotes == [4]
    assert "确保了目前任务的连续性。6 月 17 日，理事会" in p10.text
    (marker,) = p10.markers
    assert p10.text[: marker.offset].endswith("连续性。")


def test_markers_removed_and_positions_kept(doc):
    p1 = doc.paragraph(1)
    assert p1.footnotes == [1, 2]
    assert "的工作。报告着重" in p1.text
    assert [p1.text[: m.offset][-4:] for m in p1.markers] == ["的工作。", "的活动。"]
    assert doc.paragraph(5).footnotes == [3] and "行动呼吁，并请" in doc.paragraph(5).text


def test_real_numbers_are_not_markers(doc):
    assert "87 个人权外地存在" in doc.paragraph(2).text
    assert "1 000 多份陈述" in doc.paragraph(89).text
    assert "第 48/141 号决议" in doc.paragraph(1).text
    assert doc.paragraph(89).footnotes == []


def test_footnote_urls_whole(doc):
    fn6 = doc.footnote(6)
    assert fn6.urls == [
        "https://unsdg.un.org/sites/default/files/2020-04/UN-framework-for-the-immediate-socio-economic-response-to-COVID-19.pdf"
    ]
    assert "UN-framework-for-the-immediate-socio-economic-response" in fn6.text
    assert doc.footnote(3).urls[0].endswith("The_Highest_Asperation_A_Call_To_Action_For_Human_Right_English.pdf")
    # The printed link for fn 25 is a broken file:/// path; the footnote's own web address wins.
    assert doc.footnote(25).urls == ["https://unaidsapnew.files.wordpress.com/2020/05/unjointstatement1june2020.pdf"]
    assert doc.footnote(1).urls == ["https://undocs.org/ch/A/HRC/43/3"]
    assert doc.footnote(27).text.endswith("，第 2 页。")


def test_footnotes_attached_to_the_paragraph_holding_the_marker(doc):
    assert (doc.footnote(6).paragraph, doc.footnote(7).paragraph) == (25, 25)
    assert doc.paragraph(25).footnotes == [6, 7]
    assert doc.paragraph(28).footnotes == []
    assert (doc.footnote(23).paragraph, doc.footnote(24).paragraph) == (96, 96)
    assert doc.paragraph(96).footnotes == [23, 24]
    for f in doc.footnotes:
        assert f.n in doc.paragraph(f.paragraph).footnotes


def test_no_footnote_or_link_text_inside_paragraphs(doc):
    fn_texts = [f.text for f in doc.footnotes]
    for p in doc.paragraphs:
        assert "http" not in p.text and "____" not in p.text and "file:" not in p.text
        for t in fn_texts:
            assert t[:12] not in p.text, (p.n, t)


def test_section_paths(doc):
    assert doc.paragraph(1).section == ["第一章 导言"]
    assert doc.paragraph(6).section == ["第二章 高级专员办事处的活动", "A. 国际人权机制", "1. 条约机构"]
    assert doc.paragraph(22).section[-1] == "6. 人道主义基金"
    assert doc.paragraph(117).section == ["第二章 高级专员办事处的活动", "F. 参与", "5. 数字空间"]
    assert doc.paragraph(118).section == ["第三章 管理和行政"]
    assert doc.paragraph(136).section == ["第四章 结论"]
    assert all(p.section for p in doc.paragraphs)
    assert all(len(p.section) == 3 for p in doc.paragraphs if 6 <= p.n <= 117)


def test_join_lines_rules():
    assert join_lines("知名专", "家小组。") == "知名专家小组。"
    assert join_lines("socio-", "economic") == "socio-economic"
    assert join_lines("www.un.org/files/A_Call_To", "_Action.pdf") == "www.un.org/files/A_Call_To_Action.pdf"
    assert join_lines("the Office", "supported") == "the Office supported"


ENGLISH_REPORT = """\
 Chapter I
  Introduction
1. This report covers the activities of the Office from January to June 2020.1 It should
be read together with the annual report.
2. The Office kept 87 field presences.
 Chapter II
  Activities
 A. Human rights mechanisms
 1. Treaty bodies
3. The Office supported 10 treaty bodies and adapted their working methods,2 including
online sessions.
__________________
 1 See A/HRC/43/3.
 2 Available at www.ohchr.org/EN/HRBodies/Pages/Treaty
Bodies.aspx.
https://undocs.org/A/HRC/43/3
https://www.ohchr.org/EN/HRBodies/Pages/TreatyBodies.aspx
 2. Human Rights Council
4. The Council adjourned on 13 March 2020 and resumed on 15 June. The Office supported
the session.
 B. Development
 1. Sustainable Development Goals
5. The Office supported 30 countries.
"""


def test_synthetic_english_report():
    d = parse(ENGLISH_REPORT, doc_id="en-test")
    assert d.language == "en"
    assert [p.n for p in d.paragraphs] == [1, 2, 3, 4, 5]
    assert d.paragraph(1).section == ["Chapter I Introduction"]
    assert d.paragraph(1).footnotes == [1]
    assert d.paragraph(1).text.startswith("This report covers the activities of the Office from January to June 2020. It should be read")
    assert d.paragraph(3).section == ["Chapter II Activities", "A. Human rights mechanisms", "1. Treaty bodies"]
    assert d.paragraph(3).footnotes == [2] and "working methods, including online sessions." in d.paragraph(3).text
    assert d.paragraph(4).section[-1] == "2. Human Rights Council"
    assert d.paragraph(4).text.endswith("The Office supported the session.")
    assert d.paragraph(5).section == ["Chapter II Activities", "B. Development", "1. Sustainable Development Goals"]
    assert d.footnote(1).urls == ["https://undocs.org/A/HRC/43/3"]
    assert d.footnote(2).paragraph == 3


def test_roman_numeral_chapters_in_french():
    text = "I. Introduction\n1. Le présent rapport porte sur les activités du Haut-Commissariat.\n" \
           "II. Activités\nA. Mécanismes\n1. Organes conventionnels\n2. Le Haut-Commissariat a appuyé 10 organes.\n"
    d = parse(text)
    assert d.language == "fr"
    assert d.paragraph(2).section == ["II. Activités", "A. Mécanismes", "1. Organes conventionnels"]


def test_subsection_and_paragraph_with_the_same_number():
    text = " Chapter I\n Intro\n A. Part\n 1. Heading\n1. First paragraph text.\n"
    d = parse(text)
    assert [p.n for p in d.paragraphs] == [1]
    assert d.paragraph(1).section == ["Chapter I Intro", "A. Part", "1. Heading"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("   \n\n", "empty"),
        ("Just some prose without numbers.\n", "no numbered paragraphs"),
        ("1. One.\n2. Two.\n4. Four is here after two.\n", "out of order"),
        ("1. One.\n2. Two.\n2. Two again, a duplicate.\n", "out of order"),
    ],
)
def test_bad_text_raises_clear_error(text, message):
    with pytest.raises(CorpusError, match=message):
        parse(text)


def test_marker_without_footnote_text_is_a_warning():
    d = parse("1. A claim.1 More text.\n")
    assert d.paragraph(1).footnotes == [1] and d.footnotes == []
    assert "¶1: footnote marker 1 has no footnote text in the page's footnote block" in d.warnings


def test_real_report_with_a_footnote_removed_warns(tmp_path):
    text = REPORT.read_text(encoding="utf-8")
    broken = re.sub(r"\n 5 见 www\.ohchr\.org/EN/HRBodies/SP/Pages/COVID-19-and-Special-Procedures\.aspx。 \n", "\n", text)
    assert broken != text
    path = tmp_path / "r.txt"
    path.write_text(broken, encoding="utf-8")
    doc = load_document(path)
    assert [w for w in doc.warnings if "footnote marker" in w] == [
        "¶18: footnote marker 5 has no footnote text in the page's footnote block"]
    assert doc.footnote(5) is None and 5 in doc.paragraph(18).footnotes
    assert len(doc.paragraphs) == 136 and len(doc.footnotes) == 31


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa", *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_cli_json_shape():
    r = run_cli("corpus", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    (d,) = data["documents"]
    assert set(d) == {"id", "title", "language", "paragraphs", "footnotes"}
    assert len(d["paragraphs"]) == 136 and len(d["footnotes"]) == 32
    assert set(d["paragraphs"][0]) == {"n", "text", "section", "footnotes"}
    assert set(d["footnotes"][0]) == {"n", "text", "paragraph", "urls"}


def test_cli_human_summary():
    r = run_cli("corpus")
    assert r.returncode == 0
    assert "136 paragraphs" in r.stdout and "32 footnotes" in r.stdout and "A. 国际人权机制" in r.stdout


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no such file"),
        (b"", "empty"),
        (b"\xff\xfe\x00bad", "not UTF-8"),
        (b"No paragraphs here.\n", "no numbered paragraphs"),
        (b"1. One.\n3. Three, skipping two.\n", "out of order"),
    ],
)
def test_cli_bad_input_one_line_exit_2(tmp_path, content, message):
    path = tmp_path / "input.txt"
    if content is not None:
        path.write_bytes(content)
    r = run_cli("corpus", str(path))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in r.stderr


def test_cli_marker_without_footnote_text_is_a_warning(tmp_path):
    path = tmp_path / "input.txt"
    path.write_bytes(b"1. Text.1 More.\n")
    r = run_cli("corpus", str(path))
    assert r.returncode == 0, r.stderr
    assert "warning: ¶1: footnote marker 1 has no footnote text" in r.stdout


def test_default_corpus_is_the_bundled_report():
    corpus = load_corpus()
    assert [d.id for d in corpus.documents] == ["ohchr-2020-h1-zh"]
