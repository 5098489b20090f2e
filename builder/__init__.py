"""ces: build a Reveal.js deck whose every figure is recomputed from code.

`cli` holds the commands only; each stage is one module behind it. The layers, top down: a
module imports only modules below it, or beside it on its line (tests/test_imports.py checks
this list against the import graph, lazy imports included, and that the graph has no cycle):

  cli                 the commands: options and help; imports each stage when its command runs
  new                 `ces new`: a new talk repository, a figure skeleton (builder/templates/new)
  check               `ces check`: walk the deck in Chromium, report layout problems per slide
  pdf                 `ces pdf`: print the deck with Chromium
  preview, verify     `ces preview` (rebuild on change, live reload); `ces verify` (recompute, compare)
  build               `ces build`, `status`, `clean`: BuildRequest and the stages in order
  browser             the local server and the Chromium session that check, pdf and preview share
  site                _site/: the renderer chosen, rendered in staging, stamp and manifest, swapped in
  pandoc, quarto      the two renderers (deck.Renderer): embedded pandoc + Reveal.js, or Quarto
  deck                _quarto.yml checked (Deck), the Renderer interface, what both renderers share
  publish, assets     hashed figure names, provenance page and links; the pinned Reveal.js
  slides              read and check the slides before rendering
  runner              bring stale figures up to date, upstream first, -j at once; check and commit
  executors           where a figure runs: local (via launch) or slurm
  slurm               the Slurm executor: submission, job arrays, re-attach (submitit)
  slurm_node          what a Slurm job runs on its node
  slurm_jobs          job state: job.json, sacct/squeue, the staging of submitted jobs
  trace               what every executor runs for a figure: the harness under strace; the record of reads
  harness             runs inside a figure's process: its audit hook, its report; its command and run file
  guard               confines a figure's process tree (Landlock: writes, signals; the sandbox broker)
  script              the small API a figure script imports
  cache               entries on disk, lookup, verification of entries, commit
  keys                what goes into a key, and make_key, the one function that computes one
  figures             discover and validate the figure scripts in figures/
  memo                facts about Python sources (declaration, code digests, imports), by content hash
  llm, sandbox        LLM backends and pinned answers; run untrusted code
  launch              start a subprocess: limits, group kill, die with parent, timeout, log tail
  config              the validation helper (expect, Kind) and ces.yml, read once
  profiles            the profiles (smoke, quick, full); a figure's params per profile, its default name
  files               the project root, the atomic write, YAML files
  errors              the exceptions users see, one line each, and the exit codes
"""

__version__ = "0.1.0"
