"""The library of added reports: add / list / remove (API and CLI), exact round trips through the
stored JSON, language versions, incremental indexing (only new text embedded), and every bad input
refused with a clear message and the library left as it was. A fake encoder; no model is loaded."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import zipfile
from pathlib import Path

import pytest

from qa.errors import UserError
from qa.ingest import library as libmod
from qa.ingest.library import Library, load_corpus_with_library, version_warnings, versions
from tests.conftest import FakeEncoder
from tests.fixtures.compare import differences
from tests.fixtures.typeset import build_all, bundled_report, english_report


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory):
    return build_all(tmp_path_factory.getbasetemp() / "report-fixtures")


@pytest.fixture
def lib(tmp_path, monkeypatch):
    monkeypatch.setenv("REPORT_QA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("REPORT_QA_LIBRARY", str(tmp_path / "library"))
    return Library()


def snapshot(root: Path) -> dict[str, str]:
    """Every file under the library (the lock file aside) with its content hash."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".lock"}


# ------------------------------------------------------------------------------------------ add / list

@pytest.mark.parametrize("kind", ["zh_pdf", "zh_docx"])
def test_add_bundled_report_fixture_gives_the_text_parsers_document(lib, fixtures, kind):
    result = lib.add(fixtures[kind])
    assert result.added and (result.entry.paragraphs, result.entry.footnotes) == (136, 32)
    assert result.entry.symbol == "A/75/36" and result.entry.language == "zh"
    stored = lib.document(result.entry.id)          # read back from document.json
    assert differences(bundled_report(), stored) == []
    assert stored.meta["symbol"] == "A/75/36" and stored.meta["sha256"] == result.entry.sha256
    entry_dir = lib.root / result.entry.id
    assert (entry_dir / result.entry.file).read_bytes() == fixtures[kind].read_bytes()
    assert {p.name for p in entry_dir.iterdir()} == {result.entry.file, "document.json", "entry.json"}


def test_adding_the_same_file_twice_changes_nothing(lib, fixtures):
    first = lib.add(fixtures["en_pdf"])
    before = snapshot(lib.root)
    again = lib.add(fixtures["en_pdf"])
    assert not again.added and again.entry.id == first.entry.id
    assert snapshot(lib.root) == before
    assert [e.id for e in lib.entries()] == [first.entry.id]


def test_same_report_and_language_twice_is_refused(lib, fixtures):
    lib.add(fixtures["zh_pdf"])
    before = snapshot(lib.root)
    with pytest.raises(UserError, match=r"A/75/36 \(zh\) is already in the library as A-75-36-zh"):
        lib.add(fixtures["zh_docx"])
    assert snapshot(lib.root) == before


def test_remove(lib, fixtures):
    e = lib.add(fixtures["en_pdf"]).entry
    assert lib.remove(e.id).id == e.id
    assert lib.entries() == [] and snapshot(lib.root) == {}
    with pytest.raises(UserError, match="no report"):
        lib.remove(e.id)


def test_corpus_with_library_has_the_bundled_report_and_the_added_ones(lib, fixtures):
    lib.add(fixtures["en_pdf"])
    corpus = load_corpus_with_library()
    assert [d.id for d in corpus.documents][1:] == ["A-79-123-en"]
    assert corpus.documents[0].id == bundled_report().id
    assert differences(english_report(), corpus.documents[1]) == []


def test_corpus_with_library_skips_a_damaged_entry_with_a_warning(lib, fixtures, caplog):
    bad = lib.add(fixtures["en_pdf"]).entry
    good = lib.add(fixtures["zh_docx"]).entry
    (lib.root / bad.id / "document.json").write_text("{cut off", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="report_qa"):
        corpus = load_corpus_with_library()
    assert [d.id for d in corpus.documents] == [bundled_report().id, good.id]
    (message,) = [r.getMessage() for r in caplog.records if bad.id in r.getMessage()]
    assert message.startswith(f"library: library entry {bad.id} is damaged (")
    assert message.endswith(f"remove it (qa remove {bad.id}) and add the file again")


def test_language_versions(lib, fixtures):
    lib.add(fixtures["zh_docx"])
    en = lib.add(fixtures["en_pdf"], symbol="A/75/36", language="en")   # pretend: another version, 20 ¶
    assert any("136" in n and "20" in n for n in en.notes)
    assert {e.language for e in lib.versions("A/75/36")} == {"zh", "en"}
    corpus = load_corpus_with_library()
    found = versions("a/75/36", corpus)
    assert {d.language for d in found} == {"zh", "en"} and len(found) >= 2
    assert version_warnings(corpus) and "A/75/36" in version_warnings(corpus)[0]


def test_progress_hook(lib, fixtures):
    seen = []
    lib.add(fixtures["en_pdf"], progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert "20 paragraphs" in seen[-1][1]


def test_cli_add_list_remove(lib, fixtures, capsys):
    from qa.app.cli import main

    assert main(["add", str(fixtures["en_pdf"]), "--no-index", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    added = out["added"][0]
    assert added["added"] and (added["paragraphs"], added["footnotes"], added["symbol"]) == (20, 6, "A/79/123")
    assert main(["list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["documents"]
    assert [d["id"] for d in listed] == [added["id"]] and listed[0]["sha256"] == added["sha256"]
    assert main(["list"]) == 0
    assert added["id"] in capsys.readouterr().out
    assert main(["remove", added["id"], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["removed"]["id"] == added["id"]
    assert main(["list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["documents"] == []


def test_cli_corpus_reads_pdf_and_docx(fixtures, capsys):
    from qa.app.cli import main

    assert main(["corpus", str(fixtures["en_pdf"]), str(fixtures["zh_docx"]), "--json"]) == 0
    docs = json.loads(capsys.readouterr().out)["documents"]
    assert [(len(d["paragraphs"]), len(d["footnotes"])) for d in docs] == [(20, 6), (136, 32)]
    assert docs[1]["paragraphs"][0] == bundled_report().to_json()["paragraphs"][0] | {
        "text": docs[1]["paragraphs"][0]["text"]}


def test_cli_errors_are_one_line(lib, tmp_path, capsys):
    from qa.app.cli import main

    bad = tmp_path / "notes.pdf"
    bad.write_text("just text", encoding="utf-8")
    assert main(["add", str(bad), "--no-index"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("[")]  # progress lines
    assert len(err) == 1 and err[0].startswith("error: ") and "the name says .pdf but the content is plain text" in err[0]
    assert main(["remove", "../../etc"]) == 2
    assert "invalid report id" in capsys.readouterr().err


# --------------------------------------------------------------------------------- incremental index

def test_adding_a_report_embeds_only_its_new_text(lib, fixtures, tmp_path):
    from qa.retrieval.index import IndexHome, build_units, open_index

    home = IndexHome.resolve(tmp_path / "home")
    enc = FakeEncoder()
    base = load_corpus_with_library()
    _, first = open_index(base, enc, home=home, quiet=True)
    assert first["embedded"] > 0
    lib.add(fixtures["en_pdf"])
    corpus = load_corpus_with_library()
    enc.texts.clear()
    _, report = open_index(corpus, enc, home=home, quiet=True)
    old = {u.text for u in build_units(base)}
    units = build_units(corpus)
    new = {u.text for u in units} - old
    assert new and sorted(enc.texts) == sorted(new)         # only the English report's texts, each once
    assert report["embedded"] == len(new) and report["reused"] == sum(u.text in old for u in units)
    assert report["reused"] >= first["units"] - 5           # the bundled report came from the cache


# -------------------------------------------------------------------------------------------- bad input

def _encrypted_pdf(path: Path) -> Path:
    from reportlab.lib import pdfencrypt
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), encrypt=pdfencrypt.StandardEncryption("secret", ownerPassword="owner"))
    c.drawString(72, 720, "1. A secret paragraph.")
    c.showPage()
    c.save()
    return path


def _scanned_pdf(path: Path) -> Path:
    from PIL import Image
    from reportlab.pdfgen import canvas

    img = path.with_suffix(".png")
    Image.new("L", (200, 280), 230).save(img)
    c = canvas.Canvas(str(path))
    c.drawImage(str(img), 36, 36, 520, 760)
    c.showPage()
    c.save()
    img.unlink()
    return path


def _zero_page_pdf(path: Path) -> Path:
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, o in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def _zip_bomb(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", b" " * (30 * 2**20))    # 30 MB of spaces, ~30 KB packed
    return path


BAD_INPUTS = {
    "encrypted": (lambda d, f: _encrypted_pdf(d / "locked.pdf"), "encrypted; remove its password"),
    "scanned": (lambda d, f: _scanned_pdf(d / "scan.pdf"), "no text layer; OCR is not supported"),
    "zero_pages": (lambda d, f: _zero_page_pdf(d / "empty.pdf"), "has no pages"),
    "truncated": (lambda d, f: _write(d / "half.pdf", f["en_pdf"].read_bytes()[:30000]), "truncated"),
    "zip_bomb": (lambda d, f: _zip_bomb(d / "bomb.docx"), "zip bomb"),
    "pdf_named_docx": (lambda d, f: _write(d / "report.docx", f["en_pdf"].read_bytes()),
                       "the name says .docx but the content is a PDF"),
    "docx_named_pdf": (lambda d, f: _write(d / "report.pdf", f["zh_docx"].read_bytes()),
                       "the name says .pdf but the content is a Word"),
    "image_named_txt": (lambda d, f: _write(d / "report.txt", b"\x89PNG\r\n\x1a\n\x00\x00" * 100),
                        "the name says .txt but the content is an image"),
    "utf16_txt": (lambda d, f: _write(d / "report.txt", "1. 文字".encode("utf-16")), "not UTF-8"),
    "empty_file": (lambda d, f: _write(d / "nothing.pdf", b""), "the file is empty"),
    "unsupported": (lambda d, f: _write(d / "report.odt", b"PK\x03\x04"), "unsupported file type"),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_refused_and_the_library_is_unchanged(lib, fixtures, tmp_path, case):
    lib.add(fixtures["en_pdf"])
    before = snapshot(lib.root)
    make, message = BAD_INPUTS[case]
    bad = make(tmp_path, fixtures)
    with pytest.raises(UserError) as info:
        lib.add(bad)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert snapshot(lib.root) == before
    assert not [p for p in lib.root.iterdir() if p.name.startswith(".incoming")]


def test_over_the_size_limit(tmp_path, fixtures):
    small = Library(tmp_path / "library", max_bytes=10_000)
    with pytest.raises(UserError, match=r"is over the 10 KB limit"):
        small.add(fixtures["en_pdf"])
    assert snapshot(small.root) == {}


@pytest.mark.parametrize("name", ["../../evil.pdf", "../x.pdf", "/etc/passwd.pdf", "a/../../b.pdf", "..\\x.pdf"])
def test_a_name_with_dotdot_is_refused(lib, fixtures, name):
    lib.add(fixtures["zh_docx"])
    before = snapshot(lib.root)
    with pytest.raises(UserError, match="unsafe file name"):
        lib.add(fixtures["en_pdf"], name=name)
    with pytest.raises(UserError, match="invalid report id"):
        lib.remove(name)
    assert snapshot(lib.root) == before


@pytest.mark.parametrize("exc", [OSError("No space left on device"), KeyboardInterrupt()])
def test_an_interrupted_write_leaves_no_entry(lib, fixtures, monkeypatch, exc):
    lib.add(fixtures["zh_docx"])
    before = snapshot(lib.root)

    def half_copy(src: Path, dst: Path) -> None:
        data = src.read_bytes()
        dst.write_bytes(data[: len(data) // 2])
        raise exc

    monkeypatch.setattr(libmod, "copy_file", half_copy)
    with pytest.raises(type(exc)):
        lib.add(fixtures["en_pdf"])
    assert snapshot(lib.root) == before
    assert [e.id for e in lib.entries()] == ["A-75-36-zh"]


def test_leftovers_of_a_killed_write_are_ignored_then_cleaned(lib, fixtures):
    lib.add(fixtures["zh_docx"])
    before = snapshot(lib.root)
    stale = lib.root / ".incoming-killed"
    stale.mkdir()
    shutil.copy(fixtures["en_pdf"], stale / "source.pdf")      # a process killed before entry.json
    (stale / "entry.json").write_text('{"id": "half', encoding="utf-8")
    assert [e.id for e in lib.entries()] == ["A-75-36-zh"]
    assert [d.id for d in load_corpus_with_library().documents][1:] == ["A-75-36-zh"]
    lib.add(fixtures["en_pdf"])
    assert not stale.exists()
    assert set(snapshot(lib.root)) > set(before)


def test_concurrent_writers_do_not_corrupt_the_library(tmp_path, fixtures):
    import subprocess
    import sys

    root = tmp_path / "library"
    code = "import sys; from qa.ingest.library import Library; print(Library(sys.argv[1]).add(sys.argv[2]).entry.id)"
    files = [fixtures["en_pdf"], fixtures["en_pdf"], fixtures["zh_docx"]]
    procs = [subprocess.Popen([sys.executable, "-c", code, str(root), str(f)], cwd=Path(__file__).parents[2],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for f in files]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-300:] for o in outs]
    assert sorted(o[0].strip() for o in outs) == ["A-75-36-zh", "A-79-123-en", "A-79-123-en"]
    lib = Library(root)
    assert sorted(e.id for e in lib.entries()) == ["A-75-36-zh", "A-79-123-en"]
    assert [len(d.paragraphs) for d in lib.documents()] in ([20, 136], [136, 20])
    assert not [p for p in root.iterdir() if p.name.startswith(".incoming")]
