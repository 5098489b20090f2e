"""The slides' font for the HTML pages figures write (the sinusoid page, the AoT trace, the
Errata page): figures/fonts/' Source Sans Pro, the Reveal theme's, embedded as data: URLs.

    from _fonts import font_face_css
    page = f"<style>{font_face_css()} body{{font-family:'Source Sans Pro',sans-serif}}</style>"

Subset to the Latin text a French page shows, so a page stays small (about 116 KB for both
weights) and self-contained (no request, whatever the deck's renderer puts where); a glyph
outside the subset falls back to the next family. Same files, same bytes (no timestamp).
"""

from __future__ import annotations

import base64
import io
from functools import cache
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

FONT_DIR = Path(__file__).resolve().parent / "fonts"
_UNICODES = [*range(0x20, 0x7F), *range(0xA0, 0x180), 0x2009, 0x202F, 0x2013, 0x2014, 0x2019,
             0x201C, 0x201D, 0x2026, 0x2190, 0x2192, 0x2212, 0x2248]


@cache
def font_face_css() -> str:
    """@font-face rules for Source Sans Pro 400 and 600, subset, as data: URLs."""
    rules = []
    for weight, file in ((400, "source-sans-pro-regular.ttf"), (600, "source-sans-pro-semibold.ttf")):
        font = TTFont(FONT_DIR / file, recalcTimestamp=False)
        options = subset.Options(hinting=False, layout_features=["kern", "liga"], name_IDs=[1, 2],
                                 drop_tables=subset.Options().drop_tables + ["FFTM", "webf"])
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=_UNICODES)
        subsetter.subset(font)
        buffer = io.BytesIO()
        font.save(buffer)
        data = base64.b64encode(buffer.getvalue()).decode("ascii")
        rules.append(f'@font-face{{font-family:"Source Sans Pro";font-weight:{weight};'
                     f'src:url(data:font/ttf;base64,{data}) format("truetype")}}')
    return "\n".join(rules)
