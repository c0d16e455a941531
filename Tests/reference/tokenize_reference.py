"""Reference token ids from Hugging Face `tokenizers` (BertWordPieceTokenizer) for the Swift tokenizer tests.

    tokenize_reference.py VOCAB LOWERCASE(0|1) MAX_LENGTH < texts.jsonl > ids.jsonl
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "model"))
from tokenize_bert import tokenizer  # noqa: E402

vocab_path, lowercase, max_length = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3])
vocab = {}
with open(vocab_path, encoding="utf-8") as f:
    for i, line in enumerate(f):
        vocab.setdefault(line.rstrip("\n"), i)
tok = tokenizer(vocab, lowercase)
tok.enable_truncation(max_length)
texts = [json.loads(line) for line in sys.stdin]
for enc in tok.encode_batch(texts):
    sys.stdout.write(json.dumps(enc.ids) + "\n")
