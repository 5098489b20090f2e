"""« Errata » — the corrections of the original talk, one row each, as a French HTML page.

Where the original talk was wrong, its slide now says what is true, and the slide's notes
quote what the talk said (« Dans l'exposé original : … »). This page lists every such
correction: the slide, what the talk said, what is right, and where to check it (a reference
of slides/references.bib, a section of docs/sources.md, a figure of the deck). The rows are
figures/data/errata.yml; tests/test_talk_slides.py checks that every note line has its row
and every row its note line. The title slide and the last slide link here.

Run alone: python figures/errata.py --profile quick   (writes into _scratch/errata/)
"""

FIGURE = {
    "name": "errata",
    "caption": "Errata de l’exposé original : chaque correction, avec sa source",
    "alt": "Un tableau : pour chaque diapositive corrigée, ce que disait l’exposé original, ce qui est "
           "juste, et la source qui permet de le vérifier.",
    "outputs": ["errata.html", "errata.json"],
    "needs": [],
    "gpu": False,
    "seed": 0,
    "params": {},
}

import html
import re
import unicodedata
from pathlib import Path

import yaml

from builder.script import setup
from _fonts import font_face_css

run = setup(FIGURE)
ROOT = Path(__file__).resolve().parent.parent
rows = yaml.safe_load((ROOT / "figures" / "data" / "errata.yml").read_text(encoding="utf-8"))
bib = (ROOT / "slides" / "references.bib").read_text(encoding="utf-8")


ACCENTS = {"\\`": "\u0300", "\\'": "\u0301", "\\^": "\u0302", '\\"': "\u0308"}   # LaTeX accent -> combining mark


def bib_entry(key: str) -> dict:
    """author, year, title and a link of one references.bib entry (a small BibTeX reader)."""
    m = re.search(r"@\w+\s*\{\s*" + re.escape(key) + r"\s*,(.*?)\n\}", bib, re.S)
    assert m, f"figures/data/errata.yml: {key!r} is not in slides/references.bib"
    raw = dict((k.lower(), v.strip()) for k, v in
               re.findall(r"^\s*(\w+)\s*=\s*[{\"](.*?)[}\"]\s*,?\s*$", m.group(1), re.M))
    fields = {k: unicodedata.normalize("NFC", re.sub(r"[{}]", "", re.sub(r"\\[`'^\"]\{?(\w)\}?", lambda a: a[1] + ACCENTS.get(a[0][:2], ""), v)))
              for k, v in raw.items()}
    first = re.split(r"\s+and\s+", fields.get("author", "?"))[0]
    corporate = re.fullmatch(r"\{[^{}]*\}", raw.get("author", "")) is not None   # {OpenAI}: a name
    surname = first if corporate or "," not in first and " " not in first else \
        first.split(",")[0].strip() if "," in first else first.split()[-1]
    many = " and " in fields.get("author", "")
    link = (f"https://arxiv.org/abs/{fields['eprint']}" if "eprint" in fields else
            f"https://doi.org/{fields['doi']}" if "doi" in fields else fields.get("url"))
    return {"key": key, "label": f"{surname}{' et al.' if many else ''} {fields.get('year', '')}".strip(),
            "title": fields.get("title", ""), "url": link}


def inline(text: str) -> str:
    """The YAML's little markup: `code`, [English]{lang=en}; everything else escaped."""
    out, pos = [], 0
    for m in re.finditer(r"`([^`]*)`|\[([^\]]*)\]\{lang=en\}", text):
        out.append(html.escape(text[pos:m.start()]))
        out.append(f"<code>{html.escape(m[1])}</code>" if m[1] is not None
                   else f'<span lang="en">{html.escape(m[2])}</span>')
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


records, body = [], []
for i, row in enumerate(rows, start=1):
    for field in ("slide", "original", "correct", "source"):
        assert row.get(field), f"figures/data/errata.yml: row {i} has no {field!r}"
    refs = [bib_entry(k) for k in row["source"].get("keys", [])]
    records.append({"slide": row["slide"], "original": row["original"], "correct": row["correct"],
                    "references": refs, "source_text": row["source"].get("text", "")})
    cites = " ; ".join(
        (f'<a href="{html.escape(r["url"])}" title="{html.escape(r["title"])}">{html.escape(r["label"])}</a>'
         if r["url"] else html.escape(r["label"])) for r in refs)
    where = " ; ".join(x for x in (cites, html.escape(row["source"].get("text", ""))) if x)
    body.append(f"<tr><td>{html.escape(row['slide'])}</td><td>{inline(row['original'])}</td>"
                f"<td>{inline(row['correct'])}</td><td>{where}</td></tr>")

run.save_json("errata.json", {"rows": records, "count": len(records)})
run.out("errata.html").write_text(f"""<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Errata de l’exposé original</title>
<style>
{font_face_css()}
body {{ font: 20px/1.45 "Source Sans Pro", system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem; color: #222; }}
h1 {{ font-size: 2rem; margin: 0 0 .5rem; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; vertical-align: top; padding: .5rem .6rem; border-top: 1px solid #ccc; }}
th {{ background: #f2f2f2; }}
td:nth-child(2) {{ color: #8a2c00; }}
code {{ font-size: .9em; }}
a {{ color: #1d4f91; }}
</style></head>
<body>
<p><a href="../../index.html">← Retour à l’exposé</a></p>
<h1>Errata de l’exposé original</h1>
<p>Cette reconstruction de l’exposé de Christophe Cerisara corrige, sur les diapositives, ce que
l’exposé original disait de faux ou d’imprécis. Chaque correction figure ici avec sa source ;
les notes de la diapositive citent l’original (« Dans l’exposé original : … »).
{len(records)} corrections.</p>
<table>
<thead><tr><th>Diapositive</th><th>Exposé original</th><th>Ce qui est juste</th><th>Source</th></tr></thead>
<tbody>
{chr(10).join(body)}
</tbody>
</table>
</body></html>
""", encoding="utf-8")
