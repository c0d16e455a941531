"""A BERT-base-size (FinBERT-size: 12 layers, hidden 768, 110 M parameters) sequence classifier with
random weights, for timing only: FinBERT itself cannot be downloaded here, and speed does not
depend on the weights' values.

    build_bert_base.py VOCAB OUT_FOLDER
"""
import json
import os
import shutil
import sys

import onnx

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "model"))
import bert_onnx  # noqa: E402

vocab, out = sys.argv[1], sys.argv[2]
n_vocab = sum(1 for _ in open(vocab, encoding="utf-8"))
cfg = {"hidden_size": 768, "num_attention_heads": 12, "num_hidden_layers": 12, "intermediate_size": 3072,
       "vocab_size": n_vocab, "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12}
os.makedirs(out, exist_ok=True)
model = bert_onnx.build(bert_onnx.random_weights(cfg, "cls", 3, seed=1), cfg, pooling="cls", n_labels=3)
onnx.save(model, os.path.join(out, "model.onnx"))
shutil.copyfile(vocab, os.path.join(out, "vocab.txt"))
with open(os.path.join(out, "config.json"), "w") as f:
    json.dump({**cfg, "name": "bert-base-random", "id2label": {"0": "positive", "1": "negative", "2": "neutral"}, "max_length": 64}, f)
