"""The small API a figure script imports. It owns every path a script writes to.

A figure script (see README, "Writing a figure") looks like:

    FIGURE = {"name": "derivable", "caption": "...", "alt": "...",
              "outputs": ["loss.svg", "numbers.json"], "needs": [], "gpu": False,
              "seed": 0, "params": {"steps": 500}, "profiles": {"smoke": {"steps": 20}}}

    from builder.script import setup
    run = setup(FIGURE)
    steps = run.params["steps"]
    ...
    run.savefig(fig, "loss.svg")
    run.save_json("numbers.json", {...})

Under `ces build` the harness passes the run through the CES_RUN environment
variable; run alone (`python figures/derivable.py`, the profile ces uses by default, quick;
`--profile smoke` for seconds) it writes into `_scratch/<name>/`. `name` defaults to the file's
stem with `_` -> `-`. This module imports neither torch nor matplotlib.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path
from types import MappingProxyType

from .profiles import DEFAULT, PROFILES, figure_name, params_of

RUN_ENV = "CES_RUN"

#: The figure run of this process, for the harness to read back (device used).
current: "Figure | None" = None


class Figure:
    """One run of one figure script: its profile, params, seed and directories."""

    def __init__(self, name: str, decl: dict, profile: str, outdir: Path, upstream: dict[str, Path], params: dict):
        self.name = name
        self.decl = decl
        self.profile = profile
        self.params = MappingProxyType(dict(params))
        self.seed = decl.get("seed", 0)
        self.outdir = outdir
        self._upstream = upstream
        self.device_used = "cpu"

    # -- where to read and write -------------------------------------------------
    def out(self, filename: str) -> Path:
        """Path of a declared output; writing anything else is an error."""
        if filename not in self.decl["outputs"]:
            raise ValueError(
                f"figure {self.name!r}: {filename!r} is not in FIGURE['outputs'] "
                f"({', '.join(self.decl['outputs'])}); declare it first"
            )
        return self.outdir / filename

    def upstream(self, figure: str, filename: str) -> Path:
        """Path of an output of a figure named in FIGURE['needs']."""
        if figure not in self.decl.get("needs", []):
            raise ValueError(f"figure {self.name!r} reads {figure!r}, which is not in FIGURE['needs']")
        if figure not in self._upstream:
            raise FileNotFoundError(
                f"outputs of {figure!r} are not available; run `ces build` first"
            )
        return self._upstream[figure] / filename

    # -- determinism and hardware -----------------------------------------------
    def seed_everything(self) -> int:
        """Seed random, numpy and torch (those already imported) with FIGURE['seed']."""
        random.seed(self.seed)
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed(self.seed)
        if "torch" in sys.modules:
            sys.modules["torch"].manual_seed(self.seed)
        return self.seed

    def device(self) -> str:
        """'cuda' when torch sees a GPU (and CES_DEVICE does not say 'cpu'), else 'cpu'."""
        wanted = os.environ.get("CES_DEVICE", "auto")
        if wanted == "cpu":
            self.device_used = "cpu"
        else:
            import torch  # only scripts that ask for a device pay for torch

            self.device_used = "cuda" if torch.cuda.is_available() else "cpu"
            if self.device_used == "cuda":  # recorded in the manifest, e.g. "cuda (NVIDIA H100)"
                self.device_used = f"cuda ({torch.cuda.get_device_name(0)})"
                return "cuda"
        return self.device_used

    # -- saving -----------------------------------------------------------------
    def save_json(self, filename: str, data) -> Path:
        """Write the numbers behind a plot; numpy/torch scalars and arrays become lists."""
        path = self.out(filename)
        try:
            text = json.dumps(data, indent=1, sort_keys=True, allow_nan=False, default=_plain)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"figure {self.name!r}: {filename} is not JSON-serialisable: {exc}") from None
        path.write_text(text + "\n", encoding="utf-8")
        return path

    def savefig(self, figure, filename: str, **kwargs) -> Path:
        """Save a matplotlib figure reproducibly: no date, fixed SVG ids, fixed PNG metadata."""
        import matplotlib

        path = self.out(filename)
        matplotlib.rcParams["svg.hashsalt"] = self.name
        metadata = {"Date": None} if filename.endswith((".svg", ".pdf")) else {"Software": None}
        figure.savefig(path, metadata=metadata, **kwargs)
        return path


def _plain(value):
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} value {value!r}")


def setup(decl: dict) -> Figure:
    """Return the run of this script: from CES_RUN under ces, from argv when run alone."""
    global current
    spec_path = os.environ.get(RUN_ENV)
    if spec_path:
        spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
        profile = spec["profile"]
        # Merged and validated by ces: the params that are keyed (a hand-written run file may omit them).
        params = spec["params"] if "params" in spec else params_of(decl, profile)
        outdir = Path(spec["outdir"])
        upstream = {name: Path(p) for name, p in spec["upstream"].items()}
        name = decl.get("name") or figure_name(spec["script"])
    else:
        name = decl.get("name") or figure_name(sys.argv[0])
        parser = argparse.ArgumentParser(description=f"figure {name!r}, run outside ces (as `ces build` would)")
        parser.add_argument("--profile", choices=PROFILES, default=DEFAULT, help=f"default: {DEFAULT}, as ces")
        parser.add_argument("--out", type=Path, default=Path("_scratch") / name)
        args = parser.parse_args()
        profile, outdir = args.profile, args.out
        params = params_of(decl, profile)
        outdir.mkdir(parents=True, exist_ok=True)
        # Alone, upstream outputs come from where ces materialises them for the slides.
        root = Path(__file__).resolve().parent.parent
        upstream = {n: root / "slides" / "_figures" / n for n in decl.get("needs", [])}
    current = Figure(name, decl, profile, outdir, upstream, params)
    current.seed_everything()
    return current
