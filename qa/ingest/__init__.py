"""Ingestion: report files (.txt, .pdf, .docx) → `Document`s, and the library of reports a user added.

`load_document` / `load_corpus` pick the reader by file type (see `qa.ingest.files`).
"""

from qa.ingest.files import load_corpus, load_document

__all__ = ["load_corpus", "load_document"]
