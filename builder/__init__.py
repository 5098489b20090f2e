"""ces: build a Reveal.js deck whose every figure is recomputed from code.

`cli` holds the commands only; each stage is one module behind it (imports go down this list,
never up: tests/test_imports.py checks that the import graph has no cycle):
  build      the pipeline of `ces build`, `status`, `clean`
  preview    `ces preview`; pdf: `ces pdf`; verify: `ces verify` (recompute and compare)
  figures    discover and validate the figure scripts in figures/
  profiles   the profiles (smoke, quick, full), defined once; a figure's params per profile
  slides     read and check the slides before rendering
  runner     bring stale figures up to date, upstream first, -j at once; check and commit
  executors  where a figure runs: local (via launch) or slurm (submitit); ces.yml
  slurm      the Slurm executor: job arrays, re-attach, job state
  launch     start a subprocess: limits, group kill, die with parent, timeout, log tail
  harness    runs inside a figure's process: records what it reads; its command and run file
  script     the small API a figure script imports
  keys       what goes into a key, and make_key, the one function that computes one
  cache      entries on disk, lookup, verification of entries, commit
  memo       facts about Python sources (declaration, code digests, imports), by content hash
  render     Quarto when on PATH, else embedded pandoc + Reveal.js (assets)
  publish    hashed figure names, provenance page and links
  llm        LLM backends and pinned answers; sandbox: run untrusted code
  files      the project root, the atomic write
  errors     the exceptions users see, one line each, and the exit codes
"""

__version__ = "0.1.0"
