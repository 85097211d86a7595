import pytest

from model_package.metadata.vocabulary import LINE_VOCABULARY, PARAGRAPH_VOCABULARY, Vocabulary


def test_sizes_and_layout():
    assert len(LINE_VOCABULARY) == 83
    assert len(PARAGRAPH_VOCABULARY) == 84 and PARAGRAPH_VOCABULARY[-1] == "\n"
    assert LINE_VOCABULARY[:4] == ["<B>", "<S>", "<E>", "<P>"]
    assert LINE_VOCABULARY[4] == "0" and LINE_VOCABULARY[14] == "A" and LINE_VOCABULARY[40] == "a"
    assert "".join(LINE_VOCABULARY[66:]) == " !\"#&'()*+,-./:;?"


def test_encode_decode_round_trip():
    vocab = Vocabulary(LINE_VOCABULARY)
    ids = vocab.encode('He said: "no?"', max_length=20)
    assert len(ids) == 20
    assert ids[0] == vocab.start_index and ids[15] == vocab.end_index and set(ids[16:]) == {vocab.pad_index}
    assert vocab.decode(ids) == 'He said: "no?"'


def test_decode_stops_at_end_and_skips_start():
    vocab = Vocabulary(LINE_VOCABULARY)
    a = vocab.char_to_idx["a"]
    assert vocab.decode([vocab.start_index, a, vocab.end_index, a, a]) == "a"
    assert vocab.decode([vocab.start_index, a, vocab.pad_index, a]) == "a"


def test_encode_rejects_unknown_characters_and_overlong_text():
    vocab = Vocabulary(LINE_VOCABULARY)
    with pytest.raises(ValueError, match=r"outside the vocabulary.*'@'"):
        vocab.encode("mail@home", 20)
    with pytest.raises(ValueError, match="does not fit"):
        vocab.encode("x" * 19, 20)
