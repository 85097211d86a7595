import numpy as np
import pytest

from model_package.data.text import SnippetSampler, clean_sentences, offline_sentences
from model_package.metadata.vocabulary import CHARACTERS


def test_offline_sentences_are_prose_in_the_vocabulary():
    sentences = offline_sentences(frozenset(CHARACTERS))
    assert len(sentences) > 1000 and len(set(sentences)) == len(sentences)
    assert all(set(s) <= set(CHARACTERS) for s in sentences)
    assert not any(">>>" in s or "**" in s for s in sentences)


def test_clean_sentences_drops_code_headings_and_folds_quotes():
    document = (
        "Data model\n**********\n\nObjects are Python\u2019s abstraction for data. All data is\n"
        "represented by objects.\n\n   >>> x = [1, 2]\n   >>> y = x\n\nUse *emphasis* with care here.\n"
    )
    assert clean_sentences(document, set(CHARACTERS)) == [
        "Objects are Python's abstraction for data.",
        "All data is represented by objects.",
        "Use emphasis with care here.",
    ]


def test_snippets_are_word_aligned_and_fit():
    sampler = SnippetSampler(["alpha beta gamma delta", "epsilon zeta eta theta"], max_length=12)
    rng = np.random.default_rng(0)
    words = set(sampler.text.split())
    for _ in range(200):
        snippet = sampler.sample(rng)
        assert 0 < len(snippet) <= 12 and snippet in sampler.text
        assert set(snippet.split()) <= words


def test_sample_lines_is_consecutive_running_text():
    sampler = SnippetSampler(offline_sentences(frozenset(CHARACTERS)), max_length=32)
    rng = np.random.default_rng(1)
    for _ in range(50):
        lines = sampler.sample_lines(rng, 4)
        assert len(lines) == 4 and all(0 < len(line) <= 32 for line in lines)
        joined = " ".join(lines)
        assert joined in sampler.text + " " + sampler.text  # consecutive words (it may wrap past the end)


def test_bad_lengths_are_refused():
    with pytest.raises(ValueError, match="min_length <= max_length"):
        SnippetSampler(["a b"], max_length=3, min_length=5)
