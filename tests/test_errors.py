"""Bad input: one clear line (what, where, what to do), exit code != 0, never a traceback."""

import textwrap

import pytest

from builder.errors import ExitCode

GOOD = '''FIGURE = {"name": "x", "caption": "c", "alt": "a", "outputs": ["x.json"],
          "params": {}}
'''


def write(root, rel, text, mode="w"):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(textwrap.dedent(text))


CASES = {
    "figure-syntax-error": (lambda r: write(r, "figures/x.py", "FIGURE = {\n  'name': 'x',\n  oops(\n"),
                            "figures/x.py:3: syntax error"),
    "figure-not-literal": (lambda r: write(r, "figures/x.py", "N = 3\nFIGURE = {'name': str(N)}\n"),
                           "figures/x.py:2: FIGURE must be a plain literal"),
    "figure-unknown-key": (lambda r: write(r, "figures/x.py", GOOD.replace('"alt"', '"alt": "", "ouputs"')),
                           "unknown key 'ouputs' in FIGURE. Did you mean 'outputs'?"),
    "figure-missing-key": (lambda r: write(r, "figures/x.py", GOOD.replace('"caption": "c", ', "")),
                           "figures/x.py:1: FIGURE has no 'caption'"),
    "figure-bad-name": (lambda r: write(r, "figures/x.py", GOOD.replace('"x"', '"Bad Name"')),
                        "figure name 'Bad Name' must match"),
    "figure-duplicate-name": (lambda r: write(r, "figures/y.py", GOOD.replace('"x"', '"line"')),
                              "figure name 'line' is already used by figures/line.py"),
    "figure-unknown-profile": (lambda r: write(r, "figures/x.py", GOOD.replace('"params": {}', '"params": {}, "profiles": {"quik": {}}')),
                               "unknown profile 'quik'. Did you mean 'quick'?"),
    "figure-no-params": (lambda r: write(r, "figures/x.py", GOOD.replace('"params": {}', '"profiles": {"smoke": {}}')),
                         "figures/x.py:1: FIGURE has no 'params'"),
    "figure-unknown-need": (lambda r: write(r, "figures/x.py", GOOD.replace('"outputs"', '"needs": ["lines"], "outputs"')),
                            "needs unknown figure 'lines'. Did you mean 'line'?"),
    "figure-cycle": (lambda r: (write(r, "figures/x.py", GOOD.replace('"outputs"', '"needs": ["y"], "outputs"')),
                                write(r, "figures/y.py", GOOD.replace('"x"', '"y"').replace('"outputs"', '"needs": ["x"], "outputs"'))),
                     "figures depend on each other in a cycle"),
    "figure-bad-outputs": (lambda r: write(r, "figures/x.py", GOOD.replace('["x.json"]', '["../x.json"]')),
                           "'outputs' must be a non-empty list of plain file names"),
    "figure-not-utf8": (lambda r: write(r, "figures/x.py", GOOD.encode() + "# é\n".encode("latin-1")),
                        "figures/x.py:1: not UTF-8"),
    "slide-unknown-figure": (lambda r: write(r, "slides/index.qmd", (r / "slides/index.qmd").read_text().replace(
        "_figures/line/line.svg", "_figures/lines/line.svg")), "slides/index.qmd:8: no figure named 'lines'. Did you mean 'line'?"),
    "slide-unknown-output": (lambda r: write(r, "slides/index.qmd", (r / "slides/index.qmd").read_text().replace(
        "_figures/line/line.svg", "_figures/line/line.png")), "slides/index.qmd:8: figure 'line' has no output 'line.png'"),
    "slide-executable-cell": (lambda r: write(r, "slides/index.qmd", (r / "slides/index.qmd").read_text()
                                              + "\n```{python}\nprint(1)\n```\n"),
                              "executable code cells ({python}) are not supported"),
    "slide-shortcode": (lambda r: write(r, "slides/index.qmd", (r / "slides/index.qmd").read_text()
                                        + "\n{{< include other.qmd >}}\n"), "Quarto shortcode {{< include >}} is not supported"),
    "slide-crossref": (lambda r: write(r, "slides/index.qmd", (r / "slides/index.qmd").read_text() + "\nVoir @fig-line.\n"),
                       "cross-reference @fig-line is not supported"),
    "slide-unclosed-fence": (lambda r: write(r, "slides/index.qmd", (r / "slides/index.qmd").read_text() + "\n```python\nx = 1\n"),
                             "a code block opened with ``` is never closed"),
    "slide-not-utf8": (lambda r: write(r, "slides/index.qmd", "---\ntitle: x\n---\n\n## Caf\xe9\n".encode("latin-1")),
                       "slides/index.qmd:5: not UTF-8 (byte 0xe9)"),
    "config-bad-yaml": (lambda r: write(r, "_quarto.yml", "format:\n  revealjs:\n    theme: [white\n"),
                        "_quarto.yml:4: invalid YAML"),
    "config-unsupported-option": (lambda r: write(r, "_quarto.yml", (r / "_quarto.yml").read_text() + "    parallax-background-image: x.png\n"),
                                  "_quarto.yml:13: format option 'parallax-background-image' is not supported by the pandoc renderer"),
    "config-network-math": (lambda r: write(r, "_quarto.yml", (r / "_quarto.yml").read_text().replace("mathml", "mathjax")),
                            "html-math-method 'mathjax' needs network assets"),
    "config-missing-source": (lambda r: write(r, "_quarto.yml", (r / "_quarto.yml").read_text().replace("slides/index.qmd", "slides/deck.qmd")),
                              "project.render lists slides/deck.qmd, which does not exist"),
    "config-online-theme": (lambda r: write(r, "_quarto.yml", (r / "_quarto.yml").read_text().replace("theme: white", "theme: league")),
                            "theme 'league' loads its fonts from Google Fonts"),
    "config-missing-css": (lambda r: (r / "slides/deck.css").unlink(), "css file deck.css not found"),
    # issue #12: ces.yml and llm.yml (each a traceback before)
    "ces-yml-not-utf8": (lambda r: write(r, "ces.yml", "executor: local\n# caf\xe9\n".encode("latin-1")),
                         "ces.yml: not UTF-8"),
    "ces-yml-executor-number": (lambda r: write(r, "ces.yml", "executor: 5\n"), "ces.yml: executor: expected one of local, slurm"),
}

LLM_YML_CASES = {
    "defaults-number": ("defaults: 5\nqueries: {}\n", "llm.yml: defaults: expected a mapping of settings (backend:, model:, messages:, …), not 5"),
    "query-number": ("queries:\n  pot: 5\n", "llm.yml: queries.pot: expected a mapping (backend:, model:, revision:, temperature:, …), not 5"),
    "query-typo": ("queries:\n  pot: {backend: none, mesages: []}\n", "llm.yml: queries.pot.mesages: unknown key 'mesages'. Did you mean 'messages'?"),
    "backend-unknown": ("queries:\n  pot: {backend: gpt, messages: [{role: user, content: x}]}\n",
                        "llm.yml: queries.pot.backend: expected one of none, transformers, openai, not 'gpt'"),
    "not-utf8": ("queries: {}\n# caf\xe9\n".encode("latin-1"), "llm.yml: not UTF-8"),
}


@pytest.mark.parametrize("name", sorted(LLM_YML_CASES))
def test_bad_llm_yml_gives_one_clear_line(deck, run_ces, name):
    text, message = LLM_YML_CASES[name]
    write(deck, "llm.yml", text)
    out = run_ces(deck, "llm", "status", check=False)
    assert out.returncode == ExitCode.CONFIG and message in out.stderr, out.stderr
    assert "Traceback" not in out.stderr + out.stdout


NEW_FORM = '''FIGURE = {"name": "x", "caption": "c", "alt": "a", "outputs": ["x.json"],
          "params": {"n": 1}, "profiles": {"smoke": {"n": 0}}}
'''

# FIGURE fields of the wrong type or value (issue #12): each one line naming file, field and what
# was expected. On the code before this change each was a traceback or silently wrong.
FIGURE_CASES = {
    "timeout-not-a-dict": (GOOD.replace('"outputs"', '"timeout": 5, "outputs"'), "'timeout' must map profiles to seconds"),
    "timeout-negative": (GOOD.replace('"outputs"', '"timeout": {"smoke": -1}, "outputs"'),
                         "timeout of profile 'smoke' must be a positive number of seconds, not -1"),
    "timeout-unknown-profile": (GOOD.replace('"outputs"', '"timeout": {"quik": 5}, "outputs"'),
                                "'timeout' names unknown profile 'quik'. Did you mean 'quick'?"),
    "profile-not-a-dict": (GOOD.replace('"params": {}', '"params": {}, "profiles": {"smoke": "fast"}'),
                           "params of profile 'smoke' must be a dict"),
    "tolerance-not-a-number": (GOOD.replace('"outputs"', '"tolerance": "abc", "outputs"'),
                               "'tolerance' must be a number ≥ 0, not 'abc'"),
    "caption-not-a-string": (GOOD.replace('"caption": "c"', '"caption": 5'), "FIGURE 'caption' must be a non-empty string"),
    "param-is-a-set": (GOOD.replace('"params": {}', '"params": {"s": {1}}'),
                       "param 's' of profile 'smoke' must be a JSON value"),
    "param-is-bytes": (NEW_FORM.replace('{"n": 1}', '{"n": b"x"}').replace('{"n": 0}', '{"n": b"y"}'),
                       "param 'n' of profile 'smoke' must be a JSON value"),
    "memory-too-small": (GOOD.replace('"outputs"', '"memory_gb": 0.0001, "outputs"'), "'memory_gb' must be a number of GiB"),
    "outputs-a-string": (GOOD.replace('["x.json"]', '"xjson"'), "'outputs' must be a non-empty list of plain file names"),
    "output-with-a-space": (GOOD.replace('["x.json"]', '["my plot.svg"]'), "'outputs' must be a non-empty list of plain file names"),
    "figure-in-an-if-block": ("import os\nif True:\n    " + GOOD.replace("\n          ", " "),
                              "figures/x.py:3: FIGURE must be assigned at the top level"),
    "override-of-unknown-param": (NEW_FORM.replace('{"n": 0}', '{"m": 0}'), "profile 'smoke' sets 'm', which is not in 'params'"),
    "params-not-a-dict": (NEW_FORM.replace('{"n": 1}', '[1]'), "'params' must be a dict of params"),
    "gpu-not-a-bool": (GOOD.replace('"outputs"', '"gpu": "yes", "outputs"'), "'gpu' must be True or False"),
    # issue 23: names are directories of cache/ and slides/_figures/: reserved ones and long ones refused
    "name-reserved": (GOOD.replace('"x"', '"llm"', 1), "figure name 'llm' is reserved (cache/llm/ holds"),
    "name-300-characters": (GOOD.replace('"x"', '"' + "a" * 300 + '"', 1), "(300 characters) must match [a-z0-9-]+, at most 64"),
    "name-a-dot-file": (GOOD.replace('"x"', '".x"', 1), "figure name '.x' must match"),
    "seed-not-an-int": (GOOD.replace('"outputs"', '"seed": 1.5, "outputs"'), "'seed' must be an integer"),
}


@pytest.mark.parametrize("name", sorted(FIGURE_CASES))
def test_bad_figure_field_gives_one_clear_line(deck, run_ces, name):
    source, message = FIGURE_CASES[name]
    write(deck, "figures/x.py", source)
    out = run_ces(deck, "status", "--profile", "smoke", check=False)
    assert out.returncode == ExitCode.CONFIG, out.stdout + out.stderr
    assert message in out.stderr, out.stderr
    assert out.stderr.startswith("Error: figures/x.py:") and "Traceback" not in out.stderr + out.stdout


def test_new_form_figure_is_accepted(deck, run_ces):
    """The mutation-free twin of the cases above: base params plus one override is a figure."""
    write(deck, "figures/x.py", NEW_FORM + "from builder.script import setup\nrun = setup(FIGURE)\n"
                                           "run.save_json('x.json', dict(run.params))\n")
    out = run_ces(deck, "status", "--profile", "smoke")
    assert " x " in out.stdout


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_gives_one_clear_error(deck, run_ces, name):
    break_it, message = CASES[name]
    break_it(deck)
    out = run_ces(deck, "build", "--profile", "smoke", check=False)
    assert out.returncode != 0
    assert message in out.stderr, out.stderr
    assert out.stderr.startswith("Error: ")
    assert "Traceback" not in out.stderr + out.stdout
    assert not any((deck / "cache").glob("x/*")), "bad input must not leave a cache entry"


def test_unknown_renderer_and_profile_are_usage_errors(deck, run_ces):
    for args in (["--renderer", "latex"], ["--profile", "huge"]):
        out = run_ces(deck, "build", *args, check=False)
        assert out.returncode == 2 and "Invalid value" in out.stderr


def test_quarto_requested_but_missing(deck, run_ces):
    out = run_ces(deck, "build", "--profile", "smoke", "--renderer", "quarto", check=False,
                  env={"PATH": "/usr/bin:/bin"})
    assert out.returncode == 4 and "no `quarto` on PATH" in out.stderr


def test_old_quarto_is_refused(deck, run_ces, tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "quarto").write_text("#!/bin/sh\necho 1.2.475\n")
    (fake / "quarto").chmod(0o755)
    import os
    out = run_ces(deck, "build", "--profile", "smoke", check=False, env={"PATH": f"{fake}:{os.environ['PATH']}"})
    assert out.returncode == 4 and "Quarto 1.2.475 is older than 1.4.0" in out.stderr


def test_quarto_path_runs_quarto_render_and_surfaces_its_stderr(deck, run_ces, tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "quarto").write_text('#!/bin/sh\nif [ "$1" = "--version" ]; then echo 1.6.40; exit 0; fi\n'
                                 'echo "ERROR: YAMLException at slides/index.qmd" >&2; exit 1\n')
    (fake / "quarto").chmod(0o755)
    import os
    out = run_ces(deck, "build", "--profile", "smoke", check=False, env={"PATH": f"{fake}:{os.environ['PATH']}"})
    assert out.returncode == 4
    assert "quarto render failed (exit 1)" in out.stderr and "YAMLException at slides/index.qmd" in out.stderr


def test_missing_pandoc_is_a_clear_error(deck, run_ces, tmp_path):
    site = tmp_path / "nopandoc"
    site.mkdir()
    (site / "pypandoc.py").write_text("def get_pandoc_path():\n    raise OSError('no pandoc')\n")
    out = run_ces(deck, "build", "--profile", "smoke", "--renderer", "pandoc", check=False,
                  env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 4 and "pandoc not found" in out.stderr and "pypandoc-binary" in out.stderr


def test_paths_with_spaces_and_accents(tmp_path, run_ces):
    import shutil
    from conftest import FIXTURES
    root = tmp_path / "Présentations d'été" / "deck à moi"
    shutil.copytree(FIXTURES / "minideck", root)
    run_ces(root, "build", "--profile", "smoke")
    from builder.publish import published_path
    assert published_path(root / "_site", "line", "line.svg").is_file()


def test_outside_a_deck(tmp_path, run_ces):
    out = run_ces(tmp_path, "status", check=False)
    assert out.returncode == ExitCode.CONFIG and "no _quarto.yml" in out.stderr and "Tip:" in out.stderr


def test_old_pandoc_on_path_is_refused(deck, run_ces, tmp_path):
    site = tmp_path / "nopandoc"
    site.mkdir()
    (site / "pypandoc.py").write_text("")  # a pypandoc without its binary
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pandoc").write_text("#!/bin/sh\necho pandoc 2.9.2\n")
    (bin_dir / "pandoc").chmod(0o755)
    out = run_ces(deck, "build", "--profile", "smoke", "--renderer", "pandoc", check=False,
                  env={"PYTHONPATH": str(site), "PATH": f"{bin_dir}:/usr/bin:/bin"})
    assert out.returncode == 4 and "is pandoc 2.9.2, older than 3.1" in out.stderr
