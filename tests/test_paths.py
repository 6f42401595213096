"""qa.paths: the cache home and the library folder from the environment, by the same home rule as
`embeddings.encoders.cache_home` (which the embeddings package keeps for itself)."""

from __future__ import annotations

from pathlib import Path

from embeddings import encoders
from qa import paths


def test_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("REPORT_QA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("REPORT_QA_LIBRARY", raising=False)
    assert paths.cache_home() == tmp_path / "home" == encoders.cache_home()
    assert paths.library_dir() == tmp_path / "home" / "library"
    monkeypatch.setenv("REPORT_QA_LIBRARY", str(tmp_path / "lib"))
    assert paths.library_dir() == tmp_path / "lib"


def test_defaults(monkeypatch):
    monkeypatch.delenv("REPORT_QA_HOME", raising=False)
    monkeypatch.delenv("REPORT_QA_LIBRARY", raising=False)
    home = Path.home() / ".cache" / "report-qa"
    assert paths.cache_home() == home == encoders.cache_home()
    assert paths.library_dir() == home / "library"
