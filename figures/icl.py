"""« GPT3 paper 2020 : émergence de l'In-Context Learning » — a small transformer learns, from
examples given in its prompt, a rule it has never seen in its weights.

The slide's prompt: « manger → mangera, parler → parlera, voter → ? ». We train a character
GPT on episodes of that shape, `manger>mangera;parler>parlera;voter>votera;`, where every
episode draws fresh random stems and a fresh random suffix (a few letters): no suffix can be
memorised, it must be read from the examples earlier in the same sequence (Brown et al. 2020;
the mechanism is an induction head, Olsson et al. 2022). We then measure the accuracy of the
answer to a query (whole word, greedy) against the number of examples before it: with none the
suffix cannot be guessed, with one it can be copied. Copying the query's stem is learnt first;
reading the suffix needs a third layer to be learnt within the CPU budget (with two, it is the
stem's end, itself found by an induction head, that has to steer the suffix lookup).

The phenomenon, in the JSON: `accuracy_by_shots` is near 0 with no example and high with one
or more; tests/test_trained_figures.py::test_icl_in_the_deck fails without it.

Run alone: python figures/icl.py --profile quick   (writes into _scratch/icl/)
"""

FIGURE = {
    "name": "icl",
    "caption": "Apprentissage en contexte : un petit transformer complète « voter → ? » en "
               "lisant la règle dans les exemples du prompt",
    "alt": "Exactitude de la réponse d'un petit transformer en fonction du nombre d'exemples "
           "donnés dans le prompt (0, 1, 2, 4…), à plusieurs moments de l'entraînement : nulle "
           "sans exemple, élevée dès un exemple, un peu plus haute avec davantage d'exemples.",
    "outputs": ["icl.svg", "icl.json"],
    "needs": [],
    "gpu": True,
    "seed": 0,
    "params": {"pairs": 5, "stem": [3, 6], "suffix": [1, 2], "layers": 3, "heads": 4, "d": 64, "steps": 1500,
               "batch": 32, "lr": 0.003, "n_eval": 1000, "checkpoints": 4, "amp": False, "compile": False},
    "profiles": {
        "smoke": {"pairs": 4, "stem": [2, 4], "suffix": [1, 1], "d": 48, "steps": 300, "n_eval": 500,
                  "checkpoints": 2},
        "full": {"pairs": 9, "stem": [3, 8], "suffix": [1, 3], "layers": 4, "d": 128, "steps": 10000,
                 "batch": 128, "lr": 0.001, "n_eval": 5000, "checkpoints": 6, "amp": True},
    },
    "tolerance": 1e-4,
}

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small matrices: BLAS threads only contend

import numpy as np
import torch
import torch.nn.functional as F

from builder.script import setup
from _style import plt, canvas, french_axes, french_number
from _gpt import GPT, GPTConfig, adamw, cosine_lr, prepare, autocast, maybe_compile, sabotage, frozen_lr

run = setup(FIGURE)
hp = run.params
device = run.device()
prepare(device)
broken = sabotage()                               # tests only: a run that cannot learn

LETTERS = "abcdefghijklmnopqrstuvwxyz"
ARROW, END, PAD = 26, 27, 28                      # '>', ';' and padding
VOCAB = 29
CHARS = LETTERS + ">;_"
T = hp["pairs"] * (2 * hp["stem"][1] + hp["suffix"][1] + 2)       # longest episode
encode = lambda s: [CHARS.index(ch) for ch in s]


def episode(rng):
    """One episode as token ids: `pairs` examples sharing a random suffix, and for each answer
    its span (start, suffix start, end just after ';')."""
    suffix = rng.integers(0, 26, rng.integers(hp["suffix"][0], hp["suffix"][1] + 1)).tolist()
    tokens, spans = [], []
    for _ in range(hp["pairs"]):
        stem = rng.integers(0, 26, rng.integers(hp["stem"][0], hp["stem"][1] + 1)).tolist()
        tokens += stem + [ARROW]
        spans.append((len(tokens), len(tokens) + len(stem), len(tokens) + len(stem) + len(suffix) + 1))
        tokens += stem + suffix + [END]
    return tokens, spans


def batch(rng, n):
    """Token ids (n, T), targets with −100 outside the answers (the loss reads answers only)."""
    x = torch.full((n, T), PAD)
    y = torch.full((n, T), -100)
    spans = []
    for i in range(n):
        tokens, sp = episode(rng)
        x[i, :len(tokens)] = torch.tensor(tokens)
        for start, _, end in sp:                  # position t predicts token t+1
            y[i, start - 1:end - 1] = x[i, start:end]
        spans.append(sp)
    longest = max(sp[-1][-1] for sp in spans)      # pad to the longest episode of the batch
    return x[:, :longest].contiguous().to(device), y[:, :longest].contiguous().to(device), spans


# Rotary positions: copying the query's stem and the examples' suffix is attention by offset.
model = GPT(GPTConfig(vocab_size=VOCAB, block_size=T, n_layer=hp["layers"], n_head=hp["heads"],
                      n_embd=hp["d"], rope=True)).to(device)
LR = frozen_lr(hp["lr"], broken)
opt = adamw(model, LR, weight_decay=0.1)
forward = maybe_compile(model, device, hp["compile"])

# A fixed evaluation set: the k-th pair of an episode is a query with k examples before it.
eval_x, eval_y, eval_spans = batch(np.random.default_rng(10_000 + run.seed), hp["n_eval"])


@torch.no_grad()
def accuracy_by_shots():
    """Whole-answer accuracy of the k-th pair, k = 0 … pairs−1, and of its two parts (the copied
    stem, the suffix and ';'). Teacher forcing inside the answer: all its characters are
    argmax-right iff greedy decoding writes it exactly."""
    right = torch.ones(3, hp["n_eval"], hp["pairs"], dtype=torch.bool)
    for i in range(0, hp["n_eval"], 500):
        pred = forward(eval_x[i:i + 500]).argmax(-1).cpu()
        ok = (pred == eval_y[i:i + 500].cpu()) | (eval_y[i:i + 500].cpu() == -100)
        for j, sp in enumerate(eval_spans[i:i + 500]):
            for k, (start, mid, end) in enumerate(sp):
                right[0, i + j, k] = ok[j, start - 1:end - 1].all()
                right[1, i + j, k] = ok[j, start - 1:mid - 1].all()
                right[2, i + j, k] = ok[j, mid - 1:end - 1].all()
    acc = right.float().mean(1)
    return {"answer": acc[0].tolist(), "stem": acc[1].tolist(), "suffix": acc[2].tolist()}


@torch.no_grad()
def complete(prompt, max_len=12):
    """Greedy continuation of a prompt until ';'."""
    ids = encode(prompt)
    for _ in range(max_len):
        nxt = model(torch.tensor([ids], device=device))[0, -1].argmax().item()
        if nxt == END:
            break
        ids.append(nxt)
    return "".join(CHARS[i] for i in ids[len(encode(prompt)):])


# -- training -------------------------------------------------------------------------------------
rng = np.random.default_rng(run.seed)
checkpoints = np.geomspace(hp["steps"] / 8, hp["steps"], hp["checkpoints"]).astype(int).tolist()
curves, losses = {}, []
for step in range(1, hp["steps"] + 1):
    x, y, _ = batch(rng, hp["batch"])
    for group in opt.param_groups:
        group["lr"] = cosine_lr(step, hp["steps"], LR, warmup=100)
    with autocast(device, hp["amp"]):
        logits = forward(x)
    loss = F.cross_entropy(logits.float().view(-1, VOCAB), y.view(-1), ignore_index=-100)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    if step % 10 == 0:
        losses.append(loss.item())                # every 10 steps: .item() waits for the GPU
    if step in checkpoints:
        curves[step] = accuracy_by_shots()
        print(f"step {step:6d}  loss {loss.item():.3f}  accuracy by shots "
              + " ".join(f"{a:.2f}" for a in curves[step]["answer"]) + "  stem "
              + " ".join(f"{a:.2f}" for a in curves[step]["stem"]) + "  suffix "
              + " ".join(f"{a:.2f}" for a in curves[step]["suffix"]), flush=True)

final = curves[hp["steps"]]
# The slide's own prompt, with its real French verbs.
slide_prompt = "manger>mangera;parler>parlera;voter>"
slide_answer = complete(slide_prompt)

# -- figure: drawn at its size on the slide (560 × 440 px) ----------------------------------------
shots = np.arange(hp["pairs"])
fig, ax = canvas(560, 440)
steps_sorted = sorted(curves)
for i, s in enumerate(steps_sorted):
    last = s == hp["steps"]
    shade = plt.cm.viridis(0.85 * i / max(1, len(steps_sorted) - 1))
    ax.plot(shots, curves[s]["answer"], "o-", color=shade, lw=3 if last else 1.8, ms=7 if last else 5,
            label=f"après {french_number(s)} pas" + (" (fin)" if last else ""))
ax.set(xlabel="nombre d'exemples dans le prompt", ylabel="réponse exacte", ylim=(-0.03, 1.03),
       xticks=shots, title="Apprentissage « en contexte »")
ax.text(0.98, 0.62, f"« manger → mangera,\n parler → parlera,\n voter → {slide_answer} »",
        transform=ax.transAxes, ha="right", va="center", multialignment="left", fontsize=14,
        bbox={"boxstyle": "round", "fc": "white", "ec": "grey"})
ax.legend(loc="lower right", bbox_to_anchor=(1, 0.02), fontsize=14, frameon=False)
french_axes(ax)
run.savefig(fig, "icl.svg")

run.save_json("icl.json", {
    "params": dict(hp),
    "device": device,
    "sabotage": broken,                    # None: a real run (tests break runs on purpose)
    "n_params": model.count_params(),
    "shots": shots,
    "accuracy_by_shots": final["answer"],  # the final model; index = number of examples before
    "stem_accuracy_by_shots": final["stem"],
    "suffix_accuracy_by_shots": final["suffix"],
    "curves": {str(s): curves[s] for s in steps_sorted},
    "loss_every_10_steps": losses,
    "slide_prompt": slide_prompt.replace(">", " → ").replace(";", ", "),
    "slide_answer": slide_answer,
    "slide_correct": slide_answer == "votera",
})
