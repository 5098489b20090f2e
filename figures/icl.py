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
    "caption": "Apprentissage en contexte : trois petits transformers, de tailles croissantes, "
               "complètent « voter → ? » en lisant la règle dans les exemples du prompt",
    "alt": "Exactitude de la réponse de trois petits transformers de tailles croissantes en "
           "fonction du nombre d’exemples donnés dans le prompt (0 à 4) : nulle sans exemple "
           "pour tous ; avec des exemples, d’autant plus haute que le modèle est grand.",
    "outputs": ["icl.svg", "icl.json"],
    "needs": [],
    "gpu": True,
    "seed": 0,
    "params": {"pairs": 5, "stem": [3, 6], "suffix": [1, 2], "layers": 3, "heads": 4, "widths": [16, 32, 64],
               "steps": 1500, "batch": 32, "lr": 0.003, "n_eval": 1000, "amp": False, "compile": False},
    "profiles": {
        "smoke": {"pairs": 4, "stem": [2, 4], "suffix": [1, 1], "widths": [16, 48], "steps": 300,
                  "n_eval": 500},
        "full": {"pairs": 9, "stem": [3, 8], "suffix": [1, 3], "layers": 4, "widths": [32, 64, 128, 256],
                 "steps": 10000, "batch": 128, "lr": 0.001, "n_eval": 5000, "amp": True},
    },
    "tolerance": 1e-4,
}

import _train  # noqa: F401  (thread settings first)
import numpy as np
import torch
import torch.nn.functional as F

from builder.script import setup
from _style import plt, canvas, french_axes, french_number
from _gpt import GPT, GPTConfig, adamw, cosine_lr
from _sabotage import sabotage, mode

run = setup(FIGURE)
hp = run.params
device = _train.start(run)

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


# A fixed evaluation set: the k-th pair of an episode is a query with k examples before it.
eval_x, eval_y, eval_spans = batch(np.random.default_rng(10_000 + run.seed), hp["n_eval"])


@torch.no_grad()
def accuracy_by_shots(forward):
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
def complete(model, prompt, max_len=12):
    """Greedy continuation of a prompt until ';'."""
    ids = encode(prompt)
    for _ in range(max_len):
        nxt = model(torch.tensor([ids], device=device))[0, -1].argmax().item()
        if nxt == END:
            break
        ids.append(nxt)
    return "".join(CHARS[i] for i in ids[len(encode(prompt)):])


def train(d):
    """A GPT of width d (rotary positions: copying the query's stem and the examples' suffix is
    attention by offset), trained on the same stream of episodes as every other size."""
    torch.manual_seed(run.seed)
    model = GPT(GPTConfig(vocab_size=VOCAB, block_size=T, n_layer=hp["layers"], n_head=hp["heads"],
                          n_embd=d, rope=True)).to(device)
    forward = _train.maybe_compile(model, device, hp["compile"])
    # Tests only: a frozen optimiser, or each episode's targets swapped with another episode's.
    opt, episodes = sabotage(adamw(model, hp["lr"], weight_decay=0.1), lambda rng, n: batch(rng, n)[:2])
    rng, losses = np.random.default_rng(run.seed), []
    for step in range(1, hp["steps"] + 1):
        x, y = episodes(rng, hp["batch"])
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, hp["steps"], hp["lr"], warmup=100)
        with _train.autocast(device, hp["amp"]):
            logits = forward(x)
        loss = F.cross_entropy(logits.float().view(-1, VOCAB), y.view(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 10 == 0:
            losses.append(loss.item())            # every 10 steps: .item() waits for the GPU
    return model, forward, losses


# -- training: the same task, data and steps at every size ---------------------------------------
# The slide's own prompt, with its real French verbs.
slide_prompt = "manger>mangera;parler>parlera;voter>"
sizes = []
for d in hp["widths"]:
    model, forward, losses = train(d)
    acc = accuracy_by_shots(forward)
    sizes.append({"d": d, "N": model.count_params(), **{f"{k}_by_shots": v for k, v in acc.items()},
                  "loss_every_10_steps": losses, "slide_answer": complete(model, slide_prompt)})
    print(f"d {d:4d}  N {sizes[-1]['N']:7d}  accuracy by shots "
          + " ".join(f"{a:.2f}" for a in acc["answer"]) + "  suffix "
          + " ".join(f"{a:.2f}" for a in acc["suffix"]), flush=True)
largest = sizes[-1]

# -- figure: drawn at its size on the slide (560 × 440 px); one curve per model size -------------
shots = np.arange(hp["pairs"])
fig, ax = canvas(560, 440)
for i, r in enumerate(sizes):
    shade = plt.cm.viridis(0.85 * i / max(1, len(sizes) - 1))
    ax.plot(shots, r["answer_by_shots"], "o-", color=shade, ms=6,
            label=("N = " if i == 0 else "") + french_number(r["N"]))
ax.set(xlabel="nombre d’exemples en contexte", ylabel="réponse exacte", ylim=(-0.03, 1.03),
       xticks=shots)
fig.legend(loc="outside upper center", ncol=len(sizes), frameon=False, handlelength=1.2,
           columnspacing=0.8)                             # model sizes (N: non-embedding parameters)
french_axes(ax)
run.savefig(fig, "icl.svg")

run.save_json("icl.json", {
    "params": dict(hp),
    "device": device,
    "sabotage": mode(),                    # None: a real run (tests break runs on purpose)
    "shots": shots,
    "sizes": sizes,                        # smallest to largest; index of *_by_shots = examples before
    "n_params": largest["N"],
    "accuracy_by_shots": largest["answer_by_shots"],          # the largest model
    "stem_accuracy_by_shots": largest["stem_by_shots"],
    "suffix_accuracy_by_shots": largest["suffix_by_shots"],
    "slide_prompt": slide_prompt.replace(">", " → ").replace(";", ", "),
    "slide_answer": largest["slide_answer"],
    "slide_correct": largest["slide_answer"] == "votera",
})
