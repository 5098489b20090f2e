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

# The seed's outline list has no title line: the deck calls that slide "Plan". The deck ends
# with the bibliography and the reproduction slide. No other slide may be added.
EXPECTED_TITLES = (
    SEED_TITLE_BLOCK[:1] + SEED_TITLES[:3] + ["Plan"] + SEED_TITLES[3:] + ["Références", "Reproduire cet exposé"]
)

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


def prose_lines(text: str):
    """(line number, prose) for body lines outside code and fence markers, markup stripped."""
    _, body = split_front_matter(text)
    offset = len(text.split("\n")) - len(body) + 1
    for i, (line, code) in enumerate(fenced(body)):
        if code or line.lstrip().startswith(":::"):
            continue
        s = re.sub(r"`[^`]*`", "", line)                      # inline code
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


def missing_seed_lines(text: str, seed: str) -> list[str]:
    """Lines of the seed (after its title block) whose text is nowhere in the deck's body, nor in
    a whole transcript that a slide links to."""
    _, body = split_front_matter(text)
    linked = [path.read_text(encoding="utf-8") for link, paths in LINKED_TRANSCRIPTS.items()
              if f"]({link})" in text for path in paths]
    deck = normalise(re.sub(r"<([^<>\s]+)>", r"\1", "\n".join(body + linked)))
    lines = seed.split("\n")
    start = [line.strip() for line in lines].index(SEED_TITLE_BLOCK[-1]) + 1
    missing = []
    for line in lines[start:]:  # the title block is checked in test_front_matter
        wanted = normalise(re.sub(r"^\s*•\s*", "", line))
        if wanted and wanted not in deck:
            missing.append(line.strip())
    return missing


def notes_errors(text: str) -> list[str]:
    errors = []
    for title, lines in parse_slides(text):
        notes = divs(lines, "notes")
        if len(notes) != 1:
            errors.append(f"{title!r}: {len(notes)} notes blocks, expected 1")
            continue
        note = notes[0]
        if len(note.split()) < 8:
            errors.append(f"{title!r}: notes too short ({note!r})")
        if re.search(r"\n\s*\n", note):
            errors.append(f"{title!r}: notes should be one paragraph")
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


def typography_errors(text: str) -> list[str]:
    errors = []
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


# Where the talk is wrong (docs/sources.md), the slide keeps the talk's text and adds an erratum.
ERRATA = {
    "Les réseaux neuronaux sont des programmes dérivables": ["sigmoïde", "6 ou 9", "8 au lieu de 10"],
    "2018: le transformer est un réseau neuronal": ["2017", "@vaswani2017attention"],
    "Les LLMs sont des transformers": ["540", "GPT-4", "Falcon-180B TII License 1.0", "OSI"],
    "Les LLM savent programmer": ["@roziere2023codellama"],
    "Les LLM codent pour “raisonner”": ["50/17", "@chen2022pot"],
    "Algorithm of thoughts": ["(7, 7, 1)", "(28, 12)", "(11, 4)", "1,09", "1,57", "1,04",
                              "Six erreurs", "@sel2023aot"],
    "Chinchilla paper 2022": ["0,34", "Kaplan", "@hoffmann2022chinchilla"],
    "Anthropic paper 2022": ["Michaud", "@ganguli2022predictability"],
    "Jason Wei a dénombré 137 capacités émergentes:": ["PoT", "AoT", "@wei2022blog"],
}


@pytest.mark.parametrize("title", ERRATA, ids=list(range(len(ERRATA))))
def test_errata(slides, title):
    errata = divs(slide(slides, title).split("\n"), "erratum")
    assert errata, f"{title!r}: no erratum"
    text = unicodedata.normalize("NFKC", " ".join(errata))
    for needle in ERRATA[title]:
        assert needle in text, f"{title!r}: erratum lacks {needle!r}"


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


def test_checks_catch_an_added_slide(qmd):
    i = qmd.index("\n## Conclusion")
    extra = "\n## Une diapositive en trop\n\n::: notes\nune note assez longue pour passer le test\n:::\n"
    assert title_errors(qmd[:i] + extra + qmd[i:])


def test_checks_catch_dropped_text(qmd, seed, tmp_path, monkeypatch):
    assert missing_seed_lines(qmd.replace("  - Vicuna (Open Source) = 7b\n", ""), seed)
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
])
def test_checks_catch_bad_typography(qmd, line):
    assert typography_errors(qmd + "\n" + line + "\n")


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
