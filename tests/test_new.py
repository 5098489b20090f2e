"""`ces new`: a second talk, written from nothing into a temporary folder, in English, with no
reference to this one: it builds, passes `ces check`, prints and verifies; the figure skeleton
runs as written; docs/authoring.md runs as written. And the tool's dependencies are the tool's:
installing ces alone brings no torch, transformers, scipy, pandas or matplotlib."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import yaml

from conftest import CES, REPO, _missing, ces, ces_env, require_module, require_tool

HEAVY = ("torch", "transformers", "scipy", "pandas", "matplotlib", "numpy")
TALK_FILES = {".github/workflows/pages.yml", ".gitignore", "README.md", "_quarto.yml", "ces.yml",
              "figures/_style.py", "figures/monte_carlo.py", "pyproject.toml", "slides/deck.css",
              "slides/index.qmd", "tests/test_deck.py"}
# Words of this repository's own talk that a new talk must not carry.
THIS_TALK = ("Dé-codage", "Cerisara", "ChatGPT", "LORIA", "transformer", "llm.yml", "_gpt")


def files_of(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def talk(tmp_path):
    """A new English talk in tmp_path/talk."""
    ces(tmp_path, "new", "talk", "--lang", "en", "--title", "Darts and π", "--author", "Ada Lovelace")
    return tmp_path / "talk"


# -- ces new DIR --------------------------------------------------------------------------------

def test_a_new_talk_has_every_file(talk):
    assert files_of(talk) == TALK_FILES
    text = "\n".join((talk / f).read_text(encoding="utf-8") for f in TALK_FILES)
    assert not [w for w in THIS_TALK if w in text]
    assert not re.findall(r"__[A-Z][A-Z_]*[A-Z]__", text)  # every template token filled
    assert yaml.safe_load((talk / "_quarto.yml").read_text())["lang"] == "en"
    slides = (talk / "slides" / "index.qmd").read_text(encoding="utf-8")
    assert "## Darts and π {.title-slide}" in slides and "[Ada Lovelace]{.author}" in slides
    assert slides.count("::: notes") == 2 and "_figures/monte-carlo/monte-carlo.svg" in slides
    project = tomllib.loads((talk / "pyproject.toml").read_text())["project"]
    names = [re.split(r"[<>=@ \[]", d)[0] for d in project["dependencies"]]
    assert names == ["ces", "numpy", "matplotlib"]
    from builder import config
    from builder.figures import discover

    assert config.load(talk) == {"executor": "local"}
    figure = discover(talk)["monte-carlo"]
    assert figure.outputs == ["monte-carlo.svg", "monte-carlo.json"]
    assert figure.params("smoke")["darts"] < figure.params("quick")["darts"] < figure.params("full")["darts"]


def test_a_french_talk(tmp_path):
    ces(tmp_path, "new", "exposé", "--lang", "fr")
    talk = tmp_path / "exposé"
    assert yaml.safe_load((talk / "_quarto.yml").read_text())["lang"] == "fr"
    assert "DECIMAL_COMMA = True" in (talk / "figures" / "_style.py").read_text()
    slides = (talk / "slides" / "index.qmd").read_text(encoding="utf-8")
    assert "## Mon exposé {.title-slide}" in slides and "Notes de l’orateur\u00a0:" in slides
    assert '"caption": "Une estimation de π' in (talk / "figures" / "monte_carlo.py").read_text(encoding="utf-8")
    assert tomllib.loads((talk / "pyproject.toml").read_text())["project"]["name"] == "expose"


@pytest.mark.parametrize("case", ["missing", "empty", "a file in it", "a file"])
def test_only_a_new_or_empty_directory(tmp_path, case):
    dest = tmp_path / "dest"
    if case == "empty":
        dest.mkdir()
    elif case == "a file in it":
        dest.mkdir()
        (dest / "notes.txt").write_text("mine")
    elif case == "a file":
        dest.write_text("mine")
    before = files_of(tmp_path)
    proc = ces(tmp_path, "new", "dest", "--lang", "en", check=False)
    if case in ("missing", "empty"):
        assert proc.returncode == 0 and files_of(dest) == TALK_FILES, proc.stderr
    else:
        assert proc.returncode == 5 and proc.stderr.startswith("Error: dest") and "Traceback" not in proc.stderr
        assert len(proc.stderr.splitlines()) <= 2  # the line and its tip
        assert files_of(tmp_path) == before and sorted(tmp_path.iterdir()) == [dest]  # nothing written, no staging left


def test_a_title_on_two_lines_is_refused(tmp_path):
    proc = ces(tmp_path, "new", "t", "--title", "one\ntwo", check=False)
    assert proc.returncode == 5 and "--title" in proc.stderr and not (tmp_path / "t").exists()


@pytest.mark.parametrize("broken", [False, True])
def test_the_workflow_is_actionlint_clean(talk, broken):
    tool = require_tool("actionlint")
    flow = talk / ".github" / "workflows" / "pages.yml"
    if broken:
        flow.write_text(flow.read_text().replace("pages: write", "pages: writ"))
    proc = subprocess.run([tool, "-no-color", str(flow)], capture_output=True, text=True, timeout=60, check=False)
    assert (proc.returncode == 0 and not proc.stdout.strip()) == (not broken), proc.stdout + proc.stderr


def test_the_workflow_publishes_the_frozen_deck(talk):
    flow = yaml.safe_load((talk / ".github" / "workflows" / "pages.yml").read_text())
    runs = " ".join(s.get("run", "") for s in flow["jobs"]["build"]["steps"])
    assert "ces build --frozen" in runs and "pip install -e ." in runs
    uses = [s["uses"].split("@")[0] for job in flow["jobs"].values() for s in job["steps"] if "uses" in s]
    assert {"actions/upload-pages-artifact", "actions/deploy-pages"} <= set(uses)


def test_the_ces_requirement(tmp_path):
    env = {"CES_REQUIREMENT": "ces @ git+https://example.org/ces@v1"}
    ces(tmp_path, "new", "t", env=env)
    deps = tomllib.loads((tmp_path / "t" / "pyproject.toml").read_text())["project"]["dependencies"]
    assert deps[0] == "ces @ git+https://example.org/ces@v1"
    ces(tmp_path, "new", "u", env={"CES_REQUIREMENT": ""})
    deps = tomllib.loads((tmp_path / "u" / "pyproject.toml").read_text())["project"]["dependencies"]
    assert deps[0].startswith("ces @ ")  # this checkout: its git remote, or its path


# -- ces new figure NAME ------------------------------------------------------------------------

def test_new_figure_writes_the_skeleton(talk):
    proc = ces(talk, "new", "figure", "loss-curve")
    assert "figures/loss_curve.py" in proc.stdout and "_figures/loss-curve/loss-curve.svg" in proc.stdout
    from builder.figures import discover

    figure = discover(talk)["loss-curve"]
    assert figure.path == talk / "figures" / "loss_curve.py"
    assert 'from _style import' in figure.path.read_text() and "run = setup(FIGURE)" in figure.path.read_text()
    assert "fig, ax = canvas(" in figure.path.read_text()


@pytest.mark.parametrize("name, why", [("loss-curve", "already exists"), ("Loss Curve", "lower-case"),
                                       ("monte_carlo", "already exists"), ("darts", "a figure named 'darts'")])
def test_new_figure_refuses(talk, name, why):
    ces(talk, "new", "figure", "loss-curve")
    other = talk / "figures" / "other.py"  # a script whose figure is named darts
    other.write_text((talk / "figures" / "monte_carlo.py").read_text().replace('"name": "monte-carlo"', '"name": "darts"'))
    before = {p: p.read_bytes() for p in (talk / "figures").iterdir() if p.is_file()}
    proc = ces(talk, "new", "figure", name, check=False)
    assert proc.returncode == 5 and why in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert {p: p.read_bytes() for p in (talk / "figures").iterdir() if p.is_file()} == before


def test_new_figure_outside_a_talk(tmp_path):
    proc = ces(tmp_path, "new", "figure", "x", check=False)
    assert proc.returncode == 5 and "_quarto.yml" in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("broken", [False, True])
def test_the_skeleton_runs_as_written(talk, broken):
    """`python figures/NAME.py` alone (as the docstring says): the SVG and the JSON, same seed same
    numbers. Broken: a skeleton that writes an undeclared file fails."""
    ces(talk, "new", "figure", "darts-error")
    script = talk / "figures" / "darts_error.py"
    if broken:
        script.write_text(script.read_text().replace('run.savefig(fig, "darts-error.svg")',
                                                     'run.savefig(fig, "other.svg")'))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    runs = [subprocess.run([sys.executable, "figures/darts_error.py", "--profile", "smoke", "--out", f"out{i}"],
                           cwd=talk, capture_output=True, text=True, timeout=120, env=env, check=False)
            for i in (1, 2)]
    if broken:
        assert runs[0].returncode != 0 and "other.svg" in runs[0].stderr
        return
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr
    assert sorted(p.name for p in (talk / "out1").iterdir()) == ["darts-error.json", "darts-error.svg"]
    numbers = json.loads((talk / "out1" / "darts-error.json").read_text())
    assert numbers == json.loads((talk / "out2" / "darts-error.json").read_text())
    assert numbers["darts"] == 2000 and abs(numbers["estimate"] - 3.14159) < 0.2
    assert (talk / "out1" / "darts-error.svg").read_bytes() == (talk / "out2" / "darts-error.svg").read_bytes()


# -- a second talk, built, checked, printed and verified ----------------------------------------

SLIDE = """
## How fast does the error shrink?

![](_figures/darts-error/darts-error.svg)

::: notes
Another figure, from the skeleton.
:::
"""


@pytest.mark.browser
@pytest.mark.parametrize("broken", [False, True])
def test_a_second_talk(talk, broken):
    """The English talk, a figure added: built (both figures computed), `ces check` clean, printed,
    verified; a second build computes nothing. Broken: the author's name in small text on the title
    slide, which `ces check` finds."""
    ces(talk, "new", "figure", "darts-error")
    with open(talk / "slides" / "index.qmd", "a", encoding="utf-8") as f:
        f.write(SLIDE)
    if broken:
        css = talk / "slides" / "deck.css"
        css.write_text(css.read_text().replace(".author { font-size: 34px; }", ".author { font-size: 12px; }"))
    start = time.perf_counter()
    build = ces(talk, "build", env={"CES_NO_CHECK": "1"}, timeout=300)
    built = time.perf_counter() - start
    assert "ran      monte-carlo" in build.stdout and "ran      darts-error" in build.stdout, build.stdout
    check = ces(talk, "check", check=False, timeout=300)
    checked = time.perf_counter() - start - built
    print(f"second talk: build {built:.1f} s, check {checked:.1f} s")
    if broken:
        assert check.returncode == 7 and "slide 1" in check.stdout, check.stdout + check.stderr
        return
    assert check.returncode == 0 and "0 problems" in check.stdout, check.stdout + check.stderr
    again = ces(talk, "build", env={"CES_NO_CHECK": "1"})
    assert "0 ran" in again.stdout and "ran      " not in again.stdout, again.stdout
    pdf = ces(talk, "pdf", timeout=300)
    assert "3 pages" in pdf.stdout, pdf.stdout
    pypdf = require_module("pypdf")
    pages = pypdf.PdfReader(talk / "_site" / "deck.pdf").pages
    assert len(pages) == 3 and "Darts and π" in pages[0].extract_text()
    verify = ces(talk, "verify", timeout=300)
    assert "monte-carlo" in verify.stdout and "darts-error" in verify.stdout, verify.stdout
    status = ces(talk, "status", "--frozen")
    assert "2 figures (2 fresh)" in status.stdout, status.stdout
    html = (talk / "_site" / "index.html").read_text(encoding="utf-8")
    assert not [w for w in THIS_TALK if w in html]


def copy_of_ces(dest: Path) -> Path:
    """What ces's wheel is built from (builder/, pyproject.toml, README.md), copied: a pip install
    from it leaves no build/ in this checkout."""
    shutil.copytree(REPO / "builder", dest / "builder", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, dest / name)
    return dest


# -- docs/authoring.md, run as written ----------------------------------------------------------

GUIDE = REPO / "docs" / "authoring.md"


def guide_commands(text: str) -> list[str]:
    """The contents of the guide's ```bash blocks, in order."""
    return re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M)


def test_the_guide_names_every_step():
    text = GUIDE.read_text(encoding="utf-8")
    script = "\n".join(guide_commands(text))
    for command in ("ces new my-talk", "pip install -e .", "git init", "ces build\n", "ces status", "ces preview",
                    "ces new figure", "--profile smoke", "ces check", "ces verify", "python -m pytest", "git add -A",
                    "ces build --frozen", "ces pdf"):
        assert command in script, command
    assert "GitHub Actions" in text and "git push" in text  # Pages: what the test cannot run


@pytest.mark.browser
def test_the_authoring_guide_runs(tmp_path):
    """Every ```bash block of docs/authoring.md, in order, in one shell with `set -e`, in a venv
    where `pip install -e .` installs the talk and, from its pyproject.toml, this checkout of ces
    (the venv sees this machine's packages, so nothing is downloaded but the build backend).
    `ces preview` (it serves until stopped) gets SIGINT once it serves."""
    require_tool("chromium")
    source = copy_of_ces(tmp_path / "src")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120)
    # The guide's premise, "ces installed": this checkout, in the venv.
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps",
                    str(source)], check=True, timeout=600, capture_output=True)
    script = "\n".join(guide_commands(GUIDE.read_text(encoding="utf-8")))
    assert script.count("ces preview --port 0\n") == 1
    script = script.replace("ces preview --port 0\n", "preview_briefly\n")
    prelude = r"""set -euo pipefail
preview_briefly() {  # ces preview until it serves, then Ctrl-C (set -m: else a background job ignores SIGINT)
  set -m; ces preview --port 0 > preview.log 2>&1 & local pid=$!; set +m
  for _ in $(seq 240); do grep -q "Preview on http" preview.log && break; sleep 0.5; done
  kill -INT $pid; wait $pid; cat preview.log; grep -q "Preview on http" preview.log
}
"""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update({"PATH": f"{venv / 'bin'}{os.pathsep}{env['PATH']}", "CES_REQUIREMENT": f"ces @ {source.as_uri()}",
                "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
                "GIT_COMMITTER_EMAIL": "t@example.org", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                "CES_NO_CHECK": "1"})  # `ces build`'s own check: the guide runs `ces check` itself
    start = time.perf_counter()
    proc = subprocess.run(["bash", "-c", prelude + script + "\npython -c 'import builder; print(builder.__file__)'"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=1800, env=env, check=False)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0 and re.search(r"(Could not find a version|No matching distribution|Network is unreachable)", out):
        _missing(f"pip could not fetch the build backend: {out[-300:]}")
    assert proc.returncode == 0, out[-4000:]
    print(f"docs/authoring.md ran in {time.perf_counter() - start:.0f} s")
    talk = tmp_path / "my-talk"
    assert str(venv) in proc.stdout.splitlines()[-1]  # the guide's pip install put ces in the venv
    assert (talk / "_site" / "deck.pdf").is_file() and (talk / "notes.pdf").is_file()
    assert "0 problems" in out and "Stopping the preview" in out
    committed = subprocess.run(["git", "ls-files", "cache"], cwd=talk, capture_output=True, text=True).stdout
    assert "cache/monte-carlo/" in committed and "cache/darts-error/" in committed
    assert subprocess.run(["git", "status", "--porcelain", "--", "cache"], cwd=talk, capture_output=True,
                          text=True).stdout == ""


# -- the tool's dependencies are the tool's ------------------------------------------------------

def _names(requirements) -> set[str]:
    return {re.split(r"[<>=!~\[;@ ]", r)[0].lower().replace("_", "-") for r in requirements}


PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


@pytest.mark.parametrize("broken", [None, "torch in the base", "numpy out of the talk"])
def test_the_base_dependencies_are_the_tools(broken):
    """ces alone needs none of the figure stack; the `talk` extra (README's first command) brings
    every third-party package that a committed cache entry records as imported by its figure."""
    base, talk = list(PROJECT["dependencies"]), list(PROJECT["optional-dependencies"]["talk"])
    if broken == "torch in the base":
        base.append("torch>=2")
    elif broken == "numpy out of the talk":
        talk = [r for r in talk if not r.startswith("numpy")]
    recorded = set()
    for manifest in (REPO / "cache").glob("*/*/manifest.json"):
        recorded |= _names(json.loads(manifest.read_text()).get("packages", {}))
    assert recorded  # the committed cache records them
    ok = not _names(base) & set(HEAVY) and recorded <= _names(base) | _names(talk)
    assert ok == (broken is None), (base, talk, recorded)


def heavy_imports(code: str) -> set[str]:
    """The HEAVY packages that `python -X importtime -c CODE` loads (from this checkout)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                          timeout=120, env=ces_env(), check=True)
    loaded = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    return loaded & set(HEAVY)


@pytest.mark.parametrize("broken", [False, True])
def test_the_command_line_imports_no_figure_package(broken):
    code = "import builder.cli, builder.new, builder.build" + (", numpy" if broken else "")
    assert heavy_imports(code) == ({"numpy"} if broken else set())


def test_ces_new_imports_no_figure_package(tmp_path):
    proc = subprocess.run([sys.executable, "-X", "importtime", *CES[1:], "new", "t"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, env=ces_env(), check=True)
    loaded = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    assert "builder" in loaded and not loaded & set(HEAVY)


@pytest.mark.slow
def test_the_tool_alone_installs_in_a_bare_venv(tmp_path):
    """`pip install` of ces (a copy of what the wheel is built from) into a venv that sees none of
    this machine's packages: no torch, transformers, scipy, pandas, matplotlib or numpy comes
    with it, `ces --help` works, and `ces new` finds its templates in the installed package."""
    source = copy_of_ces(tmp_path / "src")
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    start = time.perf_counter()
    proc = subprocess.run([python, "-m", "pip", "install", "-q", "-c", str(REPO / "constraints.txt"), str(source)],
                          capture_output=True, text=True, timeout=900, env=env, check=False)
    took = time.perf_counter() - start
    if proc.returncode != 0 and re.search(r"(Could not find a version|No matching distribution|Network is unreachable|"
                                          r"Failed to establish)", proc.stdout + proc.stderr):
        _missing(f"pip could not reach a package index: {proc.stderr[-300:]}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    print(f"pip install of ces alone into a bare venv: {took:.0f} s")
    listed = json.loads(subprocess.run([python, "-m", "pip", "list", "--format", "json"], capture_output=True,
                                       text=True, env=env, check=True).stdout)
    installed = {p["name"].lower() for p in listed}
    assert "ces" in installed and "click" in installed and not installed & set(HEAVY), sorted(installed)
    assert subprocess.run([str(venv / "bin" / "ces"), "--help"], capture_output=True, env=env).returncode == 0
    made = subprocess.run([str(venv / "bin" / "ces"), "new", "t", "--lang", "en"], cwd=tmp_path, capture_output=True,
                          text=True, env=env, check=False)
    assert made.returncode == 0 and files_of(tmp_path / "t") == TALK_FILES, made.stdout + made.stderr
    probe = subprocess.run([python, "-c", "import builder; print(builder.__file__)"], capture_output=True, text=True,
                           env=env, check=True, cwd=tmp_path)
    assert str(venv) in probe.stdout
