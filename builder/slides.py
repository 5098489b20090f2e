"""Read the slides and check them before rendering.

Slides are written in the Quarto markdown subset that both renderers handle (README,
"Writing slides"). What the pandoc path cannot render is an error naming file and line
rather than silently wrong output. Figures are referenced as `_figures/<figure>/<file>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import SlideError
from .figures import did_you_mean

FENCE = re.compile(r"^\s*(`{3,}|~{3,})(.*)$")
EXECUTABLE_CELL = re.compile(r"^\s*\{\s*[A-Za-z]")       # ```{python}, ```{r}, ```{ojs}
SHORTCODE = re.compile(r"\{\{<\s*(\S+)")
CROSSREF = re.compile(r"(?<![\w@])@(fig|tbl|sec|eq|lst)-[\w-]+")
FIGURE_REF = re.compile(r"_figures/([^/\s)\"'{}]+)/([^\s)\"'{}]+)")


@dataclass(frozen=True)
class FigureRef:
    figure: str
    file: str
    where: str          # "slides/index.qmd:12"


def read_text(path: Path, root: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SlideError(f"{path.relative_to(root)}:{line}: not UTF-8 (byte 0x{data[exc.start]:02x})",
                         tip="save the file as UTF-8") from None


def check(paths: list[Path], root: Path, figures: dict) -> list[FigureRef]:
    """Every figure reference in the slides; raises SlideError on the first problem."""
    refs = []
    for path in paths:
        rel = path.relative_to(root)
        fence = None
        for number, line in enumerate(read_text(path, root).splitlines(), start=1):
            where = f"{rel}:{number}"
            m = FENCE.match(line)
            if m:
                if fence is None:
                    fence = m.group(1)[0] * 3
                    if EXECUTABLE_CELL.match(m.group(2)):
                        raise SlideError(f"{where}: executable code cells ({m.group(2).strip()}) are not supported",
                                         tip="compute in a script in figures/ and show its output with _figures/<figure>/<file>")
                elif m.group(1).startswith(fence) and not m.group(2).strip():
                    fence = None
                continue
            if fence is not None:
                continue
            if (sc := SHORTCODE.search(line)):
                raise SlideError(f"{where}: Quarto shortcode {{{{< {sc.group(1)} >}}}} is not supported by the pandoc renderer",
                                 tip="write plain markdown, or reference a figure with _figures/<figure>/<file>")
            if (xr := CROSSREF.search(line)):
                raise SlideError(f"{where}: cross-reference {xr.group(0)} is not supported by the pandoc renderer",
                                 tip="refer to the figure in words")
            for fm in FIGURE_REF.finditer(line):
                name, file = fm.groups()
                if name not in figures:
                    raise SlideError(f"{where}: no figure named {name!r}.{did_you_mean(name, figures)}",
                                     tip="figures are declared by FIGURE['name'] in figures/*.py (`ces status` lists them)")
                if file not in figures[name].outputs:
                    raise SlideError(f"{where}: figure {name!r} has no output {file!r}."
                                     f"{did_you_mean(file, figures[name].outputs)}",
                                     tip=f"its outputs are: {', '.join(figures[name].outputs)}")
                refs.append(FigureRef(name, file, where))
        if fence is not None:
            raise SlideError(f"{rel}: a code block opened with {fence} is never closed")
    return refs
