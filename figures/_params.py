"""Parameter count of a decoder-only transformer from its published hyperparameters.

Shared by figures/param_counts.py and figures/transformer.py. The formula is docs/sources.md §B:

    attention per layer = d·n_h·d_h (Q) + 2·d·n_kv·d_h (K, V) + n_h·d_h·d (output)
    MLP per layer       = (3 if SwiGLU else 2)·d·d_ff
    + biases and norms, + V·d·(1 if tied else 2) + the learned position table + the final norm.

Rotary positions (RoPE) have no parameters; a parallel block (PaLM) has one norm per layer.
"""

import json
from pathlib import Path

ARCHITECTURES = Path(__file__).resolve().parent / "data" / "architectures.json"
NORM_PARAMS = {"layernorm": 2, "layernorm-nobias": 1, "rmsnorm": 1}  # per channel: weight (+ bias)


def load(path=ARCHITECTURES):
    """The data file: {"models": [...], "rumours": [...]}."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def count(a):
    """Parameters of one architecture row, split by part; exact integers."""
    d, L = a["d_model"], a["layers"]
    q = a["n_heads"] * a["head_dim"]        # width of the queries (= d except in odd configs)
    kv = a["n_kv_heads"] * a["head_dim"]    # GQA/MQA share few K/V heads: this is what shrinks
    attention = d * q + 2 * d * kv + q * d
    mlp = (3 if a["mlp"] == "swiglu" else 2) * d * a["d_ff"]
    if a["biases"]:
        if a["mlp"] == "swiglu":
            raise ValueError(f"{a['name']}: biases with SwiGLU are not modelled")
        attention += q + 2 * kv + d         # one bias per output of Q, K, V and the projection
        mlp += a["d_ff"] + d
    norm = NORM_PARAMS[a["norm"]] * d
    norms = L * a["norms_per_layer"] * norm + norm   # + the final norm before the head
    embeddings = a["vocab"] * d * (1 if a["tied"] else 2) + a["positions"] * d
    parts = {"embeddings": embeddings, "attention": L * attention, "mlp": L * mlp, "norms": norms}
    return {**parts, "total": sum(parts.values())}
