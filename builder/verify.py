"""`ces verify`: recompute fresh figures into scratch directories and compare with the cache.

A figure is *bit-reproducible* when every output is byte-identical; otherwise its JSON
numbers may still agree within the relative tolerance its FIGURE declares.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

from .cache import Cache
from .errors import VerifyError
from .harness import write_run
from .figures import closure
from .runner import Runner, plan


@dataclass
class Verdict:
    name: str
    result: str          # identical | within-tolerance | differs | not-fresh | failed
    detail: str = ""


def _max_rel_diff(a, b) -> float:
    """Largest relative difference between two JSON values of the same shape (inf if shapes differ)."""
    if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, str) or a is None:
        return 0.0 if a == b else math.inf
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return 0.0 if a == b else abs(a - b) / max(abs(a), abs(b), 1e-300)
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return max((_max_rel_diff(x, y) for x, y in zip(a, b)), default=0.0)
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        return max((_max_rel_diff(a[k], b[k]) for k in a), default=0.0)
    return math.inf


def compare(spec, cached_out: Path, new_out: Path) -> Verdict:
    differing, worst = [], 0.0
    for name in spec.outputs:
        old, new = (cached_out / name).read_bytes(), (new_out / name).read_bytes()
        if old == new:
            continue
        if name.endswith(".json"):
            diff = _max_rel_diff(json.loads(old), json.loads(new))
            if diff <= spec.tolerance:
                worst = max(worst, diff)
                continue
            differing.append(f"{name} (max relative difference {diff:.3g} > tolerance {spec.tolerance:g})")
        else:
            differing.append(name)
    if differing:
        return Verdict(spec.name, "differs", ", ".join(differing))
    if worst > 0 or any((cached_out / n).read_bytes() != (new_out / n).read_bytes() for n in spec.outputs):
        return Verdict(spec.name, "within-tolerance", f"JSON within {spec.tolerance:g} (max {worst:.3g}); "
                                                      "other outputs byte-identical")
    return Verdict(spec.name, "identical")


def verify(request, figures: dict, echo=print) -> list[Verdict]:
    """Recompute the fresh figures of `request` (a build.BuildRequest: root, profile, wanted;
    all when none is wanted) among `figures`, and compare each with its cache entry."""
    root, profile, names = request.root, request.profile, list(request.wanted)
    cache = Cache(root)
    states = plan(root, figures, cache, profile)
    runner = Runner(root, figures, cache, profile, echo=lambda *_: None)
    verdicts = []
    for name in [n for n in states if n in closure(figures, names or figures)] if names else list(states):
        found = states[name]
        if found.state != "fresh":
            verdicts.append(Verdict(name, "not-fresh", f"{found.state}: run `ces build --profile {profile}` first"))
            echo(f"  {'not-fresh':<16} {name}")
            continue
        spec = figures[name]
        staging = cache.staging(f"verify-{name}")
        try:
            upstream = {n: states[n].entry for n in spec.needs}
            write_run(staging, runner.run_doc(spec, upstream))
            problem, _ = runner.execute(spec, staging)
            verdict = Verdict(name, "failed", problem) if problem else compare(spec, found.entry.path / "out",
                                                                               staging / "out")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        verdicts.append(verdict)
        echo(f"  {verdict.result:<16} {name}" + (f": {verdict.detail}" if verdict.detail else ""))
    bad = [v for v in verdicts if v.result in ("differs", "failed")]
    identical = sum(v.result == "identical" for v in verdicts)
    echo(f"{identical}/{len(verdicts)} figures bit-reproducible on this machine, "
         f"{sum(v.result == 'within-tolerance' for v in verdicts)} within tolerance, {len(bad)} differ or failed")
    failed = [v for v in verdicts if v.result == "failed"]
    if failed:   # a run that failed says why, not that numbers differ
        v = failed[0]
        raise VerifyError(f"{len(bad)} figure(s) not reproduced; {v.name} failed: {v.detail}",
                          tip=f"its log: cache/.logs/{v.name}.log; `ces build {v.name}` shows the same failure")
    if bad:
        raise VerifyError(f"{len(bad)} figure(s) not reproduced: " + ", ".join(v.name for v in bad),
                         tip="a figure must give the same numbers for the same seed and params; "
                             "declare FIGURE['tolerance'] for float noise")
    return verdicts
