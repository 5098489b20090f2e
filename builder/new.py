"""`ces new`: a new talk repository (`ces new DIR`), and a new figure script in one
(`ces new figure NAME`).

The files come from builder/templates/new/: `talk/` is the talk (a `dot-` prefix stands for the
leading dot of `.github/` and `.gitignore`; `slides/index.<lang>.qmd` is the one for the chosen
language), `figure.py` the figure skeleton (the talk's example figure is one). In them, each
`__WORD__` is replaced by what TOKENS-building code below gives; nothing else is templated.
A talk is written into a temporary directory beside DIR and renamed into place, so that an
interrupted `ces new` leaves no half-written talk. Imports neither matplotlib nor torch.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .errors import ConfigError
from .files import PROJECT_FILE

TEMPLATES = Path(__file__).parent / "templates" / "new"
LANGS = ("en", "fr")
EXAMPLE_FIGURE = "monte-carlo"        # the figure a new talk starts with
STEM_RE = re.compile(r"^[a-z][a-z0-9]*([_-][a-z0-9]+)*$")

#: The words the templates need, per language (slides are in the talk's language; code English).
WORDS = {
    "en": {
        "title": "My talk", "author": "Your Name", "decimal_comma": False,
        "headline": "Estimating π with darts",
        "caption": "An estimate of π from random darts, closer as more land",
        "alt": "A curve of the estimate of π against the number of darts thrown, on a logarithmic "
               "axis: it wanders at first, then settles on the dashed line at π",
        "legend": "estimate", "xlabel": "darts thrown", "ylabel": "estimate of π",
    },
    "fr": {
        "title": "Mon exposé", "author": "Votre nom", "decimal_comma": True,
        "headline": "Estimer π avec des fléchettes",
        "caption": "Une estimation de π par des fléchettes lancées au hasard, de plus en plus proche",
        "alt": "Une courbe de l’estimation de π selon le nombre de fléchettes lancées, sur un axe "
               "logarithmique : elle oscille d’abord, puis se stabilise sur la droite pointillée à π",
        "legend": "estimation", "xlabel": "fléchettes lancées", "ylabel": "estimation de π",
    },
}


def _fill(text: str, tokens: dict[str, str]) -> str:
    for key, value in tokens.items():
        text = text.replace(f"__{key}__", value)
    left = re.findall(r"__[A-Z][A-Z_]*[A-Z]__", text)
    assert not left, f"template token(s) not filled: {left}"  # a template and this module disagree
    return text


def _one_line(field: str, value: str) -> str:
    value = value.strip()
    if not value or "\n" in value or "\r" in value:
        raise ConfigError(f"--{field}: must be one line of text, not {value!r}")
    return value


def ces_requirement() -> str:
    """The requirement that installs this ces, for a new talk's pyproject.toml: this checkout
    (its git remote when it has one, else its path), or the address it was installed from
    (PEP 610's direct_url.json), else the released version. $CES_REQUIREMENT overrides them all
    (e.g. `ces @ git+https://github.com/you/ces@v0.2`)."""
    if os.environ.get("CES_REQUIREMENT", "").strip():
        return os.environ["CES_REQUIREMENT"].strip()
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "builder" / "cli.py").is_file():
        try:
            url = subprocess.run(["git", "-C", str(checkout), "remote", "get-url", "origin"], capture_output=True,
                                 text=True, timeout=10, check=False).stdout.strip()
        except OSError:
            url = ""
        if url.startswith(("https://", "ssh://", "git@")):
            if url.startswith("git@"):  # git@github.com:owner/ces.git -> ssh://git@github.com/owner/ces.git
                url = "ssh://" + url.replace(":", "/", 1)
            return f"ces @ git+{url}"
        return f"ces @ {checkout.as_uri()}"
    import importlib.metadata as md

    try:
        dist = md.distribution("ces")
    except md.PackageNotFoundError:
        return "ces"
    direct = dist.read_text("direct_url.json")
    if direct:
        info = json.loads(direct)
        vcs = info.get("vcs_info")
        if vcs:
            return f"ces @ {vcs.get('vcs', 'git')}+{info['url']}@{vcs.get('commit_id', '')}".rstrip("@")
        return f"ces @ {info['url']}"
    return f"ces>={dist.version}"


def figure_text(name: str, lang: str) -> str:
    """The figure skeleton for figure NAME (its FIGURE `name`, with -) in the talk's language."""
    words = WORDS[lang]
    return _fill((TEMPLATES / "figure.py").read_text(encoding="utf-8"), {
        "NAME": name, "FILE": name.replace("-", "_"), "HEADLINE": words["headline"],
        **{key.upper(): json.dumps(words[key], ensure_ascii=False) for key in ("caption", "alt", "legend", "xlabel", "ylabel")},
    })


def _slug(text: str) -> str:
    """A distribution name from the directory's: `Mon exposé` -> mon-expose."""
    import unicodedata

    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "talk"


def create_talk(dest: Path, lang: str = "fr", title: str | None = None, author: str | None = None,
                requirement: str | None = None) -> list[Path]:
    """Write a new talk into DEST (absent or empty); return the files written, relative to it."""
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise ConfigError(f"{dest}: exists and is not a directory", tip="ces new DIR writes a new talk into DIR")
    if dest.is_dir() and any(dest.iterdir()):
        raise ConfigError(f"{dest}: not empty ({sum(1 for _ in dest.iterdir())} entries); ces new writes only into a "
                          "new or empty directory", tip="choose another DIR")
    words = WORDS[lang]
    title = _one_line("title", title if title is not None else words["title"])
    author = _one_line("author", author if author is not None else words["author"])
    tokens = {
        "LANG": lang, "TITLE": title, "TITLE_YAML": json.dumps(title, ensure_ascii=False), "TITLE_PLAIN": title,
        "AUTHOR": author, "AUTHOR_PLAIN": author, "SLUG": _slug(dest.resolve().name),
        "CES_REQUIREMENT": json.dumps(requirement or ces_requirement()),
        "DECIMAL_COMMA": str(words["decimal_comma"]), "FIGURE": EXAMPLE_FIGURE,
        "FIGURE_FILE": EXAMPLE_FIGURE.replace("-", "_"),
    }
    parent = dest.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".new", dir=parent))
    written = []
    try:
        source = TEMPLATES / "talk"
        for path in sorted(source.rglob("*")):
            rel = path.relative_to(source)
            if path.is_dir() or "__pycache__" in rel.parts:
                continue
            if rel.parent.name == "slides" and rel.suffix == ".qmd":
                if rel.name != f"index.{lang}.qmd":
                    continue
                rel = rel.with_name("index.qmd")
            rel = Path(*[("." + part[4:]) if part.startswith("dot-") else part for part in rel.parts])
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_fill(path.read_text(encoding="utf-8"), tokens), encoding="utf-8")
            written.append(rel)
        example = Path("figures") / f"{tokens['FIGURE_FILE']}.py"
        (staging / example).write_text(figure_text(EXAMPLE_FIGURE, lang), encoding="utf-8")
        written.append(example)
        os.chmod(staging, 0o777 & ~_umask())
        if dest.is_dir():
            dest.rmdir()  # empty, checked above
        os.rename(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return sorted(written)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def talk_lang(root: Path) -> str:
    """The language of the talk at ROOT (_quarto.yml's `lang`), as one of LANGS."""
    from .files import read_yaml

    lang = str((read_yaml(root / PROJECT_FILE) or {}).get("lang") or "fr") if (root / PROJECT_FILE).is_file() else "fr"
    return "fr" if lang.lower().startswith("fr") else "en"


def create_figure(root: Path, name: str) -> Path:
    """Write figures/<stem>.py, the figure skeleton, into the talk at ROOT; return its path.
    NAME is the script's stem or the figure's name (`loss_curve` or `loss-curve`)."""
    if not STEM_RE.match(name):
        raise ConfigError(f"figure name {name!r}: use lower-case letters, digits, - or _ (e.g. loss-curve), "
                          "starting with a letter")
    figure_name, stem = name.replace("_", "-"), name.replace("-", "_")
    path = root / "figures" / f"{stem}.py"
    if path.exists():
        raise ConfigError(f"figures/{stem}.py already exists", tip="choose another NAME, or edit that script")
    from .figures import discover

    if figure_name in discover(root):
        raise ConfigError(f"a figure named {figure_name!r} already exists", tip="choose another NAME")
    path.parent.mkdir(exist_ok=True)
    with open(path, "x", encoding="utf-8") as f:  # never over a file written meanwhile
        f.write(figure_text(figure_name, talk_lang(root)))
    return path
