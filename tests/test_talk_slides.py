"""The talk as slides: slides/index.qmd checked against the talk's text (tests/fixtures/seed.txt).

Plain-text parsing only (no pandoc, no Quarto): `## ` headings outside code fences are slides.
Every check is a function that returns a list of problems, so that the last tests can show on
mutated copies of the deck that each check does fail (a dropped slide, a missing note, ...).
"""

from __future__ import annotations

import ast
import hashlib
import re
import unicodedata
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
QMD = ROOT / "slides" / "index.qmd"
BIB = ROOT / "slides" / "references.bib"
SEED = ROOT / "tests" / "fixtures" / "seed.txt"
FIGURES = ROOT / "figures"

SEED_SHA256 = "937dcac89aa72af182ff6c81d70e9eba1d093f6205294fd586ec07fad617fd31"

# The seed's title block (title, address, speaker): the deck's first `##` slide (a `##` slide so
# that it carries speaker notes under both renderers), its title also the page's title.
SEED_TITLE_BLOCK = [
    "Dé-codage des grands modèles de langage (ChatGPT)",
    "https://ia.loria.fr/ces",
    "Christophe Cerisara, chercheur CNRS: cerisara@loria.fr",
]

# Every slide title of the seed, in the seed's order (each is a whole line of seed.txt).
SEED_TITLES = [
    "un LLM (Large Language Model) inconnu",
    "https://huggingface.co/models",
    "Stanford ecosystem",
    "Les réseaux neuronaux sont des programmes dérivables",
    "2018: le transformer est un réseau neuronal",
    "Les LLMs sont des transformers",
    "Les LLM savent programmer",
    "Les LLM codent pour “raisonner”",
    "Algorithm of thoughts",
    "Développeur à l’ère des LLM",
    "Performances dans d’autres domaines",
    "Pourquoi les LLMs sont aussi performants ?",
    "les LLM, une nouvelle recherche empirique",
    "Des observations aux prémisses de théories",
    "Passer à l’échelle: la genèse de Chinchilla",
    "LLM: modèles qui passent à l’échelle",
    "Baidu paper 2017",
    "Scaling laws for Neural LM 2020",
    "Open-AI 2020",
    "Chinchilla paper 2022",
    "Google paper 2022",
    "L’emergence de nouvelles capacités",
    "GPT3 paper 2020",
    "Anthropic paper 2022",
    "Jason Wei a dénombré 137 capacités émergentes:",
    "Les LLM structurent l’information",
    "Conclusion",
    "Merci !",
]

# Titles keep the author's wording except where it is wrong (an Errata row says so) or misspelt.
TITLE_FIXES = {
    "un LLM (Large Language Model) inconnu": "Un LLM (Large Language Model) inconnu",
    "2018: le transformer est un réseau neuronal": "2017 : le transformer est un réseau neuronal",  # wrong
    "Les LLMs sont des transformers": "Les LLM sont des transformers",
    "Pourquoi les LLMs sont aussi performants ?": "Pourquoi les LLM sont aussi performants ?",
    "les LLM, une nouvelle recherche empirique": "Les LLM, une nouvelle recherche empirique",
    "Open-AI 2020": "OpenAI 2020",
    "L’emergence de nouvelles capacités": "L’émergence de nouvelles capacités",
}
WRONG_TITLES = {"2018: le transformer est un réseau neuronal"}   # a fact corrected: an Errata row
# A dense slide of the talk shown on two, the second titled « … (suite) ».
SPLIT = ["Les LLM savent programmer", "Algorithm of thoughts"]
SUITE = " (suite)"

# The seed's outline list has no title line: the deck calls that slide "Plan". The deck ends
# with the bibliography and the reproduction slide. No other slide may be added.
def _expected_titles() -> list[str]:
    titles = []
    for t in SEED_TITLE_BLOCK[:1] + SEED_TITLES[:3] + ["Plan"] + SEED_TITLES[3:]:
        titles.append(TITLE_FIXES.get(t, t))
        if titles[-1] in SPLIT:
            titles.append(titles[-1] + SUITE)
    return titles + ["Références", "Reproduire cet exposé"]


EXPECTED_TITLES = _expected_titles()

NBSP = "\u00a0\u202f"

# ----------------------------------------------------------------------------------------
# parsing


def normalise(text: str) -> str:
    """Compare texts the way a reader would: typography and spacing do not count."""
    s = unicodedata.normalize("NFKC", text)
    for ch in NBSP + "\t\n\r":
        s = s.replace(ch, " ")
    s = re.sub(r"«\s*", '"', s)
    s = re.sub(r"\s*»", '"', s)
    s = s.replace("“", '"').replace("”", '"').replace("’", "'")
    s = s.replace("\\(", "$").replace("\\)", "$").replace("$$", "$")
    s = re.sub(r" +", " ", s)
    s = re.sub(r" ([:;!?])", r"\1", s)
    return s.strip()


def split_front_matter(text: str) -> tuple[str, list[str]]:
    """(YAML front matter, body lines)."""
    lines = text.split("\n")
    if lines and lines[0].strip() == "---":
        for i in range(1, len(lines)):
            if lines[i].strip() in ("---", "..."):
                return "\n".join(lines[1:i]), lines[i + 1:]
    return "", lines


def fenced(lines: list[str]):
    """Yield (line, inside_code) for each line; fence lines count as code."""
    fence = None
    for line in lines:
        m = re.match(r"^\s*(`{3,}|~{3,})", line)
        if fence is None and m:
            fence = m.group(1)[0] * len(m.group(1))
            yield line, True
        elif fence is not None:
            if line.strip().startswith(fence) and line.strip().strip(fence[0]) == "":
                fence = None
            yield line, True
        else:
            yield line, False


def heading_text(raw: str) -> str:
    """`## Title {.class}` -> `Title`, with `<url>` and `[text](url)` unwrapped."""
    s = re.sub(r"\s*\{[^{}]*\}\s*$", "", raw.strip())
    s = re.sub(r"<([^<>\s]+)>", r"\1", s)
    s = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", s)
    return s.strip()


def parse_slides(text: str) -> list[tuple[str, list[str]]]:
    """[(title, lines of the slide)] for every `## ` heading outside code."""
    _, body = split_front_matter(text)
    slides: list[tuple[str, list[str]]] = []
    for line, code in fenced(body):
        if not code and line.startswith("## "):
            slides.append((heading_text(line[3:]), []))
        elif slides:
            slides[-1][1].append(line)
    return slides


def divs(lines: list[str], cls: str) -> list[str]:
    """Contents of the fenced divs of class `cls` (`::: cls` or `::: {.cls}`), nesting-aware."""
    opener = re.compile(r"^(:{3,})\s*(\{[^}]*\}|[\w-]+)\s*$")
    closer = re.compile(r"^:{3,}\s*$")
    found, stack = [], []  # stack of (is_target, collected lines)
    for line, code in fenced(lines):
        if not code and opener.match(line):
            attrs = opener.match(line).group(2)
            classes = re.findall(r"\.([\w-]+)", attrs) if attrs.startswith("{") else [attrs]
            stack.append((cls in classes, []))
            continue
        if not code and closer.match(line) and stack:
            is_target, content = stack.pop()
            if is_target:
                found.append("\n".join(content).strip())
            elif stack:
                stack[-1][1].extend(content)
            continue
        if stack:
            stack[-1][1].append(line)
    return found


ENGLISH_SPAN = re.compile(r"\[([^\]]*)\]\{[^{}]*lang=en[^{}]*\}")


def prose_lines(text: str):
    """(line number, prose) for body lines outside code and fence markers, markup stripped;
    verbatim English (`[…]{lang=en}` spans, `::: {… lang=en}` divs) is left out."""
    _, body = split_front_matter(text)
    offset = len(text.split("\n")) - len(body) + 1
    english = []                                              # stack of open divs: lang=en?
    for i, (line, code) in enumerate(fenced(body)):
        if not code and line.lstrip().startswith(":::"):
            if re.match(r"^:{3,}\s*$", line.strip()):
                if english:
                    english.pop()
            else:
                english.append("lang=en" in line)
            continue
        if code or any(english):
            continue
        s = ENGLISH_SPAN.sub("", line)                        # verbatim English
        s = re.sub(r"`[^`]*`", "", s)                         # inline code
        s = re.sub(r"\$\$.*?\$\$|\$[^$]*\$", "", s)            # math
        s = re.sub(r"!\[", "[", s)                             # image marker
        s = re.sub(r"\]\([^)]*\)", "]", s)                     # link and image targets
        s = re.sub(r"\{[^{}]*\}", "", s)                       # attributes
        s = re.sub(r"<[^<>\s]+>", "", s)                       # autolinks
        s = re.sub(r"https?://\S+", "", s)                     # bare URLs
        s = re.sub(r"\[-?@[^\]]*\]", "", s)                    # citations
        yield offset + i, s


# ----------------------------------------------------------------------------------------
# checks: each returns a list of problems


def title_errors(text: str) -> list[str]:
    got = [normalise(t) for t, _ in parse_slides(text)]
    want = [normalise(t) for t in EXPECTED_TITLES]
    if got == want:
        return []
    errors = []
    pos = 0
    for title in want:  # the seed's titles, in order, as a subsequence
        try:
            pos = got.index(title, pos) + 1
        except ValueError:
            errors.append(f"missing or out of order: {title!r}")
    extra = [t for t in got if t not in want]
    errors += [f"slide not in the seed: {t!r}" for t in extra]
    if not errors:
        errors.append(f"slides differ from the seed's sequence: {got}")
    return errors


# A long transcript a slide shows as an excerpt, with a link to the whole: the page the link opens
# is made from these sources (the AoT trace: figures/llm_aot.py writes aot-trace.html from the
# transcript of the answer and the prompt of llm.yml).
LINKED_TRANSCRIPTS = {
    "_figures/llm-aot/aot-trace.html": [ROOT / "figures" / "data" / "transcripts" / "aot.txt", ROOT / "llm.yml"],
}


# Lines of the talk the deck words differently without correcting a fact (French for English,
# spelling): seed line -> the deck's wording, which must be in the deck.
REWORDED = {
    **TITLE_FIXES,
    "Deep Learning model": "Modèle d’apprentissage profond",
    "Training": "Entraînement",
    "Rapport entre LLMs et programmation": "Rapport entre LLM et programmation",
    "Meta: OPT (175b), Llama2 (70b)…": "Meta : OPT (175 Md), Llama 2 (70 Md)…",
    "Mistral (Open Source) = 7b": "Mistral (Apache 2.0) = 7 Md",
    "LLM input = examples of search over a problem": "Entrée du LLM = des exemples de recherche sur un problème",
    "scaling law = power law = \\(y(x) = ax^{-\\gamma} +b\\)": "Loi d’échelle = loi de puissance = $y(x) = ax^{-\\gamma} +b$",
    "\\(y(x) =\\) test loss (erreur)": "$y(x) =$ perte de test (erreur)",
    "Les scaling laws sont théorisées en Machine Learning depuis longtemps (cf. Paper on learning curves)":
        "Les lois d’échelle sont théorisées en apprentissage automatique depuis longtemps [cf. @viering2021shape]",
    "arithmétique modulaire, pbs simples de maths": "arithmétique modulaire, problèmes simples de maths",
    "Ils coutent de moins en moins cher à utiliser": "Ils coûtent de moins en moins cher à utiliser",
}


def deck_text(text: str) -> str:
    """The deck's body as a reader sees its words: English spans and inline code unwrapped."""
    _, body = split_front_matter(text)
    s = "\n".join(body)
    s = re.sub(r"\[([^\]]*)\]\{[^{}]*lang=en[^{}]*\}", r"\1", s)
    return re.sub(r"<([^<>\s]+)>", r"\1", s)


def missing_seed_lines(text: str, seed: str, errata: list | None = None) -> list[str]:
    """Lines of the seed (after its title block) whose text is nowhere in the deck's body, nor in
    a whole transcript that a slide links to, nor replaced by an Errata row (its `seed`) or by
    a reworded line that is in the deck."""
    errata = load_errata() if errata is None else errata
    linked = [path.read_text(encoding="utf-8") for link, paths in LINKED_TRANSCRIPTS.items()
              if f"]({link})" in text for path in paths]
    deck = normalise("\n".join([deck_text(text)] + linked))
    replaced = {normalise(s) for row in errata for s in row.get("seed") or []}
    reworded = {normalise(k): normalise(v) for k, v in REWORDED.items()}
    lines = seed.split("\n")
    start = [line.strip() for line in lines].index(SEED_TITLE_BLOCK[-1]) + 1
    missing = []
    for line in lines[start:]:  # the title block is checked in test_front_matter
        wanted = normalise(re.sub(r"^\s*•\s*", "", line))
        if not wanted or wanted in deck or wanted in replaced:
            continue
        if wanted in reworded and reworded[wanted] in deck:
            continue
        missing.append(line.strip())
    return missing


ORIGINAL = "Dans l’exposé original"
NOTE_MAX_WORDS = 80


def spoken_words(markdown: str) -> int:
    """Words of a note as the speaker reads it: a citation group is one word, markup is none."""
    s = re.sub(r"\[-?@[^\]]*\]", " CITATION ", markdown)
    s = re.sub(r"\{[^{}]*\}", " ", s)
    s = re.sub(r"[`*_\[\]]", " ", s)
    return len([w for w in re.split(r"\s+", s) if re.search(r"\w", w)])


def notes_errors(text: str) -> list[str]:
    """One notes block per slide, cue-sized (<= 80 words): one paragraph of what to say, then at
    most one line « Dans l'exposé original : … »."""
    errors = []
    for title, lines in parse_slides(text):
        notes = divs(lines, "notes")
        if len(notes) != 1:
            errors.append(f"{title!r}: {len(notes)} notes blocks, expected 1")
            continue
        note = notes[0]
        if len(note.split()) < 8:
            errors.append(f"{title!r}: notes too short ({note!r})")
        words = spoken_words(note)
        if words > NOTE_MAX_WORDS:
            errors.append(f"{title!r}: notes of {words} words, more than {NOTE_MAX_WORDS}")
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", note) if p.strip()]
        if len(paragraphs) > 2 or (len(paragraphs) == 2 and not unicodedata.normalize(
                "NFKC", paragraphs[1]).startswith(unicodedata.normalize("NFKC", ORIGINAL))):
            errors.append(f"{title!r}: notes should be one paragraph, then at most the line "
                          f"« {ORIGINAL} : … »")
        if ORIGINAL in paragraphs[0]:
            errors.append(f"{title!r}: « {ORIGINAL} » goes on its own line, after the cue")
    return errors


def bib_keys(bib: str) -> set[str]:
    return {k for kind, k in re.findall(r"^@(\w+)\s*\{\s*([^,\s]+)\s*,", bib, re.M)
            if kind.lower() not in ("comment", "string", "preamble")}


def cited_keys(text: str) -> set[str]:
    _, body = split_front_matter(text)
    prose = "\n".join(line for line, code in fenced(body) if not code)
    keys = re.findall(r"(?<![\w.@])-?@([A-Za-z0-9_][\w:.#$%&+?<>~/-]*)", prose)
    return {k.rstrip(".:;,?!") for k in keys}


def citation_errors(text: str, bib: str) -> list[str]:
    known = bib_keys(bib)
    return [f"[@{k}] is not in references.bib" for k in sorted(cited_keys(text) - known)]


def english_errors(text: str) -> list[str]:
    """Verbatim English quotes keep their own typography: no space added before ? ! : ;."""
    errors = []
    _, body = split_front_matter(text)
    for line, code in fenced(body):
        if code:
            continue
        for m in ENGLISH_SPAN.finditer(line):
            if re.search(r"[\s\u00a0\u202f][?!:;]", m.group(1)):
                errors.append(f"French spacing added inside an English quotation: {m.group(1)!r}")
    return errors


# French a reader trusts: what the talk wrote that a French reader would stop at.
FRENCH_FAULTS = {
    r"\bLLMs\b": "« LLM » is invariable",
    r"\b1ère\b|\b1ere\b": "« 1re », not « 1ère »",
    r"\b[Ll]’emergence\b|\bemergence\b": "« émergence »",
    r"\bcoutent\b": "« coûtent »",
}
# English words that are neither a name nor a quotation, in slide text (not the notes).
ENGLISH_IN_SLIDES = [r"\bscaling laws?\b", r"\bpower law\b", r"\btest loss\b", r"\bdataset size\b",
                     r"\bwas 0", r"\bPaper on\b", r"\bexamples of\b", r"\bOpen Source\b"]


def french_errors(text: str) -> list[str]:
    errors = []
    for n, s in prose_lines(text):
        if unicodedata.normalize("NFKC", s.strip()).startswith(unicodedata.normalize("NFKC", ORIGINAL)):
            continue                                          # the talk quoted as it was
        for pattern, why in FRENCH_FAULTS.items():
            if re.search(pattern, s):
                errors.append(f"line {n}: {why}: {s.strip()!r}")
    _, body = split_front_matter(text)
    for line, code in fenced(body):
        for m in re.finditer(r"\bcf\.", "" if code else line):
            if not re.match(r"\s*\[?-?@\w", line[m.end():]):
                errors.append(f"« cf. » without its reference: {line.strip()!r}")
    for title, lines in parse_slides(text):
        shown = "\n".join(lines)
        for note in divs(lines, "notes"):
            shown = shown.replace(note, "")
        shown = ENGLISH_SPAN.sub("", shown)
        for pattern in ENGLISH_IN_SLIDES:
            if re.search(pattern, shown):
                errors.append(f"{title!r}: English in the slide's text ({pattern})")
    return errors


def typography_errors(text: str) -> list[str]:
    errors = english_errors(text)
    for n, s in prose_lines(text):
        if s.lstrip().startswith("<"):
            continue                                          # raw HTML (an iframe): attribute syntax
        if '"' in s:
            errors.append(f"line {n}: ASCII quote in prose: {s.strip()!r}")
        if "“" in s or "”" in s:
            errors.append(f"line {n}: English quotes “ ” in prose, use « »: {s.strip()!r}")
        for m in re.finditer(r"[:;!?]", s):
            i, ch = m.start(), m.group()
            prev = s[i - 1] if i else ""
            nxt = s[i + 1] if i + 1 < len(s) else ""
            if prev and prev in NBSP:
                continue
            if ch in "!?" and prev in ("!", "?"):
                continue                                      # "??", "?!"
            if ch == ":" and prev.isdigit() and nxt.isdigit():
                continue                                      # 7:30
            errors.append(f"line {n}: no no-break space before {ch!r}: {s.strip()!r}")
        for m in re.finditer("«", s):
            if s[m.end():m.end() + 1] not in tuple(NBSP):
                errors.append(f"line {n}: no no-break space after «: {s.strip()!r}")
        for m in re.finditer("»", s):
            if m.start() == 0 or s[m.start() - 1] not in NBSP:
                errors.append(f"line {n}: no no-break space before »: {s.strip()!r}")
    return errors


def figure_refs(text: str) -> list[tuple[str, str]]:
    return re.findall(r"_figures/([a-z0-9][a-z0-9-]*)/([^)\s\"'}]+)", text)


def declared_figures() -> dict[str, list[str]]:
    """{name: outputs} from the FIGURE literal of each figures/*.py (read, never run)."""
    out = {}
    for path in sorted(FIGURES.glob("*.py")):
        if path.name.startswith("_"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "FIGURE" for t in node.targets):
                decl = ast.literal_eval(node.value)
                out[decl["name"]] = list(decl.get("outputs", []))
    return out


# ----------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def qmd() -> str:
    return QMD.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def bib() -> str:
    return BIB.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def seed() -> str:
    return SEED.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def slides(qmd):
    return dict(parse_slides(qmd))


def slide(slides, title: str) -> str:
    key = {normalise(t): t for t in slides}[normalise(title)]
    return "\n".join(slides[key])


# ----------------------------------------------------------------------------------------
# the seed


def test_seed_fixture_is_the_verbatim_seed(seed):
    assert hashlib.sha256(SEED.read_bytes()).hexdigest() == SEED_SHA256


def test_title_list_matches_the_seed(seed):
    lines = [line.strip() for line in seed.split("\n")]
    pos = 0
    for title in SEED_TITLE_BLOCK + SEED_TITLES:
        assert title in lines[pos:], f"{title!r} is not a line of the seed (after line {pos})"
        pos = lines.index(title, pos) + 1


# ----------------------------------------------------------------------------------------
# the deck


def test_front_matter_and_title_slide(qmd):
    fm, _ = split_front_matter(qmd)
    meta = yaml.safe_load(fm)
    assert "title" not in meta, "a `title` makes the renderers add a title slide without notes"
    assert normalise(meta["pagetitle"]) == normalise(SEED_TITLE_BLOCK[0])
    assert meta["author"] == "Christophe Cerisara"
    title, lines = parse_slides(qmd)[0]
    assert normalise(title) == normalise(SEED_TITLE_BLOCK[0])
    body = "\n".join(lines)
    assert "https://ia.loria.fr/ces" in body and "Christophe Cerisara" in body
    assert "CNRS" in body and "cerisara@loria.fr" in body
    assert meta["lang"] == "fr"
    assert meta["bibliography"] == "references.bib"


def test_every_seed_slide_in_order(qmd):
    assert title_errors(qmd) == []


def test_every_seed_line_is_on_a_slide(qmd, seed):
    """No text of the talk is dropped: every line of the seed, code included, is in the deck (or in
    the whole transcript a slide links to)."""
    assert missing_seed_lines(qmd, seed) == []
    # the same deck without the link to the whole AoT trace drops most of the trace's lines
    unlinked = qmd.replace("](_figures/llm-aot/aot-trace.html)", "](#)")
    assert len(missing_seed_lines(unlinked, seed)) > 30


def test_every_slide_has_speaker_notes(qmd):
    assert notes_errors(qmd) == []


def test_every_citation_is_in_the_bibliography(qmd, bib):
    assert cited_keys(qmd), "the deck cites nothing"
    assert citation_errors(qmd, bib) == []


def test_bibliography_entries_are_complete(bib):
    entries = re.split(r"(?m)^@", bib)[1:]
    assert len(entries) == len(bib_keys(bib))
    for entry in entries:
        key = entry.split("{", 1)[1].split(",", 1)[0]
        for field in ("author", "title", "year"):
            assert re.search(rf"^\s*{field}\s*=", entry, re.M), f"{key}: no {field}"
        assert re.search(r"^\s*(eprint|journal|booktitle|url|doi)\s*=", entry, re.M), \
            f"{key}: no arXiv id, venue or URL"


def test_bibliography_slide_then_reproduction_slide(slides):
    titles = list(slides)
    assert titles[-2:] == ["Références", "Reproduire cet exposé"]
    assert "::: {#refs}" in slide(slides, "Références")
    last = slide(slides, "Reproduire cet exposé")
    for command in ("pip install -c constraints.txt -e '.[talk]' && ces build", "python -m pytest",
                    "ces status"):
        assert command in last


def test_french_typography(qmd):
    assert typography_errors(qmd) == []
    assert french_errors(qmd) == []


# ----------------------------------------------------------------------------------------
# few words: at most 50 visible words per slide at its last fragment (code, sources, captions,
# the references and speaker notes aside), counted in the HTML pandoc renders from the deck.

MAX_WORDS = 50
_SKIPPED = {"pre", "code", "figcaption", "aside", "script", "style", "math", "title"}
_SKIPPED_CLASSES = {"source", "notes", "ces-provenance-band"}   # provenance links: a source


def slide_words(html_text: str) -> dict[str, int]:
    """{slide title: visible words, the title's included} of a rendered Reveal.js page (a
    formula is one word)."""
    from html.parser import HTMLParser

    class Walk(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.stack, self.words, self.title, self.heading = [], {}, None, False

        def handle_starttag(self, tag, attrs):
            if tag in ("img", "br", "hr", "meta", "link", "input", "source"):
                return
            a = dict(attrs)
            classes = set((a.get("class") or "").split())
            skip = tag in _SKIPPED or bool(classes & _SKIPPED_CLASSES) or a.get("id") == "refs"
            self.stack.append((tag, skip))
            if tag == "section" and "slide" in classes:
                self.title = None
            if tag == "math" and self.title is not None and not self._skipped(ignore_last=True):
                self.words[self.title] += 1
            if tag in ("h1", "h2"):
                self.heading = True

        def _skipped(self, ignore_last=False):
            frames = self.stack[:-1] if ignore_last else self.stack
            return any(skip for _, skip in frames)

        def handle_endtag(self, tag):
            while self.stack:
                open_tag, _ = self.stack.pop()
                if open_tag == tag:
                    break
            if tag in ("h1", "h2"):
                self.heading = False

        def handle_data(self, data):
            if self.heading and self.title is None:          # the slide's title: its words count too
                self.title = " ".join(data.split())
                self.words.setdefault(self.title, 0)
            if self.title is None or self._skipped():
                return
            self.words[self.title] += len([w for w in re.split(r"[\s\u00a0\u202f]+", data)
                                           if re.search(r"\w", w)])

    walk = Walk()
    walk.feed(html_text)
    return walk.words


def render_html(text: str, tmp: Path) -> str:
    """The deck rendered by the embedded pandoc (no figures needed to count words)."""
    import shutil
    import subprocess

    from builder.render import pandoc_path

    for name in ("references.bib", "compact.csl"):
        shutil.copy2(ROOT / "slides" / name, tmp / name)
    (tmp / "index.qmd").write_text(text, encoding="utf-8")
    subprocess.run([pandoc_path(), "index.qmd", "--from", "markdown", "--to", "revealjs", "--standalone",
                    "--mathml", "--citeproc", "--output", "index.html"], cwd=tmp, check=True,
                   capture_output=True)
    return (tmp / "index.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def words(qmd, tmp_path_factory):
    return slide_words(render_html(qmd, tmp_path_factory.mktemp("words")))


def test_few_words_per_slide(words):
    assert len(words) == len(EXPECTED_TITLES)
    dense = {t: n for t, n in words.items() if n > MAX_WORDS}
    assert dense == {}, f"slides over {MAX_WORDS} words: {dense}"


def test_word_count_catches_a_dense_slide(qmd, tmp_path):
    i = qmd.index("\n## Conclusion")
    prose = " ".join(["mot"] * 45)
    dense = qmd[:i] + "\n\n" + prose + "\n" + qmd[i:]      # 45 more words on « Conclusion »'s predecessor
    counted = slide_words(render_html(dense, tmp_path))
    assert max(counted.values()) > MAX_WORDS
    # and words in code or in a source line do not count
    code = qmd[:i] + "\n\n```text\n" + prose + "\n```\n\n::: {.source}\n" + prose + "\n:::\n" + qmd[i:]
    assert max(slide_words(render_html(code, tmp_path)).values()) <= MAX_WORDS


def test_no_shrunk_slides(qmd):
    """No `.smaller` slide: bullets stay at their size (slides/deck.css)."""
    assert shrunk_slides(qmd) == []
    assert shrunk_slides(qmd.replace("## Conclusion {.big}", "## Conclusion {.smaller}"))


def shrunk_slides(text: str) -> list[str]:
    _, body = split_front_matter(text)
    return [line for line, code in fenced(body) if not code and line.startswith("## ") and ".smaller" in line]


# Where the talk is wrong, the slide says what is true; its notes quote the talk (one line
# « Dans l'exposé original : … ») and the Errata page (figures/errata.py) has one row per
# correction, read from figures/data/errata.yml. No correction box on any slide.
ERRATA_YML = ROOT / "figures" / "data" / "errata.yml"
ERRATA_PAGE = "_figures/errata/errata.html"


def load_errata() -> list[dict]:
    return yaml.safe_load(ERRATA_YML.read_text(encoding="utf-8"))


def _flat(s: str) -> str:
    """Text to compare: English spans and code unwrapped, typography normalised."""
    s = ENGLISH_SPAN.sub(r"\1", s).replace("`", "")
    return normalise(s)


def original_lines(text: str) -> dict[str, str]:
    """{slide title: its note line « Dans l'exposé original : … »}."""
    found = {}
    for title, lines in parse_slides(text):
        for note in divs(lines, "notes"):
            for para in re.split(r"\n\s*\n", note):
                if unicodedata.normalize("NFKC", para.strip()).startswith(unicodedata.normalize("NFKC", ORIGINAL)):
                    found[title] = para.strip()
    return found


def errata_errors(text: str, rows: list[dict], bib: str) -> list[str]:
    """Every note line has its rows and every row its note line (quoting the row's original);
    each row names a slide of the deck, says what is right and gives a source; a corrected title
    has its row; no slide carries an erratum box; the Errata page is linked from the title slide
    and from the last slide before the references."""
    errors = []
    slides = parse_slides(text)
    titles = {normalise(t): t for t, _ in slides}
    notes = {normalise(t): line for t, line in original_lines(text).items()}
    keys = bib_keys(bib)
    by_slide: dict[str, list[dict]] = {}
    for i, row in enumerate(rows, start=1):
        for field in ("slide", "original", "correct", "source"):
            if not row.get(field):
                errors.append(f"errata.yml row {i}: no {field!r}")
        slide = normalise(row.get("slide", ""))
        if slide not in titles:
            errors.append(f"errata.yml row {i}: no slide titled {row.get('slide')!r}")
            continue
        by_slide.setdefault(slide, []).append(row)
        source = row.get("source") or {}
        if not (source.get("keys") or source.get("text")):
            errors.append(f"errata.yml row {i}: a source needs keys or text")
        errors += [f"errata.yml row {i}: [@{k}] is not in references.bib" for k in source.get("keys") or []
                   if k not in keys]
        line = notes.get(slide)
        if line is None:
            errors.append(f"{row['slide']!r}: row {i} but no « {ORIGINAL} » line in its notes")
        elif _flat(row["original"]) not in _flat(line):
            errors.append(f"{row['slide']!r}: its note line does not quote row {i}'s {row['original']!r}")
    for slide, line in notes.items():
        if slide not in by_slide:
            errors.append(f"{titles.get(slide, slide)!r}: a « {ORIGINAL} » line without an Errata row")
    for seed_title in WRONG_TITLES:
        fixed = normalise(TITLE_FIXES[seed_title])
        if not any(normalise(seed_title) in {normalise(s) for s in r.get("seed") or []}
                   for r in by_slide.get(fixed, [])):
            errors.append(f"title {seed_title!r} corrected without an Errata row")
    for title, lines in slides:
        if divs(lines, "erratum") or re.search(r"\{[^}]*\.erratum", "\n".join(lines)):
            errors.append(f"{title!r}: an erratum box on the slide")
    first = "\n".join(slides[0][1])
    last = next((lines for title, lines in slides if normalise(title) == normalise("Merci !")), [])
    for where, body in (("title slide", first), ("« Merci ! »", "\n".join(last))):
        if f"]({ERRATA_PAGE})" not in body:
            errors.append(f"{where}: no link to the Errata page")
    return errors


@pytest.fixture(scope="module")
def errata():
    return load_errata()


def test_errata_rows_match_the_note_lines(qmd, errata, bib):
    assert len(errata) >= 10
    assert errata_errors(qmd, errata, bib) == []


def test_errata_page_is_a_figure_with_one_row_per_correction(errata, tmp_path):
    """figures/errata.py, run alone, writes a French page with a row per correction."""
    import subprocess
    import sys

    out = tmp_path / "errata"
    env = {**__import__("os").environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, str(FIGURES / "errata.py"), "--out", str(out)], check=True, env=env,
                   cwd=ROOT, capture_output=True)
    page = (out / "errata.html").read_text(encoding="utf-8")
    assert '<html lang="fr">' in page and "Errata" in page
    assert page.count("<tr><td>") == len(errata)
    for row in errata:
        assert __import__("html").escape(row["slide"]) in page
    assert "errata.html" in declared_figures()["errata"]


def test_errata_checks_fail_on_a_broken_deck(qmd, errata, bib):
    # a note line dropped: its rows are orphans
    line = original_lines(qmd)["Anthropic paper 2022"]
    assert errata_errors(qmd.replace(line, ""), errata, bib)
    # a row dropped: its note line has no row
    assert errata_errors(qmd, [r for r in errata if not r["slide"].startswith("Anthropic")], bib)
    # a row whose original the note does not quote
    edited = [dict(r, original="autre chose") if r["slide"].startswith("Anthropic") else r for r in errata]
    assert errata_errors(qmd, edited, bib)
    # an erratum box back on a slide
    i = qmd.index("\n## Conclusion")
    boxed = qmd[:i] + "\n::: {.erratum}\nErratum : ceci.\n:::\n" + qmd[i:]
    assert any("erratum box" in e for e in errata_errors(boxed, errata, bib))
    # the link from the title slide removed
    assert errata_errors(qmd.replace(f"]({ERRATA_PAGE})", "](#)", 1), errata, bib)
    # an unknown reference
    assert errata_errors(qmd, [dict(errata[1], source={"keys": ["nobody1999"]})] + errata[2:], bib)


def test_errata_rows_follow_french_typography(errata):
    text = "\n".join(f"{r['original']}\n{r['correct']}" for r in errata)
    assert typography_errors(text) == []


@pytest.mark.parametrize("title", [
    "Les LLM savent programmer", "Les LLM codent pour “raisonner”", "Algorithm of thoughts",
    "GPT3 paper 2020"])
def test_quoted_llm_answers_are_labelled(slides, title):
    labels = divs(slide(slides, title).split("\n"), "transcript")
    assert labels and "exposé original" in labels[0]


def test_talk_code_is_fenced_with_a_language(qmd):
    _, body = split_front_matter(qmd)
    opening, inside = [], False
    for line, code in fenced(body):
        if code and re.match(r"^\s*```", line):
            if not inside:
                opening.append(line.strip())
            inside = not inside
    assert opening and all(re.match(r"^```\s*\{?\.?[a-z]+", o) for o in opening), opening


def test_figures_are_declared_by_scripts(qmd):
    """Every _figures/<name>/<file> of the deck is an output of a figures/*.py FIGURE."""
    refs = figure_refs(qmd)
    assert refs
    declared = declared_figures()
    problems = [f"_figures/{n}/{f}" for n, f in refs if f not in declared.get(n, [])]
    assert problems == [], f"not declared by any figures/*.py: {problems}"


SOURCES = ROOT / "docs" / "sources.md"
README = ROOT / "README.md"
# What an unsourced or provisional number looks like in the deck: a « non vérifié » marker,
# a reference to the research notes that are not in the repository, or a claim the sources
# file says was removed (GPT-4's rumoured dates and sizes).
UNSOURCED = [r"non vérifié", r"facts\.md", r"juin 2023", r"1 ?800 milliards"]


def source_errors(text: str) -> list[str]:
    """Unsourced markers in the slides and notes."""
    flat = unicodedata.normalize("NFKC", text)
    return [f"{pattern!r} in the deck" for pattern in UNSOURCED if re.search(pattern, flat)]


def sources_sections() -> set[str]:
    """Labels of docs/sources.md's sections: '### A9. …' -> 'A9', '## B. …' -> '§B'."""
    text = SOURCES.read_text(encoding="utf-8")
    labels = set(re.findall(r"^### ([A-Z]\d+[a-z]?)\.", text, re.M))
    labels |= {f"§{x}" for x in re.findall(r"^## ([A-Z])\.", text, re.M)}
    labels |= set(re.findall(r"^- \*\*(F\d+[a-z]?)\*\*", text, re.M))
    return labels


def script_citation_errors(docstrings: dict[str, str]) -> list[str]:
    """Each figure script's docstring cites docs/sources.md, never facts.md, and only sections
    that exist there."""
    known = sources_sections()
    errors = []
    for name, doc in docstrings.items():
        if "facts.md" in doc:
            errors.append(f"{name}: cites facts.md, which is not in the repository")
        for ref in re.findall(r"docs/sources\.md,? ((?:§?[A-Z]\d*[a-z]?)(?:[,/ ]+(?:and )?§?[A-Z]\d+[a-z]?)*)", doc):
            for label in re.findall(r"§?[A-Z]\d*[a-z]?", ref):
                if label not in known:
                    errors.append(f"{name}: cites docs/sources.md {label}, which has no such section")
    return errors


def figure_docstrings() -> dict[str, str]:
    out = {}
    for path in sorted(FIGURES.glob("*.py")):
        out[path.name] = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return out


def test_no_unsourced_markers(qmd):
    assert source_errors(qmd) == []


def test_scripts_cite_the_sources_file():
    assert script_citation_errors(figure_docstrings()) == []


def test_notes_are_labelled_as_written_for_the_reconstruction():
    """Said once, in README and in docs/sources.md (the title slide's note says it too)."""
    for path in (README, SOURCES):
        text = " ".join(path.read_text(encoding="utf-8").split())
        assert "written for this reconstruction" in text, path.name


# ----------------------------------------------------------------------------------------
# the checks above do fail on a broken deck


def _drop_slide(text: str, title: str) -> str:
    start = text.index(f"\n## {title}")
    end = text.index("\n## ", start + 1)
    return text[:start] + text[end:]


def test_checks_catch_a_dropped_slide(qmd):
    assert title_errors(_drop_slide(qmd, "Baidu paper 2017"))


def test_checks_catch_swapped_slides(qmd):
    a, b = qmd.index("\n## Baidu paper 2017"), qmd.index("\n## Scaling laws for Neural LM")
    c = qmd.index("\n## ", b + 1)
    assert title_errors(qmd[:a] + qmd[b:c] + qmd[a:b] + qmd[c:])


def test_checks_catch_a_suite_without_its_slide(qmd):
    assert title_errors(qmd.replace("## Algorithm of thoughts (suite)", "## Baidu paper 2017 (suite)"))
    assert title_errors(qmd.replace("## 2017\u00a0: le transformer", "## 2018\u00a0: le transformer"))


def test_checks_catch_an_added_slide(qmd):
    i = qmd.index("\n## Conclusion")
    extra = "\n## Une diapositive en trop\n\n::: notes\nune note assez longue pour passer le test\n:::\n"
    assert title_errors(qmd[:i] + extra + qmd[i:])


def test_checks_catch_dropped_text(qmd, seed, tmp_path, monkeypatch):
    assert missing_seed_lines(qmd.replace("  - Les LLM bouleversent le métier de dev\n", ""), seed)
    # a reworded line dropped, and a corrected line whose Errata row is dropped
    assert missing_seed_lines(qmd.replace("Ils coûtent de moins en moins cher à utiliser", "Ils"), seed) == [
        "• Ils coutent de moins en moins cher à utiliser"]
    rows = [r for r in load_errata() if "Vicuna" not in r["original"]]
    assert missing_seed_lines(qmd, seed, rows) == ["• Vicuna (Open Source) = 7b"]
    assert missing_seed_lines(qmd.replace("ans = dist_a_b / (train1_speed + train2_speed)", "ans = 0"), seed)
    # a line of the whole AoT trace, edited in the transcript that the slide links to
    link, sources = next(iter(LINKED_TRANSCRIPTS.items()))
    edited = tmp_path / "aot.txt"
    edited.write_text(sources[0].read_text(encoding="utf-8").replace(
        "- 8 + 4: (12, 11): 23, 7, 132, 3", "- 8 + 4: (12, 11)"), encoding="utf-8")
    monkeypatch.setitem(LINKED_TRANSCRIPTS, link, [edited, *sources[1:]])
    assert missing_seed_lines(qmd, seed) == ["- 8 + 4: (12, 11): 23, 7, 132, 3"]


def test_checks_catch_a_missing_note(qmd):
    start = qmd.index("::: notes", qmd.index("\n## Baidu paper 2017"))
    end = qmd.index("\n:::", start + 1) + 4
    assert notes_errors(qmd[:start] + qmd[end:])


def test_checks_catch_an_unknown_citation(qmd, bib):
    assert citation_errors(qmd + "\nVoir [@nobody1999].\n", bib)


@pytest.mark.parametrize("line", [
    'Il dit "bonjour".',
    "Erratum : deux-points sans espace insécable.",
    "Pourquoi ?",
    "Du gros au « petit ».",
    "«\u00a0[How can I draw a sinusoid in javascript\u202f?]{lang=en}\u00a0»",   # French space inside English
])
def test_checks_catch_bad_typography(qmd, line):
    assert typography_errors(qmd + "\n" + line + "\n")


def test_verbatim_english_keeps_its_typography(qmd):
    assert typography_errors(qmd + "\n«\u00a0[How can I draw a sinusoid in javascript?]{lang=en}\u00a0»\n") == []


@pytest.mark.parametrize("line", [
    "Les LLMs sont partout.",
    "C\u2019est la 1ère fois.",
    "L\u2019emergence de capacités.",
    "Ils coutent cher.",
    "Depuis longtemps (cf. Paper on learning curves).",
    "- scaling law = power law",
])
def test_checks_catch_bad_french(qmd, line):
    i = qmd.index("\n::: notes", qmd.index("\n## Conclusion"))
    assert french_errors(qmd[:i] + "\n" + line + "\n" + qmd[i:])


def test_checks_catch_long_or_misplaced_notes(qmd):
    start = qmd.index("::: notes", qmd.index("\n## Baidu paper 2017")) + len("::: notes\n")
    assert notes_errors(qmd[:start] + "mot " * 81 + "\n" + qmd[start:])
    assert notes_errors(qmd[:start] + "Un repère.\n\nUn autre.\n\n" + qmd[start:])


@pytest.mark.parametrize("mutation", [
    "Selon une rumeur de juin 2023, GPT-4 ferait 1 800 milliards de paramètres.",
    "Un chiffre [non vérifié : à retrouver].",
    "Voir facts.md A9.",
])
def test_checks_catch_an_unsourced_number(qmd, mutation):
    assert source_errors(qmd + "\n::: notes\n" + mutation + "\n:::\n")


def test_checks_catch_a_script_citing_a_missing_source():
    docs = figure_docstrings()
    assert script_citation_errors({**docs, "x.py": "see facts.md A9"})
    assert script_citation_errors({**docs, "x.py": "(docs/sources.md A99)"})
    assert script_citation_errors({**docs, "x.py": "docs/sources.md A9 and Z3"})
