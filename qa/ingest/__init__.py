"""Ingestion: report files (.txt, .pdf, .docx) → `Document`s, and the library of reports a user added.

`load_document` / `load_corpus` pick the reader by file type (`qa.ingest.files`); the readers (`txt`, `pdf`,
`docx`) share one layout grammar and one document assembly (`qa.ingest.structure`); `qa.ingest.library`
keeps the added reports and builds the bundled-plus-library corpus.
"""

from qa.ingest.files import load_corpus, load_document

__all__ = ["load_corpus", "load_document"]
