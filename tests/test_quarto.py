"""The Quarto path, with a stand-in `quarto` on PATH (tests/fixtures/quarto/quarto.py: what it
reproduces of Quarto, and where it guesses, is written there with references to Quarto's source).

A user with Quarto gets the same deck as with the embedded pandoc: at _site/index.html, every
file it references present (figures, an iframe's page, the JSON outputs), the declared alt text,
nothing left of the other renderer, Quarto's progress shown only on failure, our .gitignore
untouched, and a deck overwritten by hand re-rendered by the next build.
"""

from __future__ import annotations

import html as htmlmod
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

try:
    from tests import browser
    from tests.conftest import FIXTURES, ces
except ImportError:  # pragma: no cover - rootdir tests/ on sys.path
    import browser
    from conftest import FIXTURES, ces

STANDIN = FIXTURES / "quarto" / "quarto.py"
REPO = Path(__file__).resolve().parents[1]
IFRAME_SLIDE = """
## Une page

<iframe class="ces-live" data-src="_figures/line/page.html" title="La page de la figure" width="600" height="200"></iframe>
"""
_REF = re.compile(r'\s(?:src|data-src|href)="([^"#?]+)[^"]*"')


def standin_bin(where: Path) -> Path:
    """A directory holding an executable `quarto` that runs the stand-in with this Python."""
    bin_dir = where / "bin"
    bin_dir.mkdir(exist_ok=True)
    exe = bin_dir / "quarto"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STANDIN}" "$@"\n')
    exe.chmod(0o755)
    return bin_dir


def quarto_env(deck: Path, **extra) -> dict:
    path = f"{standin_bin(deck.parent)}{os.pathsep}{os.environ.get('PATH', '')}"
    pythonpath = os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(REPO)]))
    return {"PATH": path, "PYTHONPATH": pythonpath, **extra}


@pytest.fixture
def qdeck(deck):
    """The tiny deck with a second output (an HTML page shown in an iframe, as the talk's
    live canvas is) and the figure's JSON linked from nowhere."""
    line = deck / "figures" / "line.py"
    text = line.read_text().replace('"outputs": ["line.svg", "line.json"]', '"outputs": ["line.svg", "line.json", "page.html"]')
    line.write_text(text + 'run.out("page.html").write_text("<!doctype html><p>la page</p>\\n")\n')
    with open(deck / "slides" / "index.qmd", "a", encoding="utf-8") as f:
        f.write(IFRAME_SLIDE)
    return deck


def missing_references(site: Path) -> list[str]:
    """Every local file an HTML page of the site names (src, data-src, href) that is not there."""
    missing = []
    for page in sorted(site.rglob("*.html")):
        if "reveal.js" in page.parts or "libs" in page.parts:
            continue
        for ref in _REF.findall(page.read_text(encoding="utf-8")):
            ref = htmlmod.unescape(ref)
            if re.match(r"^([a-z]+:|/)", ref) or not ref:
                continue
            if not (page.parent / ref).exists():
                missing.append(f"{page.relative_to(site)} → {ref}")
    return missing


def site_files(site: Path) -> set[str]:
    """The site's files, hashed names made plain (two renders of one deck compare equal)."""
    return {re.sub(r"\.[0-9a-f]{8}(\.[^./]+)$", r"\1", p.relative_to(site).as_posix())
            for p in site.rglob("*") if p.is_file()}


def build(deck: Path, *args, renderer: str = "quarto", check: bool = True, **env):
    return ces(deck, "build", "--profile", "smoke", "--renderer", renderer, *args, check=check,
               env=quarto_env(deck, **env))


# -- one layout, every file ------------------------------------------------------------------
def test_the_quarto_deck_is_at_site_index_with_every_file_it_references(qdeck):
    out = build(qdeck)
    site = qdeck / "_site"
    assert "rendered with quarto" in out.stdout and "→ _site/index.html" in out.stdout
    index = (site / "index.html").read_text(encoding="utf-8")
    assert 'name="quarto-standin-theme"' in index, "not the stand-in's deck"
    assert not (site / "slides").exists(), "Quarto's slides/ layout was kept"
    assert missing_references(site) == []
    img = re.search(r"<img\b[^>]*>", index, re.S)[0]
    assert 'data-ces-figure="line"' in img and 'width="100"' in img and 'height="100"' in img  # ces' filter ran
    published = {p.name.split(".")[0] + "." + p.suffix[1:] for p in (site / "_figures" / "line").iterdir()}
    assert published == {"line.svg", "line.json", "page.html"}
    provenance = (site / "provenance.html").read_text(encoding="utf-8")
    for output in ("line.svg", "line.json", "page.html"):
        assert re.search(rf'<a href="_figures/line/{output.split(".")[0]}\.[0-9a-f]{{8}}\.{output.split(".")[1]}">', provenance), output


def test_missing_references_catches_a_missing_file(qdeck):
    build(qdeck)
    page = next((qdeck / "_site" / "_figures" / "line").glob("page.*.html"))
    page.unlink()  # what Quarto alone leaves: an iframe's data-src is no resource to it
    assert missing_references(qdeck / "_site") == [f"index.html → _figures/line/{page.name}",
                                                   f"provenance.html → _figures/line/{page.name}"]


def test_the_standin_alone_copies_only_what_quarto_copies(qdeck):
    """The stand-in (Quarto's rules) leaves the iframe page and the JSON out, keeps slides/, and
    never cleans its output dir: what ces has to make up for."""
    ces(qdeck, "build", "--profile", "smoke", "--renderer", "pandoc")  # materialises slides/_figures
    stale = qdeck / "_site" / "stale.txt"
    stale.write_text("left by someone")
    subprocess.run(["quarto", "render"], cwd=qdeck, env={**os.environ, **quarto_env(qdeck)}, check=True,
                   capture_output=True)
    figs = qdeck / "_site" / "slides" / "_figures" / "line"
    assert sorted(p.name for p in figs.iterdir()) == ["line.svg"]
    assert stale.exists()
    assert "Une droite qui monte" in (qdeck / "_site" / "slides" / "index.html").read_text()  # fig-alt is Quarto's own
    html = (qdeck / "_site" / "slides" / "index.html").read_text()
    assert "data-ces-figure" not in html, "ces' filter ran although nobody passed it"


def test_declared_alt_text_reaches_quarto(qdeck):
    qmd = qdeck / "slides" / "index.qmd"
    qmd.write_text(qmd.read_text().replace('![Une droite](_figures/line/line.svg){fig-alt="Une droite qui monte"}',
                                           "![Légende de la diapo](_figures/line/line.svg)"))
    build(qdeck)
    html = (qdeck / "_site" / "index.html").read_text(encoding="utf-8")
    imgs = re.findall(r"<img\b[^>]*>", html, re.S)
    assert imgs and all('alt="Une droite"' in i for i in imgs), imgs
    # Without ces' --metadata-file (as before), the same deck has no alt text: the check can fail.
    env = {**os.environ, **quarto_env(qdeck)}
    subprocess.run(["quarto", "render"], cwd=qdeck, env=env, check=True, capture_output=True)
    bare = re.findall(r"<img\b[^>]*>", (qdeck / "_site" / "slides" / "index.html").read_text(), re.S)
    assert bare and not any('alt="Une droite"' in i for i in bare), bare


@pytest.mark.parametrize("first, second", [("pandoc", "quarto"), ("quarto", "pandoc")])
def test_switching_renderer_leaves_nothing_of_the_other(qdeck, first, second):
    build(qdeck, renderer=second)
    alone = site_files(qdeck / "_site")
    shutil.rmtree(qdeck / "_site")
    build(qdeck, renderer=first)
    theirs = site_files(qdeck / "_site")
    out = build(qdeck, renderer=second)
    assert f"rendered with {second}" in out.stdout
    assert site_files(qdeck / "_site") == alone
    assert theirs != alone, "the two renderers' sites do not differ: this test would prove nothing"


def test_quarto_progress_is_shown_only_when_it_fails(qdeck):
    out = build(qdeck)
    assert "quarto render" not in out.stdout + out.stderr and "Output created" not in out.stdout
    (qdeck / "slides" / "index.qmd").write_text((qdeck / "slides" / "index.qmd").read_text() + "\nEncore.\n")
    failed = build(qdeck, check=False, QUARTO_STANDIN_FAIL="1")
    assert failed.returncode != 0
    assert "quarto render failed (exit 1)" in failed.stdout + failed.stderr
    assert "bad indentation of a mapping entry" in failed.stdout + failed.stderr
    assert "Traceback" not in failed.stdout + failed.stderr
    assert (qdeck / "_site" / "index.html").is_file(), "a failed render must keep the last good deck"


def test_our_gitignore_already_ignores_what_quarto_adds(qdeck):
    shutil.copy(REPO / ".gitignore", qdeck / ".gitignore")
    before = (qdeck / ".gitignore").read_text()
    build(qdeck)
    assert (qdeck / ".quarto").is_dir()
    assert (qdeck / ".gitignore").read_text() == before
    # The stand-in does append to a .gitignore that lacks the line (as Quarto does).
    (qdeck / ".gitignore").write_text("/_site/\n")
    shutil.rmtree(qdeck / "_site")
    build(qdeck)
    assert "/.quarto/" in (qdeck / ".gitignore").read_text()


# -- the look ----------------------------------------------------------------------------------
def test_quarto_only_options_make_the_same_deck(qdeck):
    qmd = qdeck / "slides" / "index.qmd"
    qmd.write_text(qmd.read_text() + "\n## Du code\n\n```python\nx = 1\n```\n")
    build(qdeck)
    html = (qdeck / "_site" / "index.html").read_text()
    assert "r-stretch" in html and "data-line-numbers" in html  # Quarto's defaults: what the options undo
    config = qdeck / "_quarto.yml"
    config.write_text(config.read_text() + "    auto-stretch: false\n    code-line-numbers: false\n")
    build(qdeck)
    html = (qdeck / "_site" / "index.html").read_text()
    assert "r-stretch" not in html and "data-line-numbers" not in html
    assert "reveal-white.scss" in re.search(r'name="quarto-standin-theme" content="([^"]*)"', html)[1]
    # Under pandoc the same options are accepted; their Quarto defaults are a clear error.
    assert "rendered with pandoc" in build(qdeck, renderer="pandoc").stdout
    config.write_text(config.read_text().replace("auto-stretch: false", "auto-stretch: true"))
    bad = build(qdeck, renderer="pandoc", check=False)
    assert bad.returncode != 0 and "_quarto.yml:" in bad.stdout + bad.stderr
    assert "auto-stretch: True is not supported by the pandoc renderer" in bad.stdout + bad.stderr


def test_the_project_config_sets_the_quarto_options():
    from builder import deck, pandoc, quarto

    the_deck = deck.load(REPO)
    fmt = the_deck.options
    assert fmt["auto-stretch"] is False and fmt["code-line-numbers"] is False
    assert fmt["theme"] in quarto.QUARTO_THEMES
    scss = (deck.TEMPLATES / quarto.QUARTO_THEMES[fmt["theme"]]).read_text()
    for var in ("$presentation-font-size-root: 42px", "$presentation-font-smaller: 0.75",
                "$presentation-heading-text-transform: uppercase", "$presentation-h2-font-size: 1.6em"):
        assert var in scss, var
    pandoc.Pandoc().check(the_deck)  # no error


# -- the stamp covers the output -----------------------------------------------------------------
def test_a_deck_overwritten_by_hand_is_rendered_again(qdeck):
    build(qdeck)
    assert "deck up to date" in build(qdeck).stdout
    index = qdeck / "_site" / "index.html"
    os.utime(index)  # touched, same content: still up to date
    assert "deck up to date" in build(qdeck).stdout
    subprocess.run(["quarto", "render"], cwd=qdeck, env={**os.environ, **quarto_env(qdeck)}, check=True,
                   capture_output=True)  # `quarto render` by hand: no figures, no provenance
    again = build(qdeck)
    assert "rendered with quarto" in again.stdout
    assert not (qdeck / "_site" / "slides").exists()
    index.write_text(index.read_text().replace("Petit exposé", "Exposé retouché"))
    assert "rendered with quarto" in build(qdeck).stdout
    assert "Petit exposé" in index.read_text()


# -- killed during rendering ---------------------------------------------------------------------
def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except OSError:
        return True


def _wait_for(path: Path, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file() and path.read_text().strip():
            return int(path.read_text())
        time.sleep(0.05)
    raise AssertionError(f"{path} never written")


@pytest.mark.parametrize("parent", ["ces build", "broken: a bare subprocess.Popen"])
def test_kill_9_during_rendering_leaves_no_renderer_behind(qdeck, tmp_path, parent):
    build(qdeck)
    before = (qdeck / "_site" / "index.html").read_text()
    qmd = qdeck / "slides" / "index.qmd"
    qmd.write_text(qmd.read_text() + "\n## Une nouvelle diapositive\n")
    pidfile = tmp_path / "renderer.pid"
    env = {**os.environ, **quarto_env(qdeck, QUARTO_STANDIN_PIDFILE=str(pidfile), QUARTO_STANDIN_DELAY="4")}
    if parent == "ces build":
        cmd = [sys.executable, "-m", "builder.cli", "build", "--profile", "smoke", "--renderer", "quarto"]
    else:  # the renderer started as ces started it before: nothing ties it to its parent
        cmd = [sys.executable, "-c", "import subprocess, sys; subprocess.Popen(['quarto', 'render']); "
                                     "import time; time.sleep(60)"]
    proc = subprocess.Popen(cmd, cwd=qdeck, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    renderer = _wait_for(pidfile)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 1.5  # PR_SET_PDEATHSIG is immediate; the renderer waits 4 s
    while _alive(renderer) and time.monotonic() < deadline:
        time.sleep(0.05)
    survived = _alive(renderer)
    if survived:
        os.kill(renderer, signal.SIGKILL)
    if parent == "ces build":
        assert not survived, "the renderer outlived ces build"
        time.sleep(3)  # past when it would have written
        assert (qdeck / "_site" / "index.html").read_text() == before
        assert not (qdeck / "_site" / "slides").exists()
        out = build(qdeck)
        assert "rendered with quarto" in out.stdout
        assert "Une nouvelle diapositive" in (qdeck / "_site" / "index.html").read_text()
    else:
        assert survived, "a bare child should outlive its killed parent: the check proves nothing"


# -- the same browser checks on both renderers' decks -----------------------------------------------
@pytest.mark.browser
@pytest.mark.parametrize("renderer", ["pandoc", "quarto"])
def test_both_decks_in_chromium(qdeck, renderer, tmp_path):
    build(qdeck, renderer=renderer)
    with browser.serve(qdeck / "_site") as base:
        report = browser.inspect_deck(base + "/index.html", screenshot_dir=tmp_path / "shots")
    assert report["ready"]
    assert report["titles"] == ["Petit exposé", "Une figure", "Des maths", "Une page"]
    assert report["images"] and all(i["loaded"] for i in report["images"]), report["images"]
    assert report["console_errors"] == [] and report["external_requests"] == []
    assert report["failed_requests"] == []
    pdf = ces(qdeck, "pdf", timeout=180)  # index.html?print-pdf is the deck itself, not a redirect
    assert "Wrote _site/deck.pdf: 4 pages" in pdf.stdout
    assert "deck up to date" in build(qdeck, renderer=renderer).stdout  # deck.pdf belongs in the site
