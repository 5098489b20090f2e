"""Bad _quarto.yml fields (issue #12): each is one line `Error: _quarto.yml:LINE: field: expected …`
(a Tip line allowed), exit code CONFIG, no traceback, nothing written to cache/ or _site/; the
fixture's own _quarto.yml is the twin that builds. Before _quarto.yml was checked (builder.deck), 12 of
these cases ended in a traceback (format-a-string, project-a-number, revealjs-a-list,
css-a-number, render-outside-path, not-utf8, render-not-a-path, math-method-a-number,
theme-a-list, the two NUL cases, nested-too-deeply), render-a-string read the string as the
files s, l, i, …, and most others built a broken deck with exit 0, css-outside-project
publishing a file from outside the project (/etc/passwd became _site/passwd)."""

import json
import re

import pytest

from builder.errors import ExitCode
from conftest import ces

CONFIG = "_quarto.yml"
# The fixture's _quarto.yml, by line: 1 project: · 3 output-dir · 4 render: · 5 - slides/index.qmd
# · 6 lang · 7 format: · 8 revealjs: · 9 theme · 10 slide-number · 11 html-math-method · 12 css


def edit(old, new):
    def mutate(root):
        text = (root / CONFIG).read_text()
        assert old in text, old
        (root / CONFIG).write_text(text.replace(old, new))
    return mutate


def write(data):
    return lambda root: (root / CONFIG).write_bytes(data if isinstance(data, bytes) else data.encode())


def after_theme(line):
    return edit("    theme: white\n", f"    theme: white\n    {line}\n")


def format_is(text):
    """The whole `format:` block (the file's end) replaced by `text`."""
    def mutate(root):
        head = (root / CONFIG).read_text().split("format:")[0]
        (root / CONFIG).write_text(head + text)
    return mutate


def outside(name):
    """A file beside the deck (outside the project), created; its absolute path."""
    def make(root):
        path = root.parent / name
        path.write_text("body { color: red }\n")
        return path
    return make


def css_link_outside(root):
    (root / "slides" / "deck.css").unlink()
    (root / "slides" / "deck.css").symlink_to(outside("secret.css")(root))


def render_other(root):
    (root / "other.qmd").write_text("## Autre\n")
    edit("- slides/index.qmd", "- other.qmd")(root)


PROJECT = "project:\n  type: default\n  output-dir: _site\n  render:\n    - slides/index.qmd\n"
FORMAT = "format:\n  revealjs:\n"

# case -> (mutation of the fixture deck, the start of the one Error line); None: the valid twin
CASES = {
    "valid": (lambda root: None, None),
    "format-a-string": (format_is("format: revealjs\n"),
                        "_quarto.yml:7: format: expected a mapping with the deck's `revealjs:` options"),
    "project-a-number": (edit(PROJECT, "project: 5\n"), "_quarto.yml:1: project: expected a mapping"),
    "revealjs-a-list": (format_is("format:\n  revealjs: [1, 2]\n"),
                        "_quarto.yml:8: format.revealjs: expected a mapping of Reveal.js options"),
    "css-a-number": (edit("css: deck.css", "css: 5"), "_quarto.yml:12: format.revealjs.css: expected a CSS file"),
    "render-outside-path": (lambda r: edit("- slides/index.qmd", f"- {outside('outside.qmd')(r)}")(r),
                            "_quarto.yml:5: project.render: expected a path inside slides/"),
    "render-a-string": (edit("  render:\n    - slides/index.qmd", "  render: slides/index.qmd"),
                        "_quarto.yml:4: project.render: expected a list of slide files, e.g. [slides/index.qmd], "
                        "not 'slides/index.qmd'"),
    "not-utf8": (lambda r: write((r / CONFIG).read_bytes() + "# café\n".encode("latin-1"))(r),
                 "_quarto.yml:13: not UTF-8 (byte 0xe9): expected UTF-8 text"),
    "not-a-mapping": (write("- a\n- b\n"), "_quarto.yml:1: expected a mapping at the top level, not list"),
    "empty": (write(""), "_quarto.yml:1: format: expected a mapping with the deck's `revealjs:` options"),
    "theme-a-number": (edit("theme: white", "theme: 5"), "_quarto.yml:9: format.revealjs.theme: expected a theme name"),
    "width-a-word": (after_theme('width: "wide"'), "_quarto.yml:10: format.revealjs.width: expected a number of pixels"),
    # found while trying the above
    "css-outside-project": (lambda r: edit("css: deck.css", f"css: {outside('secret.css')(r)}")(r),
                            "_quarto.yml:12: format.revealjs.css: expected CSS files inside the project"),
    "css-up-and-out": (lambda r: (outside("secret.css")(r), edit("css: deck.css", "css: ../../secret.css")(r)),
                       "_quarto.yml:12: format.revealjs.css: expected CSS files inside the project"),
    "css-a-link-outside": (css_link_outside, "_quarto.yml:12: format.revealjs.css: expected CSS files inside the project"),
    "render-outside-slides": (render_other, "_quarto.yml:5: project.render: expected a path inside slides/"),
    "render-not-a-path": (edit("- slides/index.qmd", "- 5"), "_quarto.yml:5: project.render: expected the path of a .qmd file"),
    "render-not-a-slide-file": (edit("- slides/index.qmd", "- slides/deck.css"), "_quarto.yml:5: project.render: expected a .qmd or .md file"),
    "output-dir-elsewhere": (edit("output-dir: _site", "output-dir: docs"), "_quarto.yml:3: project.output-dir: expected _site"),
    "lang-a-number": (edit("lang: fr", "lang: 5"), "_quarto.yml:6: lang: expected a language tag"),
    "a-second-format": (edit(FORMAT, "format:\n  html: {}\n  revealjs:\n"), "_quarto.yml:8: format: expected revealjs only"),
    "transition-unknown": (after_theme("transition: sideways"), "_quarto.yml:10: format.revealjs.transition: expected one of none"),
    "slide-level-a-word": (after_theme("slide-level: deux"), "_quarto.yml:10: format.revealjs.slide-level: expected an integer"),
    "margin-a-word": (after_theme("margin: big"), "_quarto.yml:10: format.revealjs.margin: expected a number ≥ 0"),
    "slide-number-a-number": (edit("slide-number: true", "slide-number: 5"),
                              "_quarto.yml:10: format.revealjs.slide-number: expected true, false, 'h.v'"),
    "math-method-a-number": (edit("html-math-method: mathml", "html-math-method: 5"),
                             "_quarto.yml:11: format.revealjs.html-math-method: expected a method"),
    "theme-a-list": (edit("theme: white", "theme: [white, custom.scss]"),
                     "_quarto.yml:9: format.revealjs.theme: expected a theme of Reveal.js 5.2.1"),
    "theme-unknown": (edit("theme: white", "theme: whyte"), "_quarto.yml:9: format.revealjs.theme: expected a theme of Reveal.js"),
    "lang-with-a-nul": (edit("lang: fr", 'lang: "f\\0r"'), "_quarto.yml:6: lang: expected a language tag"),
    "theme-with-a-nul": (edit("theme: white", 'theme: "wh\\0ite"'), "_quarto.yml:9: format.revealjs.theme: expected a theme name"),
    "nested-too-deeply": (lambda r: write((r / CONFIG).read_text() + "x: " + "[" * 200_000 + "\n")(r),
                          "_quarto.yml:1: invalid YAML: nested too deeply"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_quarto_yml_field_is_one_line_naming_it(deck, case):
    mutate, expected = CASES[case]
    mutate(deck)
    out = ces(deck, "build", "--profile", "smoke", "--renderer", "pandoc", check=False)
    assert "Traceback" not in out.stdout + out.stderr, out.stderr
    if expected is None:  # the twin: the fixture's own configuration builds
        assert out.returncode == 0, out.stderr
        assert "rendered with pandoc" in out.stdout and (deck / "_site" / "index.html").is_file()
        return
    lines = out.stderr.splitlines()
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1 and errors[0].startswith(f"Error: {expected}"), out.stderr
    assert re.match(rf"Error: {re.escape(CONFIG)}:\d+: ", errors[0])
    assert len(lines) <= 2 and all(line.startswith(("Error: ", "Tip: ")) for line in lines), out.stderr
    assert out.returncode == ExitCode.CONFIG, out.stderr
    assert not (deck / "cache").exists() and not (deck / "_site").exists()


def test_a_site_manifest_nested_too_deeply_means_render_again(deck):
    """_site/.ces-site.json of 200 000 `[` (a RecursionError, every build failing, before)."""
    ces(deck, "build", "--profile", "smoke", "--renderer", "pandoc")
    manifest = deck / "_site" / ".ces-site.json"
    assert json.loads(manifest.read_text())["files"]
    manifest.write_text("[" * 200_000)
    out = ces(deck, "build", "--profile", "smoke", "--renderer", "pandoc")
    assert "rendered with pandoc" in out.stdout and "Traceback" not in out.stderr
    assert json.loads(manifest.read_text())["files"]
