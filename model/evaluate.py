"""Held-out accuracy of assembled model folders (Python onnxruntime + HF tokenizers).

    python model/evaluate.py .models/finance-tweet-minilm .models/finance-tweet-minilm-int8 [--json out.json]

Scores the TFNS held-out rows (model/tfns.py's split, never used in training or model choice) and
prints accuracy, macro-F1, per-class F1 and the confusion matrix for each folder. Labels are
matched by name through each model's id2label.
"""
import argparse
import json
import os
import sys

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tfns  # noqa: E402
from tokenize_bert import encode_batch  # noqa: E402


def evaluate(folder, texts, gold_names, batch=64):
    cfg = json.load(open(os.path.join(folder, "config.json")))
    id2label = {int(k): v.lower() for k, v in cfg["id2label"].items()}
    vocab = [l.rstrip("\n") for l in open(os.path.join(folder, "vocab.txt"), encoding="utf-8")]
    ids, mask = encode_batch(texts, vocab, cfg.get("max_length", 128), cfg.get("do_lower_case", True))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(os.path.join(folder, "model.onnx"), opts, providers=["CPUExecutionProvider"])
    preds = []
    for s in range(0, len(texts), batch):
        width = int(mask[s:s + batch].sum(1).max())
        feeds = {"input_ids": ids[s:s + batch, :width], "attention_mask": mask[s:s + batch, :width],
                 "token_type_ids": np.zeros_like(ids[s:s + batch, :width])}
        logits = sess.run(["logits"], feeds)[0]
        preds.extend(id2label[i] for i in logits.argmax(1))
    names = sorted(set(gold_names))
    gold, pred = np.array(gold_names), np.array(preds)
    f1 = {}
    for c in names:
        tp = int(((pred == c) & (gold == c)).sum()); fp = int(((pred == c) & (gold != c)).sum()); fn = int(((pred != c) & (gold == c)).sum())
        f1[c] = 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)
    confusion = {g: {p: int(((gold == g) & (pred == p)).sum()) for p in names} for g in names}
    return {"model": cfg.get("name", os.path.basename(folder)), "rows": len(texts),
            "accuracy": float((gold == pred).mean()), "macro_f1": float(np.mean(list(f1.values()))),
            "f1": f1, "confusion": confusion}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("folders", nargs="+")
    ap.add_argument("--data", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--export-held-out", default=None, help="also write the held-out rows as CSV (text,label) for other scorers")
    ap.add_argument("--swift-scores", nargs="*", default=[],
                    help="CSV outputs of `conviction score --input held-out.csv` to score against the same labels")
    args = ap.parse_args()
    texts, labels = tfns.load(args.data)
    _, _, held = tfns.split(labels)
    held_texts = [texts[i] for i in held]
    gold = [tfns.TFNS_LABELS[int(labels[i])] for i in held]
    if args.export_held_out:
        import csv
        with open(args.export_held_out, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["text", "label"])
            w.writerows(zip(held_texts, gold))
    results = [evaluate(f, held_texts, gold) for f in args.folders]
    for path in args.swift_scores:
        import csv
        rows = list(csv.DictReader(open(path, encoding="utf-8")))
        pred = np.array([r["label"] for r in rows])
        g = np.array(gold)
        f1 = {}
        for c in sorted(set(gold)):
            tp = int(((pred == c) & (g == c)).sum()); fp = int(((pred == c) & (g != c)).sum()); fn = int(((pred != c) & (g == c)).sum())
            f1[c] = 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)
        results.append({"model": f"{rows[0]['scorer']} (Swift, conviction score)", "rows": len(rows), "accuracy": float((pred == g).mean()),
                        "macro_f1": float(np.mean(list(f1.values()))), "f1": f1})
    for r in results:
        print(f"{r['model']:<48} held-out rows {r['rows']}  accuracy {r['accuracy']:.4f}  macro-F1 {r['macro_f1']:.4f}  "
              + "  ".join(f"F1[{c}] {v:.3f}" for c, v in r["f1"].items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
