"""ces: build a Reveal.js deck whose every figure is recomputed from code.

Stages, one module each (see README, "How ces works"):
  figures  discover and validate the figure scripts in figures/
  cache    what goes into a key, entries on disk, verification
  runner   run stale figures in subprocesses (harness.py runs inside them)
  slides   read and check the slides before rendering
  render   Quarto when on PATH, else embedded pandoc + Reveal.js
  script   the small API a figure script imports
  errors   the exceptions users see, one line each
"""

__version__ = "0.1.0"
