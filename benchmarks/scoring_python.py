"""Python baseline for the scoring benchmark: onnxruntime + Hugging Face tokenizers on the same model
file, texts, batch size and threads as the Swift scorer, batches in arrival order padded to their
longest text (the usual Hugging Face pipeline way).

    scoring_python.py MODEL_FOLDER TEXTS.jsonl BATCH THREADS [SWIFT_PROBABILITIES.f32]
"""
import json
import os
import resource
import sys
import time

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "model"))
from tokenize_bert import tokenizer  # noqa: E402

folder, texts_path, batch, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
cfg = json.load(open(os.path.join(folder, "config.json")))
names = {int(k): v.lower() for k, v in cfg["id2label"].items()}
order = [next(i for i, n in names.items() if n == label) for label in ("negative", "neutral", "positive")]
vocab = {}
for i, line in enumerate(open(os.path.join(folder, "vocab.txt"), encoding="utf-8")):
    vocab.setdefault(line.rstrip("\n"), i)
tok = tokenizer(vocab, cfg.get("do_lower_case", True))
tok.enable_truncation(cfg.get("max_length", 128))
texts = [json.loads(line) for line in open(texts_path, encoding="utf-8")]
opts = ort.SessionOptions()
opts.intra_op_num_threads = threads
opts.inter_op_num_threads = 1
opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
sess = ort.InferenceSession(os.path.join(folder, "model.onnx"), opts, providers=["CPUExecutionProvider"])
inputs = {i.name for i in sess.get_inputs()}


def score(chunk):
    encs = tok.encode_batch(chunk)
    width = max(len(e.ids) for e in encs)
    ids = np.zeros((len(encs), width), np.int64)
    mask = np.zeros((len(encs), width), np.int64)
    for r, e in enumerate(encs):
        ids[r, :len(e.ids)] = e.ids
        mask[r, :len(e.ids)] = 1
    feeds = {"input_ids": ids, "attention_mask": mask}
    if "token_type_ids" in inputs:
        feeds["token_type_ids"] = np.zeros_like(ids)
    logits = sess.run(["logits"], feeds)[0].astype(np.float64)
    p = np.exp(logits - logits.max(1, keepdims=True))
    return (p / p.sum(1, keepdims=True))[:, order]


score(texts[:64])
start = time.perf_counter()
probs = np.concatenate([score(texts[s:s + batch]) for s in range(0, len(texts), batch)])
seconds = time.perf_counter() - start
result = {"texts": len(texts), "seconds": seconds, "texts_per_second": len(texts) / seconds,
          "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "onnxruntime": ort.__version__}
if len(sys.argv) > 5:
    swift = np.fromfile(sys.argv[5], dtype=np.float32).reshape(-1, 3)
    result["max_abs_diff_vs_swift"] = float(np.abs(swift - probs).max())
    result["label_agreement"] = float((swift.argmax(1) == probs.argmax(1)).mean())
print(json.dumps(result))
