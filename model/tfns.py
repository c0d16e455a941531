"""The finance-tweet data set (TFNS) and its fixed, stratified split.

Training and evaluation both call `split()`, so the held-out part is the same rows everywhere:
a seeded permutation inside each class, 15% held out for the final evaluation, 10% of the rest
as a development set for choosing the epoch and learning rate. The held-out rows are never seen
while training or choosing.
"""
import csv
import os

import numpy as np

# TFNS labels: 0 = Bearish, 1 = Bullish, 2 = Neutral. Conviction names labels, never indices.
TFNS_LABELS = {0: "negative", 1: "positive", 2: "neutral"}
SEED = 2026
HELD_OUT = 0.15
DEV = 0.10


def default_path():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.environ.get("CONVICTION_TFNS", os.path.join(here, "..", "..", "shared", "data", "tfns", "sent_train.csv"))


def load(path=None):
    path = path or default_path()
    texts, labels = [], []
    with open(path, newline="", encoding="utf-8") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            try:
                label = int(row["label"])
            except (KeyError, ValueError):
                raise SystemExit(f"{path}:{line}: field 'label' is not 0, 1 or 2: {row.get('label')!r}")
            if label not in TFNS_LABELS:
                raise SystemExit(f"{path}:{line}: field 'label' is not 0, 1 or 2: {label}")
            texts.append(row["text"])
            labels.append(label)
    return texts, np.array(labels)


def split(labels):
    """Returns index arrays (train, dev, held_out), stratified by class and deterministic."""
    rng = np.random.RandomState(SEED)
    train, dev, held = [], [], []
    for c in sorted(TFNS_LABELS):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        n_held = int(round(len(idx) * HELD_OUT))
        n_dev = int(round((len(idx) - n_held) * DEV))
        held.extend(idx[:n_held])
        dev.extend(idx[n_held:n_held + n_dev])
        train.extend(idx[n_held + n_dev:])
    return np.sort(train), np.sort(dev), np.sort(held)
