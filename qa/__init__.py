"""report-qa: answers about UN reports that cite the exact paragraph and footnote numbers."""

from __future__ import annotations

__version__ = "0.1.0"
