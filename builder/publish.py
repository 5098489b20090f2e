"""Finish a rendered _site/ for publishing: content-hashed figure names, a provenance page,
and a small provenance link under every figure of the deck.

    finalize_site(root, root / "_site", figures, outcomes)   # after rendering, before the stamp

1. Every file under <site>/**/_figures/<figure>/ is renamed <stem>.<sha256[:8]><suffix>
   (derivable.svg -> derivable.3f2a9c1b.svg) and every reference to it in the site's HTML and
   CSS (src=, data-src=, href=, srcdoc=, url(...)) is rewritten, so that no browser or CDN
   cache ever shows an old figure after a rebuild.
2. <site>/provenance.html (French, offline, plain CSS) says for each figure which script made
   it, its cache key, profile, device, wall time, date, package versions, and what its JSON
   outputs say of their origin: the model and date of each LLM answer (a record with
   model, date, source and label fields), the top-level "source" of published numbers.
3. For each figure of the deck (<img data-ces-figure="NAME">, or any <img> or <iframe> whose
   source is under _figures/NAME/), a small grey link « ⚙ NAME · key » to its provenance entry,
   outside every figure's box: in a deck page, the links of a slide's figures sit together in a
   band at the bottom left of the slide (<div class="ces-provenance-band"> at the end of its
   <section>, in the 64 px the layout keeps free, left of Reveal's controls and slide number);
   in another page, right after the figure. They open in a new tab, and the provenance page's
   « Retour à l'exposé » leads back to the slide it was opened from (its #/N hash).
4. A small script in each deck page (DECK_JS): Reveal lays a slide out again when one of its
   images loads (a slide reached directly is centred before its lazy image arrives); the
   provenance links carry the current slide; the help overlay (`?`) and the search box in
   French (Reveal.registerKeyboardShortcut is the one way Reveal.js 5.2.1 lets labels be set).

Each step is idempotent: running finalize_site twice leaves the site as one run did.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
from pathlib import Path

PROVENANCE = "provenance.html"
HASH_LEN = 8
SKIP_DIRS = {"reveal.js", "site_libs"}      # vendored assets: never rewritten
STYLE_ID = "ces-provenance-style"
SCRIPT_ID = "ces-deck-script"
ANSWER_FIELDS = {"model", "date", "source", "label"}   # an LLM answer's record in a figure's JSON

_HASHED = re.compile(rf"^(?P<stem>.+)\.(?P<hash>[0-9a-f]{{{HASH_LEN}}})(?P<suffix>\.[^.]*)?$")
# A reference to a figure file: optional relative prefix, _figures/<figure>/<file>.
_REF = re.compile(r"(?P<prefix>(?:[\w.-]+/)*)_figures/(?P<name>[\w.-]+)/(?P<file>[^/\"'\s<>?#&)]+)")
_FIGURE_TAG = re.compile(r"<(img|iframe)\b[^>]*>", re.IGNORECASE)   # an iframe shows a figure's HTML output
_ATTR = re.compile(r"([\w:-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")

BAND_CLASS = "ces-provenance-band"
CSS = """\
/* The provenance links of a slide's figures: a band at the slide's bottom left, in the 64 px the
   deck keeps free under its content (slides/deck.css), left of Reveal's controls and slide number;
   out of the flow, so it moves nothing and lies over no figure. */
.reveal .ces-provenance-band {
  position: absolute; left: 40px; bottom: 16px; z-index: 20; margin: 0; max-width: 1000px;
  display: flex; flex-wrap: nowrap; gap: 28px; text-align: left;
}
.reveal a.ces-provenance, a.ces-provenance {
  font: 20px/1.2 system-ui, sans-serif; color: #666; text-decoration: none; white-space: nowrap;
}
.reveal a.ces-provenance:hover, a.ces-provenance:hover { color: #222; text-decoration: underline; }
"""

# French descriptions for the help overlay (`?`), keyed as Reveal.js 5.2.1 registers them.
DECK_JS = """\
(() => {
  // ces (builder/publish.py). 1. A figure that arrives after Reveal laid its slide out.
  document.addEventListener('load', (e) => {
    if (e.target.tagName === 'IMG' && window.Reveal && Reveal.isReady()) Reveal.layout();
  }, true);
  // 2. The provenance page is told which slide to come back to.
  document.addEventListener('click', (e) => {
    const a = e.target.closest && e.target.closest('a.ces-provenance');
    if (!a || !window.Reveal) return;
    const i = Reveal.getIndices(), u = new URL(a.href);  // #/h/v: Reveal reads it back as indices
    u.searchParams.set('retour', '#/' + i.h + (i.v ? '/' + i.v : ''));
    a.href = u.href;
  }, true);
  // 3. French labels where Reveal.js lets us set them.
  const french = () => {
    const linear = Reveal.getConfig().navigationMode === 'linear';
    const keys = linear ? {
      '&#8594;  ,  &#8595;  ,  SPACE  ,  N  ,  L  ,  J': 'Diapositive suivante',
      '&#8592;  ,  &#8593;  ,  P  ,  H  ,  K': 'Diapositive précédente'} : {
      'N  ,  SPACE': 'Diapositive suivante', 'P  ,  Shift SPACE': 'Diapositive précédente',
      '&#8592;  ,  H': 'Vers la gauche', '&#8594;  ,  L': 'Vers la droite',
      '&#8593;  ,  K': 'Vers le haut', '&#8595;  ,  J': 'Vers le bas'};
    Object.assign(keys, {
      'Alt + &#8592;/&#8593/&#8594;/&#8595;': 'Naviguer sans les étapes',
      'Shift + &#8592;/&#8593/&#8594;/&#8595;': 'Aller à la première ou dernière diapositive',
      'B  ,  .': 'Pause (écran noir)', 'F': 'Plein écran', 'G': 'Aller à la diapositive n°',
      'ESC, O': 'Vue d’ensemble', 'S': 'Vue présentateur (notes, minuteur)',
      'CTRL + Shift + F': 'Rechercher'});
    for (const [key, label] of Object.entries(keys)) Reveal.registerKeyboardShortcut(key, label);
    const names = {'navigate-left': 'diapositive précédente', 'navigate-right': 'diapositive suivante',
                   'navigate-up': 'diapositive au-dessus', 'navigate-down': 'diapositive en dessous'};
    for (const [cls, label] of Object.entries(names))
      document.querySelectorAll('.reveal .controls .' + cls).forEach(b => b.setAttribute('aria-label', label));
  };
  if (window.Reveal) Reveal.isReady() ? french() : Reveal.on('ready', french);
  document.addEventListener('focusin', (e) => {  // the search box is made when first opened
    if (e.target.classList && e.target.classList.contains('searchinput')) e.target.placeholder = 'Rechercher…';
  });
})();
"""

# -- entry point ---------------------------------------------------------------------------
def finalize_site(root: Path, site: Path, figures: dict, outcomes: dict) -> None:
    """Hash figure names, write provenance.html, link each deck figure to it (idempotent)."""
    root, site = Path(root), Path(site)
    renamed = hash_figure_files(site)
    pages = site_pages(site)
    for path in pages + site_stylesheets(site):
        rewrite_references(path, renamed)
    write_provenance(root, site, figures, outcomes, renamed)
    for path in pages:
        add_provenance_links(path, site, figures, outcomes)


# -- 1. content-hashed figure files --------------------------------------------------------
def hashed_name(name: str, digest: str) -> str:
    stem, dot, suffix = name.rpartition(".")
    short = digest[:HASH_LEN]
    return f"{stem}.{short}.{suffix}" if dot and stem else f"{name}.{short}"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _is_hashed(path: Path) -> bool:
    m = _HASHED.match(path.name)
    return bool(m) and _sha256(path).startswith(m["hash"])


def figure_dirs(site: Path) -> list[Path]:
    """Every <site>/**/_figures/<figure>/ directory (vendored asset trees excluded)."""
    out = []
    for base in sorted(site.rglob("_figures")):
        if base.is_dir() and not SKIP_DIRS.intersection(base.relative_to(site).parts):
            out += [d for d in sorted(base.iterdir()) if d.is_dir() and not d.name.startswith(".")]
    return out


def hash_figure_files(site: Path) -> dict[Path, dict[str, str]]:
    """Rename each figure file to its content-hashed name; {figure dir: {plain name: hashed}}.

    Files already carrying their own hash keep it (a second run changes nothing); a hashed
    copy left beside a fresh plain file (an old rebuild) is removed."""
    renamed: dict[Path, dict[str, str]] = {}
    for d in figure_dirs(site):
        files = [p for p in sorted(d.iterdir()) if p.is_file() and not p.name.startswith(".")]
        plain = [p for p in files if not _is_hashed(p)]
        mapping = {}
        for p in files:
            if p not in plain:
                m = _HASHED.match(p.name)
                mapping[m["stem"] + (m["suffix"] or "")] = p.name
        for p in plain:
            new = hashed_name(p.name, _sha256(p))
            for old in files:  # stale hashed versions of the same file
                m = _HASHED.match(old.name)
                if old not in plain and old.name != new and m and m["stem"] + (m["suffix"] or "") == p.name:
                    old.unlink()
            os.replace(p, d / new)
            mapping[p.name] = new
        renamed[d.resolve()] = mapping
    return renamed


def published_path(site: Path, figure: str, name: str) -> Path | None:
    """Where figure output `name` lies in a finalised site (its hashed name), or None."""
    d = Path(site) / "_figures" / figure
    stem, dot, suffix = name.rpartition(".")
    pattern = f"{stem}.{'?' * HASH_LEN}.{suffix}" if dot and stem else f"{name}.{'?' * HASH_LEN}"
    found = [p for p in sorted(d.glob(pattern)) if _is_hashed(p)] + ([d / name] if (d / name).is_file() else [])
    return found[0] if found else None


def site_pages(site: Path) -> list[Path]:
    return [p for p in sorted(site.rglob("*.html"))
            if not SKIP_DIRS.intersection(p.relative_to(site).parts) and p.name != PROVENANCE]


def site_stylesheets(site: Path) -> list[Path]:
    return [p for p in sorted(site.rglob("*.css")) if not SKIP_DIRS.intersection(p.relative_to(site).parts)]


def rewrite_references(path: Path, renamed: dict[Path, dict[str, str]]) -> bool:
    """Point every _figures/<figure>/<file> reference in `path` at the hashed name."""
    text = path.read_text(encoding="utf-8")

    def swap(m: re.Match) -> str:
        target = (path.parent / m["prefix"] / "_figures" / m["name"]).resolve()
        new = renamed.get(target, {}).get(m["file"])
        return m.group(0) if new is None else m.group(0)[: m.start("file") - m.start()] + new

    out = _REF.sub(swap, text)
    if out != text:
        path.write_text(out, encoding="utf-8")
    return out != text


# -- 2. provenance.html --------------------------------------------------------------------
def _fr_seconds(s: float | None) -> str:
    if s is None:
        return "?"
    return (f"{s:.2f}" if s < 10 else f"{s:.0f}").replace(".", ",") + " s"


def _fr_date(iso: str | None) -> str:
    return iso.replace("T", " ").replace("+00:00", " UTC") if iso else "?"


def quoted_sources(entry) -> list[tuple[str, str]]:
    """What the entry's JSON outputs say about where their content comes from, as rows:
    each LLM answer record (builder.llm's Answer.provenance(): model, date, origin) and a
    top-level "source" (the citation of published numbers)."""
    records: list[tuple[tuple[str, str], ...]] = []   # one per answer (identical ones once)
    cited: list[tuple[str, str]] = []

    def answers(obj, depth=0):
        if depth > 4 or len(records) >= 5:
            return
        if isinstance(obj, dict):
            if ANSWER_FIELDS <= obj.keys() and not isinstance(obj["model"], (dict, list)):
                rec = [("Modèle", str(obj["model"]) if obj["model"] else "non précisé"),
                       ("Date de la réponse", str(obj.get("date") or "non datée"))]
                origin = obj.get("label") or obj.get("source")
                if origin and isinstance(origin, str):
                    rec.append(("Origine de la réponse", origin))
                if tuple(rec) not in records:
                    records.append(tuple(rec))
                return
            for v in obj.values():
                answers(v, depth + 1)
        elif isinstance(obj, list):
            for v in obj[:50]:
                answers(v, depth + 1)

    for name in sorted(entry.manifest.get("outputs", {})):
        if not name.endswith(".json"):
            continue
        try:
            data = json.loads(entry.output(name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        answers(data)
        source = data.get("source") if isinstance(data, dict) else None
        if isinstance(source, str) and ("Source citée", source) not in cited:
            cited.append(("Source citée", source))
    return [row for rec in records for row in rec] + cited


def _source_link(script: str) -> str | None:
    """A link to the script at the built commit, when built by GitHub Actions."""
    server, repo, sha = (os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_SHA"))
    return f"{server}/{repo}/blob/{sha}/{script}" if server and repo and sha else None


def provenance_html(root: Path, figures: dict, outcomes: dict, renamed: dict, site: Path) -> str:
    e = html.escape
    parts = []
    for name in sorted(outcomes):
        outcome, spec = outcomes[name], figures.get(name)
        caption = e(spec.caption) if spec is not None else ""
        entry = getattr(outcome, "entry", None)
        parts.append(f'<section id="{e(name)}">\n<h2>{e(name)}</h2>\n<p class="caption">{caption}</p>')
        if entry is None:
            parts.append(f"<p class=\"missing\">Non calculée ({e(getattr(outcome, 'state', '?'))}"
                         f"{' : ' + e(outcome.message) if getattr(outcome, 'message', '') else ''}).</p>\n</section>")
            continue
        m = entry.manifest
        script = m.get("script") or (spec.path.relative_to(root).as_posix() if spec is not None else "?")
        link = _source_link(script)
        script_html = f'<a href="{e(link)}"><code>{e(script)}</code></a>' if link else f"<code>{e(script)}</code>"
        packages = ", ".join(f"{e(k)} {e(str(v))}" for k, v in sorted(m.get("packages", {}).items())) \
            or "aucun paquet tiers"
        mapping = renamed.get((site / "_figures" / name).resolve(), {})
        outputs = ", ".join(
            f'<a href="_figures/{e(name)}/{e(mapping[o])}">{e(o)}</a>' if o in mapping else e(o)
            for o in sorted(m.get("outputs", {})))
        rows = [
            ("Script", script_html),
            ("Clé de cache", f"<code>{e(m.get('key', '?'))}</code>"),
            ("Profil", e(str(m.get("profile", "?")))),
            ("Paramètres", f"<code>{e(json.dumps(m.get('params', {}), ensure_ascii=False, sort_keys=True))}</code>"),
            ("Appareil", e(str(m.get("device", "?")))),
            ("Durée du calcul", _fr_seconds(m.get("wall_time_s"))),
            ("Calculée le", e(_fr_date(m.get("date")))),
            ("Python", e(str(m.get("python", "?")))),
            ("Paquets", packages),
            ("Fichiers lus", ", ".join(f"<code>{e(r)}</code>" for r in sorted(m.get("reads", {}))) or "aucun"),
            ("Figures amont", ", ".join(f'<a href="#{e(u)}">{e(u)}</a>' for u in sorted(
                (m.get("static") or {}).get("upstream", {}))) or "aucune"),
            ("Sorties", outputs),
        ]
        rows += [(k, e(v)) for k, v in quoted_sources(entry)]
        parts.append("<dl>\n" + "\n".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "\n</dl>")
        if spec is not None and spec.path.is_file():
            code = spec.path.read_text(encoding="utf-8")
            parts.append(f"<details><summary>Code du script</summary>\n<pre><code>{e(code)}</code></pre>\n</details>")
        parts.append("</section>")
    body = "\n".join(parts) or "<p>Aucune figure calculée.</p>"
    return f"""<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Provenance des figures</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #222; }}
h1 {{ font-size: 1.6rem; }} h2 {{ font-size: 1.25rem; margin: 0; }}
section {{ border-top: 1px solid #ddd; padding: 1rem 0; }}
section:target {{ background: #fffbe6; }}
.caption {{ color: #555; margin: .2rem 0 .6rem; }}
dl {{ display: grid; grid-template-columns: 11rem 1fr; gap: .15rem 1rem; margin: 0; }}
dt {{ color: #666; }} dd {{ margin: 0; overflow-wrap: anywhere; }}
code {{ font-size: .9em; }} pre {{ background: #f6f6f6; padding: .6rem; overflow-x: auto; font-size: .8rem; }}
.missing {{ color: #a33; }} a {{ color: #2a5db0; }}
</style>
</head>
<body>
<p><a id="retour" href="index.html">← Retour à l’exposé</a></p>
<script>
// Back to the slide the link was followed from (?retour=#/N, set by the deck's script).
(() => {{
  const hash = new URLSearchParams(location.search).get('retour') || '';
  if (/^#[/][0-9]+([/][0-9]+)*$/.test(hash)) document.getElementById('retour').href = 'index.html' + hash;
}})();
</script>
<h1>Provenance des figures</h1>
<p>Chaque figure de l’exposé est calculée par un script du dossier <code>figures/</code>. Sa clé de
cache résume tout ce qui la détermine (code, paramètres, graine, données lues, versions des paquets) :
même clé, même figure.</p>
{body}
</body>
</html>
"""


def write_provenance(root: Path, site: Path, figures: dict, outcomes: dict, renamed: dict) -> Path:
    path = site / PROVENANCE
    text = provenance_html(root, figures, outcomes, renamed, site)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


# -- 3. a provenance link under each figure ------------------------------------------------
def _figure_of(tag: str, known) -> str | None:
    attrs = {m[1].lower(): (m[2] if m[2] is not None else m[3]) for m in _ATTR.finditer(tag)}
    name = attrs.get("data-ces-figure")
    if not name:
        for key in ("src", "data-src"):
            m = _REF.search(attrs.get(key) or "")
            if m:
                name = m["name"]
                break
    return name if name in known else None


def add_provenance_links(path: Path, site: Path, figures: dict, outcomes: dict) -> bool:
    """Link each figure of `path` to its provenance (« ⚙ NAME · key »): in a deck page one band per
    slide, at the end of its <section>; elsewhere right after the figure. Then the CSS and the
    deck script, once."""
    text = path.read_text(encoding="utf-8")
    known = {n for n, o in outcomes.items() if getattr(o, "entry", None) is not None}
    page = os.path.relpath(site / PROVENANCE, path.parent).replace(os.sep, "/")
    e = html.escape
    inserts: dict[int, list[str]] = {}     # insertion point -> the links (a section's end: a band)
    in_band: set[int] = set()
    if 'class="ces-provenance"' not in text:              # a finished page is left as it is
        for m in _FIGURE_TAG.finditer(text):
            name = _figure_of(m.group(0), known)
            if name is None:
                continue
            at = m.end()
            if m[1].lower() == "iframe":  # after the element, not in its fallback content
                close = text.lower().find("</iframe>", at)
                at = close + len("</iframe>") if close >= 0 else at
            end = text.find("</section>", at)
            if end >= 0:
                at = end
                in_band.add(at)
            manifest = outcomes[name].entry.manifest
            key = manifest.get("key", "")
            script = manifest.get("script") or (figures[name].path.name if name in figures else "?")
            link = (f'<a class="ces-provenance" href="{e(page)}#{e(name)}" target="_blank" rel="noopener" '
                    f'title="script {e(script)}, clé {e(key[:16])}">⚙ {e(name)} · {e(key[:8])}</a>')
            if link not in inserts.setdefault(at, []):
                inserts[at].append(link)
    new = text
    for at in sorted(inserts, reverse=True):
        links = "".join(inserts[at])
        block = f'<div class="{BAND_CLASS}">{links}</div>' if at in in_band else links
        new = new[:at] + block + new[at:]
    if f'id="{STYLE_ID}"' not in new and 'class="ces-provenance"' in new:
        new = new.replace("</head>", f'<style id="{STYLE_ID}">\n{CSS}</style>\n</head>', 1)
    if f'id="{SCRIPT_ID}"' not in new and 'class="reveal"' in new and "</body>" in new:
        at = new.rindex("</body>")
        new = new[:at] + f'<script id="{SCRIPT_ID}">\n{DECK_JS}</script>\n' + new[at:]
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text
