"""Builds a small random-weight BERT sequence classifier as an ONNX model folder with FinBERT's
layout ([CLS] tanh pooler, labels {0: positive, 1: negative, 2: neutral}) and prints the reference
probabilities Python onnxruntime gives for the texts on stdin (JSON lines).

    tiny_bert.py VOCAB OUT_FOLDER MAX_LENGTH < texts.jsonl > probabilities.jsonl
"""
import json
import os
import shutil
import sys

import numpy as np
import onnx
import onnxruntime as ort

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "model"))
import bert_onnx  # noqa: E402
from tokenize_bert import encode_batch  # noqa: E402

vocab_path, out, max_length = sys.argv[1], sys.argv[2], int(sys.argv[3])
vocab = [line.rstrip("\n") for line in open(vocab_path, encoding="utf-8")]
cfg = {"hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2, "intermediate_size": 128,
       "vocab_size": len(vocab), "max_position_embeddings": 128, "type_vocab_size": 2, "layer_norm_eps": 1e-12}
model = bert_onnx.build(bert_onnx.random_weights(cfg, "cls", 3, seed=11), cfg, pooling="cls", n_labels=3)
os.makedirs(out, exist_ok=True)
onnx.save(model, os.path.join(out, "model.onnx"))
shutil.copyfile(vocab_path, os.path.join(out, "vocab.txt"))
# A Hugging Face-style config: FinBERT's label order, max length in tokenizer_config.json.
with open(os.path.join(out, "config.json"), "w") as f:
    json.dump({**cfg, "architectures": ["BertForSequenceClassification"],
               "id2label": {"0": "positive", "1": "negative", "2": "neutral"},
               "label2id": {"positive": 0, "negative": 1, "neutral": 2}}, f)
with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
    json.dump({"do_lower_case": True, "model_max_length": max_length}, f)

texts = [json.loads(line) for line in sys.stdin]
ids, mask = encode_batch(texts, vocab, max_length)
sess = ort.InferenceSession(os.path.join(out, "model.onnx"), providers=["CPUExecutionProvider"])
for i in range(len(texts)):
    n = int(mask[i].sum())
    feeds = {"input_ids": ids[i:i + 1, :n], "attention_mask": mask[i:i + 1, :n], "token_type_ids": np.zeros((1, n), np.int64)}
    logits = sess.run(["logits"], feeds)[0][0].astype(np.float64)
    p = np.exp(logits - logits.max()); p /= p.sum()
    sys.stdout.write(json.dumps({"positive": p[0], "negative": p[1], "neutral": p[2]}) + "\n")
