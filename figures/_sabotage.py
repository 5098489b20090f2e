"""Deliberately broken runs, for the tests only: one line in a training loop,

    opt, targets = sabotage(opt, targets)

CES_SABOTAGE=frozen: the optimiser never moves the weights (its step does nothing);
CES_SABOTAGE=shuffled: the training targets are permuted across examples (rows), so they no
longer follow their inputs. `targets` is a tensor (its rows permuted) or a function returning
a tensor, or a tuple whose last item is the targets (each result's rows permuted). Honoured
only when a script runs alone, never under `ces build` (CES_RUN set): a cache entry is never a
broken run. Each figure records `mode()` in its JSON.
"""

import os

import torch

ENV = "CES_SABOTAGE"
MODES = ("frozen", "shuffled")


def mode():
    """The breakage a test asked for, or None."""
    wanted = os.environ.get(ENV)
    if not wanted or os.environ.get("CES_RUN"):
        return None
    if wanted not in MODES:
        raise SystemExit(f"{ENV}={wanted!r}: expected one of {', '.join(MODES)}")
    return wanted


def _permute(t, g):
    return t[torch.randperm(len(t), generator=g).to(t.device)]


def sabotage(opt, targets=None):
    """(opt, targets), broken as CES_SABOTAGE asks; untouched for a real run."""
    broken = mode()
    if broken == "frozen" and opt is not None:
        opt.step = lambda *args, **kwargs: None
    if broken == "shuffled" and targets is None:
        raise SystemExit(f"{ENV}=shuffled: this figure has no targets to shuffle (no such variant)")
    if broken != "shuffled":
        return opt, targets
    g = torch.Generator().manual_seed(12345)
    if not callable(targets):
        return opt, _permute(targets, g)

    def shuffled(*args, **kwargs):
        out = targets(*args, **kwargs)
        if isinstance(out, tuple):
            return (*out[:-1], _permute(out[-1], g))
        return _permute(out, g)

    return opt, shuffled
