"""open_index: saved, verified, and rebuilt (with a log line) when it is stale or damaged."""

from __future__ import annotations

import json
import logging

import pytest

from qa.ingest.txt import parse
from qa.retrieval.index import IndexHome, build_units, clause_windows, footnote_search_text, open_index
from qa.types import Corpus
from tests.conftest import FakeEncoder

TEXT = """ Chapter I
  Introduction
1. The Office supported treaty bodies, the Human Rights Council and special procedures during the pandemic.1
2. The Office kept 87 field presences, including peace missions.
__________________
 1 See www.ohchr.org/EN/HRBodies/Pages/TreatyBodies.aspx.
"""


@pytest.fixture
def small_corpus():
    return Corpus([parse(TEXT, doc_id="t")])


def test_units_cover_paragraphs_sentences_clauses_headings_footnotes(small_corpus):
    kinds = {u.kind for u in build_units(small_corpus)}
    assert kinds == {"paragraph", "heading", "sentence", "clause", "footnote"}
    fn = [u for u in build_units(small_corpus) if u.kind == "footnote"]
    assert fn and fn[0].paragraph == 1 and fn[0].footnote == 1


def test_clause_windows_and_footnote_text():
    assert clause_windows("单句。") == []
    parts = clause_windows("人权高专办支持条约机构，并协助国家，以及民间社会。")
    assert "人权高专办支持条约机构，" in parts and "人权高专办支持条约机构，并协助国家，" in parts
    assert footnote_search_text("见 www.ohchr.org/EN/HRBodies/SP/Pages/COVID-19-and-Special-Procedures.aspx。") == \
        "见 COVID and Special Procedures。"


def test_build_then_load(tmp_path, small_corpus):
    enc = FakeEncoder()
    home = IndexHome.resolve(tmp_path)
    store, report = open_index(small_corpus, enc, home=home, quiet=True)
    assert report["loaded"] is False and report["embedded"] == len({u["text"] for u in store.units})  # each text once
    calls = enc.calls
    store2, report2 = open_index(small_corpus, enc, home=home, quiet=True)
    assert report2["loaded"] is True and len(store2.units) == len(store.units)
    assert enc.calls == calls  # loading a saved index embeds nothing


def test_index_built_with_another_model_is_rebuilt(tmp_path, small_corpus, caplog):
    home = IndexHome.resolve(tmp_path)
    open_index(small_corpus, FakeEncoder("fake-a"), home=home, quiet=True)
    other = FakeEncoder("fake-a")
    other.fingerprint = "fp-different-weights"
    with caplog.at_level(logging.WARNING, logger="report_qa"):
        _, report = open_index(small_corpus, other, home=home, quiet=True)
    assert report["loaded"] is False and "model_fingerprint" in report["rebuilt_because"]
    assert any("rebuilding" in r.message for r in caplog.records)


def test_corrupted_index_is_detected_and_rebuilt(tmp_path, small_corpus, caplog):
    home = IndexHome.resolve(tmp_path)
    enc = FakeEncoder()
    _, report = open_index(small_corpus, enc, home=home, quiet=True)
    directory = tmp_path / "index"
    manifest = next(directory.rglob("manifest.json"))
    files = json.loads(manifest.read_text())["files"]
    target = manifest.parent / files["index"]["name"]
    target.write_bytes(target.read_bytes()[:-40])
    with caplog.at_level(logging.WARNING, logger="report_qa"):
        store, report = open_index(small_corpus, enc, home=home, quiet=True)
    assert report["loaded"] is False and "checksum" in report["rebuilt_because"]
    assert any("checksum" in r.message for r in caplog.records)
    # Rebuilding re-used every embedding from the content-hash cache.
    assert report["embedded"] == 0 and report["reused"] == len(store.units)


def test_changed_corpus_is_rebuilt(tmp_path, small_corpus):
    home = IndexHome.resolve(tmp_path)
    enc = FakeEncoder()
    open_index(small_corpus, enc, home=home, quiet=True)
    changed = Corpus([parse(TEXT + "3. A new paragraph about climate change.\n", doc_id="t")])
    store, report = open_index(changed, enc, home=home, quiet=True)
    assert report["loaded"] is False
    assert report["embedded"] < len(store.units)  # only the new text was embedded


def _make_read_only(path) -> bool:
    """chmod for ordinary users; root ignores modes, so also try the immutable flag (chattr +i)."""
    import shutil
    import subprocess

    path.chmod(0o500)
    probe = path / ".probe"
    try:
        probe.write_text("x")
        probe.unlink()
    except OSError:
        return True
    if shutil.which("chattr") and subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0:
        return True
    return False


def _undo_read_only(path) -> None:
    import shutil
    import subprocess

    if shutil.which("chattr"):
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    path.chmod(0o700)


def test_read_only_cache_directory_works_in_memory(tmp_path, small_corpus, caplog):
    ro = tmp_path / "ro"
    ro.mkdir()
    if not _make_read_only(ro):
        pytest.skip("cannot make a read-only directory here")
    try:
        home = IndexHome.resolve(ro)
        assert home.root is None and "not writable" in home.note
        with caplog.at_level(logging.WARNING, logger="report_qa"):
            store, report = open_index(small_corpus, FakeEncoder(), home=home, quiet=True)
        assert report["path"] is None and "not writable" in report["note"]
        assert any("working in memory" in r.message for r in caplog.records)
        assert len(store.units) > 0
    finally:
        _undo_read_only(ro)


def test_unwritable_cache_root_is_detected(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    home = IndexHome.resolve(blocker / "cache")
    assert home.root is None and "REPORT_QA_HOME" in home.note
