"""Code in an LLM answer: pull it out of the text (llm_pot.py, llm_sinusoid.py).

What is pulled out is data: it runs only inside builder.sandbox or a sandboxed iframe, never in
ces. The sinusoid page and its measure are in _sinusoid.py.
"""

from __future__ import annotations

import re

# -- code in an answer ---------------------------------------------------------------------

_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)^[ \t]*```[ \t]*$", re.M | re.S)
_CODE_CHARS = re.compile(r"[=;{}()\[\]]")
_PROSE = re.compile(r"^[A-Z][\w'’,-]*(\s+\S+){3,}\s*$")


def extract_code(text: str, languages: tuple[str, ...]) -> tuple[str, str, list[str]]:
    """(code, how, prose) from an answer. how: "fenced" (a ``` block, preferring `languages`),
    "lines" (no fences: the span from the first to the last line that is not an English
    sentence), or "none". prose: the answer's sentences outside the code."""
    blocks = [(m.group(1).lower(), m.group(2), m.span()) for m in _FENCE.finditer(text)]
    if blocks:
        chosen = next((b for b in blocks if b[0] in languages), blocks[0])
        prose = [l.strip() for l in _FENCE.sub("\n", text).splitlines() if l.strip()]
        return chosen[1].rstrip("\n"), "fenced", prose
    lines = text.splitlines()
    code_idx = [i for i, line in enumerate(lines) if line.strip() and not _is_prose(line)]
    if not code_idx:
        return "", "none", _prose_lines(text)
    first, last = code_idx[0], code_idx[-1]
    prose = lines[:first] + lines[last + 1:]
    return "\n".join(lines[first:last + 1]), "lines", [p.strip() for p in prose if p.strip()]


def _is_prose(line: str) -> bool:
    s = line.strip()
    if s.startswith(("//", "#", "/*", "*", "<")) or line[:1] in " \t":
        return False
    return bool(_PROSE.match(s)) and not _CODE_CHARS.search(s)


def _prose_lines(text: str) -> list[str]:
    return [l.strip() for l in text.splitlines() if l.strip() and _is_prose(l)]


def scripts_in_html(code: str) -> str:
    """The inline scripts of an HTML answer (for an answer that wrote a whole page)."""
    return "\n".join(m.group(1) for m in re.finditer(r"<script[^>]*>(.*?)</script>", code, re.S | re.I))
