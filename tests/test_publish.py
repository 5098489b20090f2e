"""builder.publish: content-hashed figure names (and every reference rewritten), the
provenance page, the provenance link under each figure; all idempotent."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from builder import publish
from builder.cache import Entry
from builder.runner import Outcome

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="5" height="5"/></svg>\n'
ANSWER = {"prompt": "Qui es-tu ?", "source": "Rozière et al. 2023, arXiv 2308.12950",
          "answers": [{"model": "codellama-7b-instruct", "date": "2023-09-12", "source": "model",
                       "label": "Réponse de codeLlama", "text": "Je suis un modèle.", "usage": {"tokens": 9}},
                      {"model": None, "date": None, "source": "transcript",
                       "label": "Transcription de l’exposé (modèle non précisé)"}],
          "rows": [{"model": "GPT-3", "params": 175e9, "source": "Wei et al. 2022"}]}  # a table, not an answer

INDEX = """<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>Essai</title></head>
<body><div class="reveal"><div class="slides">
<section><figure>
<img data-src="_figures/derivable/derivable.svg" data-ces-figure="derivable"
alt="Une courbe" />
<figcaption>Une courbe</figcaption></figure></section>
<section><img src="_figures/derivable/derivable.svg" alt="sans attribut ces"></section>
<section><iframe srcdoc="&lt;img src=&quot;_figures/derivable/derivable.svg&quot;&gt;"></iframe>
<a href="_figures/llm/answer.json">les chiffres</a>
<img data-src="_figures/broken/broken.svg" data-ces-figure="broken" alt="en échec">
<img src="_figures/unknown/x.png" alt="inconnue">
<iframe class="ces-live" data-src="_figures/llm/answer.json" title="la réponse">repli</iframe></section>
</div></div></body></html>
"""
NESTED = '<html><head></head><body><img src="../_figures/derivable/derivable.svg" alt=""></body></html>\n'
CSS = ".title { background: url(_figures/derivable/derivable.svg); }\n"


def sha8(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:8]


def make_entry(tmp: Path, name: str, outputs: dict[str, bytes], **extra) -> Entry:
    path = tmp / "cache" / name / "0123456789abcdef"
    (path / "out").mkdir(parents=True)
    for file, data in outputs.items():
        (path / "out" / file).write_bytes(data)
    manifest = {"key": hashlib.sha256(name.encode()).hexdigest(), "figure": name,
                "script": f"figures/{name}.py", "profile": "smoke", "params": {"steps": 3}, "device": "cpu",
                "wall_time_s": 0.042, "date": "2026-11-26T11:06:49+00:00", "python": "3.11.7",
                "packages": {"numpy": "2.3.1"}, "reads": {"figures/data/x.csv": "00"},
                "static": {"upstream": {}}, "outputs": {f: hashlib.sha256(d).hexdigest() for f, d in outputs.items()},
                **extra}
    return Entry(path, manifest)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A rendered site (as render.copy_figures leaves it) and the build's figures and outcomes."""
    for var in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_SHA"):
        monkeypatch.delenv(var, raising=False)
    root = tmp_path / "deck"
    site = root / "_site"
    (root / "figures").mkdir(parents=True)
    for name in ("derivable", "llm", "broken"):
        (root / "figures" / f"{name}.py").write_text(f'"""{name}"""\nprint("{name}")\n')
    figures = {n: SimpleNamespace(name=n, path=root / "figures" / f"{n}.py", caption=f"Légende {n}")
               for n in ("derivable", "llm", "broken")}
    outcomes = {
        "derivable": Outcome("derivable", "cached", entry=make_entry(tmp_path, "derivable", {"derivable.svg": SVG})),
        "llm": Outcome("llm", "ran", entry=make_entry(tmp_path, "llm", {"answer.json": json.dumps(ANSWER).encode()})),
        "broken": Outcome("broken", "failed", message="exit 1"),
    }
    render(site, outcomes)
    return SimpleNamespace(root=root, site=site, figures=figures, outcomes=outcomes)


def render(site: Path, outcomes) -> None:
    """What a render leaves: fresh HTML and CSS, plain figure names."""
    for name, o in outcomes.items():
        if o.entry is not None:
            d = site / "_figures" / name
            d.mkdir(parents=True, exist_ok=True)
            for f in o.entry.manifest["outputs"]:
                (d / f).write_bytes(o.entry.output(f).read_bytes())
    (site / "sub").mkdir(parents=True, exist_ok=True)
    (site / "index.html").write_text(INDEX, encoding="utf-8")
    (site / "sub" / "page.html").write_text(NESTED, encoding="utf-8")
    (site / "deck.css").write_text(CSS, encoding="utf-8")
    (site / "reveal.js").mkdir(exist_ok=True)
    (site / "reveal.js" / "vendored.html").write_text('<img src="_figures/derivable/derivable.svg">')


def finalize(p):
    publish.finalize_site(p.root, p.site, p.figures, p.outcomes)


def snapshot(site: Path) -> dict[str, bytes]:
    return {f.relative_to(site).as_posix(): f.read_bytes() for f in sorted(site.rglob("*")) if f.is_file()}


def test_figure_files_get_their_content_hash_in_their_name(project):
    finalize(project)
    svg = f"derivable.{sha8(SVG)}.svg"
    answer = f"answer.{sha8(json.dumps(ANSWER).encode())}.json"
    assert sorted(p.name for p in (project.site / "_figures" / "derivable").iterdir()) == [svg]
    assert sorted(p.name for p in (project.site / "_figures" / "llm").iterdir()) == [answer]
    index = (project.site / "index.html").read_text()
    assert "derivable/derivable.svg" not in index
    assert f'data-src="_figures/derivable/{svg}"' in index            # data-src
    assert f'<img src="_figures/derivable/{svg}"' in index            # src
    assert f"&lt;img src=&quot;_figures/derivable/{svg}&quot;" in index  # inside srcdoc
    assert f'href="_figures/llm/{answer}"' in index                   # a link
    assert '"_figures/broken/broken.svg"' in index and '"_figures/unknown/x.png"' in index  # no such file: kept
    assert f'src="../_figures/derivable/{svg}"' in (project.site / "sub" / "page.html").read_text()
    assert f"url(_figures/derivable/{svg})" in (project.site / "deck.css").read_text()
    assert "derivable/derivable.svg" in (project.site / "reveal.js" / "vendored.html").read_text()  # untouched


def test_a_second_run_changes_nothing(project):
    finalize(project)
    first = snapshot(project.site)
    finalize(project)
    assert snapshot(project.site) == first


def test_a_rebuild_with_a_new_figure_drops_the_old_hashed_file(project):
    finalize(project)
    old = f"derivable.{sha8(SVG)}.svg"
    new_svg = SVG.replace(b'width="5"', b'width="7"')
    entry = project.outcomes["derivable"].entry
    entry.output("derivable.svg").write_bytes(new_svg)
    render(project.site, project.outcomes)  # the renderer copies plain names beside the hashed one
    finalize(project)
    names = sorted(p.name for p in (project.site / "_figures" / "derivable").iterdir())
    assert names == [f"derivable.{sha8(new_svg)}.svg"]
    index = (project.site / "index.html").read_text()
    assert old not in index and f"derivable.{sha8(new_svg)}.svg" in index


def test_hashed_name():
    assert publish.hashed_name("a.svg", "3f2a9c1b77") == "a.3f2a9c1b.svg"
    assert publish.hashed_name("a.b.png", "0123456789") == "a.b.01234567.png"
    assert publish.hashed_name("README", "0123456789") == "README.01234567"


def test_provenance_page_lists_each_figure(project):
    finalize(project)
    page = (project.site / "provenance.html").read_text()
    assert '<html lang="fr">' in page and "Provenance des figures" in page
    assert "http" not in re.sub(r'href="https?://[^"]*"', "", page.replace("http://www.w3.org", ""))  # offline
    for name in ("derivable", "llm"):
        m = project.outcomes[name].entry.manifest
        section = page.split(f'<section id="{name}">')[1].split("</section>")[0]
        for text in (m["key"], "figures/" + name + ".py", "smoke", "cpu", "0,04 s", "2026-11-26 11:06:49 UTC",
                     "numpy 2.3.1", f"Légende {name}", "figures/data/x.csv"):
            assert text in section, (name, text)
    llm = page.split('<section id="llm">')[1].split("</section>")[0]
    rows = re.findall(r"<dt>([^<]+)</dt><dd>([^<]*)</dd>", llm)
    assert rows[-1] == ("Source citée", "Rozière et al. 2023, arXiv 2308.12950")
    assert rows[-7:-1] == [("Modèle", "codellama-7b-instruct"), ("Date de la réponse", "2023-09-12"),
                         ("Origine de la réponse", "Réponse de codeLlama"), ("Modèle", "non précisé"),
                         ("Date de la réponse", "non datée"),
                         ("Origine de la réponse", "Transcription de l’exposé (modèle non précisé)")]
    assert "Non calculée (failed : exit 1)" in page.split('<section id="broken">')[1]
    assert f'href="_figures/llm/answer.{sha8(json.dumps(ANSWER).encode())}.json"' in llm
    assert "Code du script" in page and 'print(&quot;derivable&quot;)' in page


def test_each_figure_image_links_to_its_provenance(project):
    finalize(project)
    index = (project.site / "index.html").read_text()
    links = re.findall(r'<a class="ces-provenance" href="([^"]+)" target="_blank" rel="noopener" '
                       r'title="([^"]+)">([^<]+)</a>', index)
    key = project.outcomes["derivable"].entry.manifest["key"]
    expected = ("provenance.html#derivable", f"script figures/derivable.py, clé {key[:16]}",
                f"⚙ derivable · {key[:8]}")
    assert links[:2] == [expected, expected]  # the data-ces-figure image and the plain one; not broken/unknown
    assert len(links) == 3 and links[2][0] == "provenance.html#llm"
    assert index.count('id="ces-provenance-style"') == 1
    assert index.count('id="ces-deck-script"') == 1 and "Reveal.layout()" in index  # a deck page: the script once
    nested = (project.site / "sub" / "page.html").read_text()
    assert 'href="../provenance.html#derivable"' in nested
    assert '.svg" alt=""><a class="ces-provenance"' in nested  # not a slide: right after the image


def slide_bands(index: str) -> list[list[str]]:
    """Per <section> of a deck page: the figures its provenance band links to, and where."""
    out = []
    for section in re.findall(r"<section>(.*?)</section>", index, re.S):
        bands = re.findall(r'<div class="ces-provenance-band">(.*?)</div>$', section, re.S)
        out.append([re.findall(r'#([\w-]+)"', b) for b in bands])
    return out


def test_provenance_links_sit_in_a_band_outside_the_figures(project):
    """In a deck, a slide's links are together at the end of its <section> (the band at the slide's
    bottom left, slides/deck.css keeps it free): never inside a <figure>, never between an image and
    its caption; a figure shown twice on a slide is linked once."""
    finalize(project)
    index = (project.site / "index.html").read_text()
    assert slide_bands(index) == [[["derivable"]], [["derivable"]], [["llm"]]]
    for figure in re.findall(r"<figure>.*?</figure>", index, re.S):
        assert "ces-provenance" not in figure
    assert 'alt="Une courbe" />\n<figcaption>' in index
    css = index.split('id="ces-provenance-style">')[1].split("</style>")[0]
    assert "position: absolute" in css and "bottom:" in css and "left: 40px" in css
    assert re.search(r"font: (\d+)px", css) and int(re.search(r"font: (\d+)px", css)[1]) >= 20
    # the same figure twice on one slide: one link
    twice = INDEX.replace('alt="sans attribut ces">', 'alt="sans attribut ces"><img src="_figures/derivable/derivable.svg">')
    (project.site / "index.html").write_text(twice)
    publish.add_provenance_links(project.site / "index.html", project.site, project.figures, project.outcomes)
    assert slide_bands((project.site / "index.html").read_text())[1] == [["derivable"]]


def test_the_old_placement_fails_the_band_check(project):
    """The check above fails on links placed right after each image (over the figure's box)."""
    finalize(project)
    index = (project.site / "index.html").read_text()
    band = re.compile(r'<div class="ces-provenance-band">(.*?)</div>(?=</section>)', re.S)
    moved = band.sub("", index).replace('alt="Une courbe" />', 'alt="Une courbe" /><a class="ces-provenance" '
                                         'href="provenance.html#derivable">⚙</a>')
    assert slide_bands(moved) != [[["derivable"]], [["derivable"]], [["llm"]]]
    assert any("ces-provenance" in f for f in re.findall(r"<figure>.*?</figure>", moved, re.S))


def test_scripts_link_to_the_built_commit_on_github_actions(project, monkeypatch):
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.example")
    monkeypatch.setenv("GITHUB_REPOSITORY", "me/deck")
    monkeypatch.setenv("GITHUB_SHA", "abc123")
    finalize(project)
    page = (project.site / "provenance.html").read_text()
    assert '<a href="https://github.example/me/deck/blob/abc123/figures/derivable.py">' in page


def test_a_site_without_figures_gets_an_empty_provenance_page(tmp_path):
    site = tmp_path / "_site"
    site.mkdir()
    (site / "index.html").write_text("<html><head></head><body><p>Rien</p></body></html>")
    publish.finalize_site(tmp_path, site, {}, {})
    assert "Aucune figure calculée." in (site / "provenance.html").read_text()
    assert "ces-provenance-style" not in (site / "index.html").read_text()
    assert "ces-deck-script" not in (site / "index.html").read_text()  # not a Reveal deck


def test_published_path_finds_the_hashed_file(project):
    assert publish.published_path(project.site, "derivable", "derivable.svg") == \
        project.site / "_figures" / "derivable" / "derivable.svg"  # before: the plain name
    finalize(project)
    assert publish.published_path(project.site, "derivable", "derivable.svg") == \
        project.site / "_figures" / "derivable" / f"derivable.{sha8(SVG)}.svg"
    assert publish.published_path(project.site, "derivable", "nope.svg") is None
