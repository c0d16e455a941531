"""BERT WordPiece encoding with Hugging Face `tokenizers`: the reference the Swift tokenizer matches."""
import numpy as np
from tokenizers import BertWordPieceTokenizer


def tokenizer(vocab, lowercase=True):
    if isinstance(vocab, list):
        vocab = {tok: i for i, tok in enumerate(vocab)}
    return BertWordPieceTokenizer(vocab, lowercase=lowercase, strip_accents=None, clean_text=True,
                                  handle_chinese_chars=True)


def encode_batch(texts, vocab, max_length, lowercase=True):
    """Returns (ids, mask) int64 arrays of shape (n, max_length), truncated and zero-padded."""
    tok = tokenizer(vocab, lowercase)
    tok.enable_truncation(max_length)
    ids = np.zeros((len(texts), max_length), dtype=np.int64)
    mask = np.zeros((len(texts), max_length), dtype=np.int64)
    for i, enc in enumerate(tok.encode_batch(texts)):
        n = len(enc.ids)
        ids[i, :n] = enc.ids
        mask[i, :n] = 1
    return ids, mask
