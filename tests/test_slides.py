"""builder.slides.check, unit level: the figure references a deck makes, and the first problem
with file:line (each broken slide below against its working twin)."""

import pytest

from builder import figures, slides
from builder.errors import SlideError


@pytest.fixture
def parsed(deck):
    return deck, figures.discover(deck)


def write(deck, text):
    path = deck / "slides" / "x.qmd"
    path.write_text(text, encoding="utf-8")
    return [path]


def test_references_are_found_with_their_place(parsed):
    deck, figs = parsed
    refs = slides.check(write(deck, "## A\n\n![L](_figures/line/line.svg)\n"), deck, figs)
    assert [(r.figure, r.file, r.where) for r in refs] == [("line", "line.svg", "slides/x.qmd:3")]


@pytest.mark.parametrize("text, message", [
    ("## A\n\n![L](_figures/lines/line.svg)\n", "slides/x.qmd:3: no figure named 'lines'. Did you mean 'line'?"),
    ("## A\n\n![L](_figures/line/line.png)\n", "slides/x.qmd:3: figure 'line' has no output 'line.png'"),
    ("## A\n\n```{python}\n1\n```\n", "slides/x.qmd:3: executable code cells"),
    ("## A\n\nVoir @fig-line.\n", "slides/x.qmd:3: cross-reference @fig-line"),
    ("## A\n\n```\nx\n", "slides/x.qmd: a code block opened with ``` is never closed"),
])
def test_each_problem_is_one_line_with_its_place(parsed, text, message):
    deck, figs = parsed
    with pytest.raises(SlideError) as err:
        slides.check(write(deck, text), deck, figs)
    assert message in err.value.format_message()


def test_a_reference_inside_a_code_block_is_not_checked(parsed):
    deck, figs = parsed
    assert slides.check(write(deck, "## A\n\n```\n_figures/nope/x.svg\n```\n"), deck, figs) == []
