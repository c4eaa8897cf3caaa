"""Lexicon: jieba's dictionary without its 149,000 prefix keys must segment exactly as jieba does."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import jieba
import pytest

from crawler.config.keywords import load_keywords
from crawler.match import Ruleset, lexicon
from crawler.match.lexicon import Lexicon
from crawler.match.ruleset import TERM_WEIGHT

ROOT = Path(__file__).parents[3]
BLOCK = re.compile(r"[\u4E00-\u9FD5a-zA-Z0-9+#&\._%\-]+")  # jieba's re_han_default: what it segments
HAN = re.compile(r"[\u4E00-\u9FD5]")


@pytest.fixture(scope="module")
def pair() -> tuple[jieba.Tokenizer, Lexicon]:
    """jieba's own Tokenizer and a Lexicon, both knowing the shipped rules' terms as the ruleset adds them."""
    jieba.setLogLevel(logging.WARNING)
    terms = sorted(k for k in Ruleset.compile(load_keywords(ROOT / "keywords")).display if not k.startswith("re:"))
    assert len(terms) > 100
    tokenizers = (jieba.Tokenizer(), Lexicon())
    for tokenizer in tokenizers:
        tokenizer.initialize()
        freqs = {term: tokenizer.suggest_freq(term) for term in terms}
        for term, freq in freqs.items():
            tokenizer.add_word(term, max(1, int(freq * TERM_WEIGHT)))
    return tokenizers


def test_same_words_frequencies_and_total_as_jieba() -> None:
    jieba.setLogLevel(logging.WARNING)
    plain = jieba.Tokenizer()
    plain.initialize()
    words, total, prefixes = lexicon._load(Path(jieba.__file__).with_name("dict.txt"))
    others = set(prefixes.split("\n"))
    assert total == plain.total
    assert set(words).isdisjoint(others) and set(words) | others == set(plain.FREQ)
    assert all(plain.FREQ[w] == f for w, f in words.items()) and all(plain.FREQ[p] == 0 for p in others)
    assert len(others) > 100_000  # what is no longer kept as keys


def test_segments_pages_exactly_as_jieba(pair: tuple[jieba.Tokenizer, Lexicon]) -> None:
    plain, lex = pair
    blocks = ["化隆县二幼儿园多名幼儿呕吐", "南京市长江大桥", "县二幼", "投诉无门"]
    for page in sorted((ROOT / "tests" / "data").rglob("*.html")):
        blocks += [b for b in BLOCK.findall(page.read_text(encoding="utf-8", errors="replace")) if HAN.search(b)]
    assert sum(map(len, blocks)) > 50_000  # characters of Chinese text
    assert plain.total == lex.total
    for block in blocks:
        assert lex.get_DAG(block) == plain.get_DAG(block), block
    assert [list(lex.tokenize(b, HMM=False)) for b in blocks] == [list(plain.tokenize(b, HMM=False)) for b in blocks]


def test_a_word_added_later_is_found_and_its_prefixes_scanned(pair: tuple[jieba.Tokenizer, Lexicon]) -> None:
    plain, lex = pair
    for tokenizer in (plain, lex):
        tokenizer.add_word("罕见长词测试甲乙", 50)
    text = "今天罕见长词测试甲乙出现了"
    assert lex.lcut(text, HMM=False) == plain.lcut(text, HMM=False)
    assert "罕见长词测试甲乙" in lex.lcut(text, HMM=False)


def test_cache_written_once_and_a_broken_one_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dict_txt = tmp_path / "dict.txt"
    dict_txt.write_text("长江 100 ns\n长江大桥 20 nz\n南京市 50 ns\n市长 30 n\n", encoding="utf-8")
    monkeypatch.setattr(lexicon.tempfile, "tempdir", str(tmp_path))
    built = lexicon._load(dict_txt)
    assert built == ({"长江": 100, "长江大桥": 20, "南京市": 50, "市长": 30, "长": 0, "南": 0, "市": 0}, 200,
                     "南京\n长江大")
    cache = lexicon._cache_path(dict_txt)
    assert cache.exists() and lexicon._load(dict_txt) == built
    cache.write_bytes(cache.read_bytes()[:10])  # truncated: read again from dict.txt
    assert lexicon._load(dict_txt) == built
