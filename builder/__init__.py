"""ces: build a Reveal.js deck whose every figure is recomputed from code.

`cli` holds the commands only; each stage is one module behind it:
  build      the pipeline of `ces build`, `status`, `clean`
  figures    discover and validate the figure scripts in figures/
  memo       facts about Python sources (declaration, code digests, imports), by content hash
  cache      what goes into a key, entries on disk, verification
  runner     run stale figures in subprocesses, upstream first, -j at once
  harness    runs inside a figure's process: records what it reads
  executors  local subprocesses or Slurm through submitit
  slides     read and check the slides before rendering
  render     Quarto when on PATH, else embedded pandoc + Reveal.js (assets)
  publish    hashed figure names, provenance page and links
  preview    `ces preview`; pdf: `ces pdf`
  verify     `ces verify`: recompute and compare
  llm        LLM backends and pinned answers; sandbox: run untrusted code
  script     the small API a figure script imports
  errors     the exceptions users see, one line each
"""

__version__ = "0.1.0"
