"""Builds a BERT sequence classifier as an ONNX graph from Hugging Face-named weights, without torch.

Inputs `input_ids`, `attention_mask`, `token_type_ids` (int64, [batch, sequence]); output `logits`
([batch, labels]), the same interface a Hugging Face export of BertForSequenceClassification has.
Two heads: "mean" (masked mean of the last layer, then a linear classifier: Conviction's tweet
model) and "cls" (tanh pooler over [CLS], then the classifier: FinBERT's layout).
"""
import math

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


class _Graph:
    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def const(self, name, array):
        # asarray, not ascontiguousarray: the latter turns 0-d scalars into 1-d arrays.
        self.inits.append(numpy_helper.from_array(np.asarray(array, order="C"), name))
        return name

    def op(self, kind, inputs, **attrs):
        self.n += 1
        out = f"{kind.lower()}_{self.n}"
        self.nodes.append(helper.make_node(kind, inputs, [out], name=out, **attrs))
        return out


def build(weights, cfg, pooling="mean", n_labels=3):
    """weights: HF names (without a 'bert.' prefix) -> float32 arrays; cfg: a BERT config.json dict."""
    g = _Graph()
    w = lambda name: weights[name].astype(np.float32)  # noqa: E731
    h, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    d, eps = h // heads, float(cfg.get("layer_norm_eps", 1e-12))

    def linear(x, prefix):
        y = g.op("MatMul", [x, g.const(prefix + ".weight", w(prefix + ".weight").T)])
        return g.op("Add", [y, g.const(prefix + ".bias", w(prefix + ".bias"))])

    def layer_norm(x, prefix):
        return g.op("LayerNormalization", [x, g.const(prefix + ".weight", w(prefix + ".weight")),
                                           g.const(prefix + ".bias", w(prefix + ".bias"))], axis=-1, epsilon=eps)

    word = g.op("Gather", [g.const("word_embeddings", w("embeddings.word_embeddings.weight")), "input_ids"])
    # positions 0..T-1 as CumSum(ones)-1: no scalar shape arithmetic, which ORT's optimiser mishandles.
    length = g.op("Shape", ["input_ids"], start=1, end=2)
    ones = g.op("ConstantOfShape", [length], value=numpy_helper.from_array(np.array([1], np.int64)))
    one = g.const("one_i64", np.array(1, np.int64))
    positions = g.op("Sub", [g.op("CumSum", [ones, g.const("zero_i64", np.array(0, np.int64))]), one])
    pos = g.op("Gather", [g.const("position_embeddings", w("embeddings.position_embeddings.weight")), positions])
    typ = g.op("Gather", [g.const("token_type_embeddings", w("embeddings.token_type_embeddings.weight")), "token_type_ids"])
    x = layer_norm(g.op("Add", [g.op("Add", [word, pos]), typ]), "embeddings.LayerNorm")

    mask = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    bias = g.op("Mul", [g.op("Sub", [g.const("one_f", np.array(1, np.float32)), mask]),
                        g.const("neg_big", np.array(-10000, np.float32))])
    bias = g.op("Unsqueeze", [bias, g.const("axes_1_2", np.array([1, 2], np.int64))])
    split_shape = g.const("split_shape", np.array([0, 0, heads, d], np.int64))
    merge_shape = g.const("merge_shape", np.array([0, 0, h], np.int64))
    scale = g.const("scale", np.array(1 / math.sqrt(d), np.float32))
    sqrt2 = g.const("sqrt2", np.array(math.sqrt(2), np.float32))
    half = g.const("half", np.array(0.5, np.float32))

    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        q = g.op("Transpose", [g.op("Reshape", [linear(x, p + "attention.self.query"), split_shape])], perm=[0, 2, 1, 3])
        k = g.op("Transpose", [g.op("Reshape", [linear(x, p + "attention.self.key"), split_shape])], perm=[0, 2, 3, 1])
        v = g.op("Transpose", [g.op("Reshape", [linear(x, p + "attention.self.value"), split_shape])], perm=[0, 2, 1, 3])
        scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k]), scale]), bias])
        ctx = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
        ctx = g.op("Reshape", [g.op("Transpose", [ctx], perm=[0, 2, 1, 3]), merge_shape])
        x = layer_norm(g.op("Add", [linear(ctx, p + "attention.output.dense"), x]), p + "attention.output.LayerNorm")
        up = linear(x, p + "intermediate.dense")
        gelu = g.op("Mul", [g.op("Mul", [up, half]),
                            g.op("Add", [g.op("Erf", [g.op("Div", [up, sqrt2])]), "one_f"])])
        x = layer_norm(g.op("Add", [linear(gelu, p + "output.dense"), x]), p + "output.LayerNorm")

    if pooling == "mean":
        m = g.op("Unsqueeze", [mask, g.const("axes_2", np.array([2], np.int64))])
        total = g.op("ReduceSum", [g.op("Mul", [x, m]), g.const("axes_1", np.array([1], np.int64))], keepdims=0)
        count = g.op("Max", [g.op("ReduceSum", [m, "axes_1"], keepdims=0), g.const("tiny", np.array(1e-9, np.float32))])
        pooled = g.op("Div", [total, count])
    elif pooling == "cls":
        first = g.op("Gather", [x, "zero_i64"], axis=1)
        pooled = g.op("Tanh", [linear(first, "pooler.dense")])
    else:
        raise ValueError(f"unknown pooling {pooling!r}")
    logits = linear(pooled, "classifier")
    g.nodes.append(helper.make_node("Identity", [logits], ["logits"], name="logits"))

    dims = ["batch", "sequence"]
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, dims)
              for n in ("input_ids", "attention_mask", "token_type_ids")]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", n_labels])]
    graph = helper.make_graph(g.nodes, "bert_sequence_classifier", inputs, outputs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="conviction")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def random_weights(cfg, pooling, n_labels, seed=0):
    """Random weights of the right shapes, for test models."""
    rng = np.random.RandomState(seed)
    h, inter = cfg["hidden_size"], cfg["intermediate_size"]
    r = lambda *s: (rng.standard_normal(s) * 0.05).astype(np.float32)  # noqa: E731
    w = {"embeddings.word_embeddings.weight": r(cfg["vocab_size"], h),
         "embeddings.position_embeddings.weight": r(cfg["max_position_embeddings"], h),
         "embeddings.token_type_embeddings.weight": r(cfg["type_vocab_size"], h),
         "embeddings.LayerNorm.weight": 1 + r(h), "embeddings.LayerNorm.bias": r(h)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        for n in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            w[p + n + ".weight"], w[p + n + ".bias"] = r(h, h), r(h)
        w[p + "intermediate.dense.weight"], w[p + "intermediate.dense.bias"] = r(inter, h), r(inter)
        w[p + "output.dense.weight"], w[p + "output.dense.bias"] = r(h, inter), r(h)
        for n in ("attention.output.LayerNorm", "output.LayerNorm"):
            w[p + n + ".weight"], w[p + n + ".bias"] = 1 + r(h), r(h)
    if pooling == "cls":
        w["pooler.dense.weight"], w["pooler.dense.bias"] = r(h, h), r(h)
    w["classifier.weight"], w["classifier.bias"] = r(n_labels, h) * 20, r(n_labels)
    return w
