"""Generate a deck of N trivial figures, for the benchmarks and tests/test_incremental.py.

    f000 → f001 → f002     a chain (each reads the JSON of the one before), when chain=True
    f003 … f<N-1>          independent

Each figure writes one JSON in a few lines (no numpy, no matplotlib: what is measured is ces'
bookkeeping, not the figures); one slide links each figure's JSON.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

CONFIG = """\
project:
  type: default
  output-dir: _site
  render:
    - slides/index.qmd
lang: fr
format:
  revealjs:
    theme: white
    slide-number: true
    html-math-method: mathml
"""

FIGURE = '''\
"""Generated figure {i} of {n}."""

FIGURE = {{
    "name": "{name}",
    "caption": "Figure {i}",
    "alt": "Figure {i}",
    "outputs": ["{name}.json"],
    "needs": {needs!r},
    "seed": 0,
    "params": {{"k": {i}}},
}}

from builder.script import setup

run = setup(FIGURE)
up = [run.upstream(n, n + ".json").read_text() for n in FIGURE["needs"]]
run.save_json("{name}.json", {{"k": run.params["k"], "upstream": len(up)}})
'''


def name(i: int) -> str:
    return f"f{i:03d}"


def generate(root: Path, n: int, chain: bool = True) -> list[str]:
    """Write the deck into root (created); returns the figure names."""
    (root / "figures").mkdir(parents=True, exist_ok=True)
    (root / "slides").mkdir(exist_ok=True)
    (root / "_quarto.yml").write_text(CONFIG)
    names = [name(i) for i in range(n)]
    for i, fig in enumerate(names):
        needs = [name(i - 1)] if chain and 0 < i < 3 else []
        (root / "figures" / f"{fig}.py").write_text(FIGURE.format(i=i, n=n, name=fig, needs=needs))
    slides = ['---\ntitle: "Banc d\'essai"\nauthor: "ces"\n---\n']
    for fig in names:
        slides.append(textwrap.dedent(f"""
            ## Figure {fig}

            [Les nombres de {fig}](_figures/{fig}/{fig}.json)
        """))
    (root / "slides" / "index.qmd").write_text("".join(slides))
    return names
