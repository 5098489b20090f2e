"""« L'émergence de nouvelles capacités » — or a metric's mirage (Schaeffer et al. 2023).

Wei et al. 2022 list multi-digit addition among « emergent » abilities: exact-match accuracy
stays near zero, then shoots up past some model size (docs/sources.md A18, A19). Schaeffer, Miranda
& Koyejo 2023 argue that the jump comes from the metric: if each of the K answer digits is
right with probability p, which grows smoothly with size, the whole answer is right with
probability ≈ p^K, a sharp curve. We train GPTs of growing width on k-digit addition, all with
the same data and steps, with several seeds (the bands span them), and measure both metrics on
the same answers.

The phenomenon, in the JSON (`models`, `contrast`): over the smaller half of the sizes exact match
stays near 0 while per-digit accuracy already rises; per-digit accuracy is the smoother curve.
tests/test_trained_figures.py::test_emergence_in_the_deck fails without it.

Format: least-significant digit first (Lee et al. 2023, "reverse"), and one token per column
(a_i, b_i), as a tokenizer that merged digit pairs would give: each sum digit then depends on
its column and one carry, which models of a few thousand parameters learn in 1 000 steps on a
CPU. The sum is written one digit per token; the K = k + 1 digits are the answer.

Run alone: python figures/emergence_addition.py --profile quick
(writes into _scratch/emergence-addition/)
"""

FIGURE = {
    "name": "emergence-addition",
    "caption": "Mêmes modèles, deux mesures (bandes : étendue sur 5 graines) : l’exactitude par "
               "chiffre décolle dès les petites tailles, la réponse entièrement exacte, qui exige "
               "tous les chiffres, reste nulle plus longtemps puis monte",
    "alt": "Pour l’addition à plusieurs chiffres, en fonction du nombre de paramètres du modèle "
           "(échelle logarithmique), moyenne et étendue sur cinq graines : l’exactitude par "
           "chiffre monte dès les petites tailles, tandis que la proportion de réponses "
           "entièrement exactes reste près de zéro plus longtemps puis monte ; elle suit la "
           "puissance K de l’exactitude par chiffre.",
    "outputs": ["emergence-addition.svg", "emergence-addition.json"],
    "needs": [],
    "gpu": True,
    "seed": 0,
    "params": {"digits": 5, "widths": [4, 6, 8, 10, 12, 16], "seeds": 5, "layers": 2, "heads": 2,
               "steps": 800, "batch": 128, "lr": 0.003, "n_test": 2000, "amp": False},
    "profiles": {
        "smoke": {"digits": 3, "widths": [4, 8, 16], "seeds": 3, "steps": 300, "batch": 64, "n_test": 1000},
        "full": {"digits": 8, "widths": [4, 6, 8, 10, 12, 14, 16, 20, 24, 32, 48, 64], "seeds": 5,
                 "steps": 5000, "batch": 512, "n_test": 20000, "amp": True},
    },
    "tolerance": 1e-4,
}

import _train  # noqa: F401  (thread settings first)
import numpy as np
import torch
import torch.nn.functional as F

from builder.script import setup
from _style import plt, PALETTE, canvas, french_axes, french_number
from _gpt import GPT, GPTConfig, adamw, cosine_lr
from _sabotage import sabotage, mode

run = setup(FIGURE)
hp = run.params
device = _train.start(run)
k = hp["digits"]
K = k + 1                                         # answer digits (the sum may carry out)
EQ = 110                                          # tokens: digits 0-9, columns 10-109, '='
VOCAB = 111
A = k + 1                                         # index of the first answer digit
T = A + K


def digits_lsb(x, n):
    return torch.stack([(x // 10 ** i) % 10 for i in range(n)], 1)


def problems(n, g):
    """`a + b =` as tokens (k column tokens (a_i, b_i), '='), and the K digits of s; LSB first."""
    a = torch.randint(0, 10 ** k, (n,), generator=g)
    b = torch.randint(0, 10 ** k, (n,), generator=g)
    columns = 10 + 10 * digits_lsb(a, k) + digits_lsb(b, k)
    return torch.cat([columns, torch.full((n, 1), EQ)], 1).to(device), digits_lsb(a + b, K).to(device)


test = torch.cat(problems(hp["n_test"], torch.Generator().manual_seed(10_000 + run.seed)), 1)


@torch.no_grad()
def evaluate(model):
    """Greedy decoding of the K answer digits: what the model would answer."""
    seq = test[:, :A]
    for _ in range(K):
        seq = torch.cat([seq, model(seq)[:, -1:].argmax(-1)], 1)
    right = (seq[:, A:] == test[:, A:]).float()
    return right.mean().item(), right.all(1).float().mean().item(), right.mean(0).tolist()


def train(width, seed):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)                       # the same stream for every size
    model = GPT(GPTConfig(vocab_size=VOCAB, block_size=T, n_layer=hp["layers"], n_head=hp["heads"],
                          n_embd=width)).to(device)
    opt, batch = sabotage(adamw(model, hp["lr"], weight_decay=0.1), problems)   # tests only
    for step in range(hp["steps"]):
        x = torch.cat(batch(hp["batch"], g), 1)                   # fresh data: no overfitting
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, hp["steps"], hp["lr"], warmup=100)
        with _train.autocast(device, hp["amp"]):
            logits = model(x[:, :-1])[:, A - 1:]                  # loss on the answer digits only
        loss = F.cross_entropy(logits.float().reshape(-1, VOCAB), x[:, A:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model


results = []
for width in hp["widths"]:
    runs = []
    for seed in range(run.seed, run.seed + hp["seeds"]):
        model = train(width, seed)
        per_digit, exact, per_position = evaluate(model)
        runs.append({"seed": seed, "per_digit_acc": per_digit, "exact_match": exact,
                     "per_position_acc": per_position})
    pd_seeds = [r["per_digit_acc"] for r in runs]
    em_seeds = [r["exact_match"] for r in runs]
    per_digit, exact = float(np.mean(pd_seeds)), float(np.mean(em_seeds))
    results.append({"width": width, "N": model.count_params(), "per_digit_acc": per_digit,
                    "exact_match": exact, "per_digit_acc_pow_K": per_digit ** K,
                    "per_digit_range": [min(pd_seeds), max(pd_seeds)],   # the band: all seeds
                    "exact_match_range": [min(em_seeds), max(em_seeds)],
                    "product_of_positions": float(np.mean([np.prod(r["per_position_acc"])
                                                           for r in runs])),
                    "seeds": runs})
    print(f"width {width:4d}  N {results[-1]['N']:7d}  per digit {per_digit:.3f}  "
          f"exact {exact:.3f}  (per digit)^{K} {per_digit ** K:.3f}", flush=True)

# The contrast the slide states, in numbers: over the smaller half of the sizes, how far each
# metric has risen from the smallest model (tests/test_trained_figures.py reads these).
half = results[:len(results) // 2]
contrast = {"smaller_half_widths": [r["width"] for r in half],
            "exact_match_max_smaller_half": max(r["exact_match"] for r in half),
            "per_digit_rise_smaller_half": half[-1]["per_digit_acc"] - half[0]["per_digit_acc"],
            "exact_match_rise_smaller_half": half[-1]["exact_match"] - half[0]["exact_match"]}

# -- figure: the same models, two metrics, drawn at 600 × 460 px; bands span the seeds ------------
N = [r["N"] for r in results]
fig, ax = canvas(600, 460)
for key, band, marker, color, label in (
        ("per_digit_acc", "per_digit_range", "o-", PALETTE[0], "chiffres exacts (p)"),
        ("exact_match", "exact_match_range", "s-", PALETTE[3], "réponse entièrement exacte")):
    ax.fill_between(N, [r[band][0] for r in results], [r[band][1] for r in results], color=color,
                    alpha=0.25, lw=0)
    ax.semilogx(N, [r[key] for r in results], marker, color=color, label=label, ms=6)
ax.semilogx(N, [r["per_digit_acc_pow_K"] for r in results], ":", color="black", lw=2,
            label=f"p$^{{{K}}}$ (chiffres indépendants)")
ax.set(xlabel="paramètres du modèle (hors plongements)", ylabel="exactitude", ylim=(-0.03, 1.03),
       title=f"Addition à {k} chiffres, {hp['seeds']} graines")
ax.legend(loc="upper left", frameon=False)
ticks = [t for t in (100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000)
         if min(N) <= t <= max(N)]
ax.set_xticks(ticks, [french_number(t) for t in ticks])          # log axis: French numbers by hand
ax.xaxis.set_minor_formatter(plt.NullFormatter())
french_axes(ax)
run.savefig(fig, "emergence-addition.svg")

run.save_json("emergence-addition.json", {
    "params": dict(hp),
    "device": device,
    "sabotage": mode(),                 # None: a real run (tests break runs on purpose)
    "answer_digits": K,
    "models": results,                   # mean over seeds; *_range: min and max over seeds
    "contrast": contrast,
})
