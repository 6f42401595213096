"""Where report-qa keeps its files on disk: the cache home and the library of reports a user added.

- `cache_home()`: restored models, the embedding cache and the indexes (`REPORT_QA_HOME`, else
  `~/.cache/report-qa`).
- `library_dir()`: the library (`REPORT_QA_LIBRARY`, else `<cache home>/library`).

`embeddings.encoders.cache_home` applies the same `REPORT_QA_HOME` rule for the models, because the
`embeddings` package imports nothing from `qa`; tests/test_paths.py checks that the two agree.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "REPORT_QA_HOME"
LIBRARY_ENV = "REPORT_QA_LIBRARY"


def cache_home() -> Path:
    """Where restored models, embeddings and indexes live (REPORT_QA_HOME, else ~/.cache/report-qa)."""
    env = os.environ.get(HOME_ENV)
    return Path(env) if env else Path.home() / ".cache" / "report-qa"


def library_dir() -> Path:
    """The folder of the reports a user added (REPORT_QA_LIBRARY, else <cache home>/library)."""
    env = os.environ.get(LIBRARY_ENV)
    return Path(env) if env else cache_home() / "library"
