"""Retrieval: from a question to ranked paragraphs with their evidence, and whether the report covers it.

`index` builds the units (paragraphs, sentences, clauses, footnotes, headings) and their vector stores,
`lexical` the BM25 index, `bridge` the multilingual names of places and UN terms; `signals` computes one
query's signals (in two stages for a large collection), `fusion` fuses them and holds the "not covered" rule
(weights in fusion.json), and `retriever` runs those stages for a question.
"""
