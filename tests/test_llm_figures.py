"""The llm_* figure scripts, run as users run them (smoke profile), with no model configured,
with pinned model answers, and once under the build harness; plus the page builders' escaping
and (browser) the sandboxed canvas frames in Debian's chromium."""

from __future__ import annotations

import ast
import html.parser
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from builder import llm, sandbox
from builder.profiles import params_of

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "figures"))
import _llm  # noqa: E402  (figures/ helper modules)
import _sinusoid  # noqa: E402

try:  # importable both as tests.browser and, with rootdir tests/ on sys.path, as browser
    from tests import browser
except ImportError:  # pragma: no cover
    import browser

pytestmark = pytest.mark.slow
HAS_NODE = sandbox.isolation() == "bubblewrap" and bool(__import__("shutil").which("node"))


def need_sandbox():
    if sandbox.isolation() != "bubblewrap":
        if os.environ.get("CI") == "true":
            pytest.fail("bubblewrap is needed by these tests under CI")
        pytest.skip("no bubblewrap here")


def llm_config(tmp_path, **queries_over) -> Path:
    """A copy of the shipped llm.yml (backend none), with some queries changed."""
    cfg = yaml.safe_load((REPO / "llm.yml").read_text(encoding="utf-8"))
    cfg["defaults"]["backend"] = "none"
    for name, over in queries_over.items():
        cfg["queries"][name].update(over)
    path = tmp_path / "llm.yml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def run_figure(script: str, tmp_path, config: Path, cache: Path | None = None) -> Path:
    out = tmp_path / "out"
    env = {**os.environ, "CES_LLM_CONFIG": str(config), "CES_LLM_CACHE": str(cache or tmp_path / "pins")}
    env.pop("CES_RUN", None)
    proc = subprocess.run([sys.executable, f"figures/{script}", "--profile", "smoke", "--out", str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    return out


def pin(tmp_path, config: Path, name: str, text: str, model="acme/tiny-chat") -> Path:
    """Pin `text` as the answer of an (unreachable) HTTP model, as `ces llm refresh` would."""
    os.environ["CES_LLM_CONFIG"] = str(config)
    try:
        qcfg = llm.load_config(REPO)[name]
    finally:
        del os.environ["CES_LLM_CONFIG"]
    identity = llm.model_identity(qcfg, REPO)
    key = llm.answer_key(qcfg, identity)
    path = tmp_path / "pins" / f"{name}-{key[:16]}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format": 1, "query": name, "key": key, "backend": "openai",
                                "identity": identity, "model_name": model, "messages": qcfg["messages"],
                                "answer": text, "date": "2025-01-02T03:04:05+00:00",
                                "usage": {"prompt_tokens": 10, "completion_tokens": 20}}), encoding="utf-8")
    return path


HTTP = {"backend": "openai", "model": "acme/tiny-chat", "base_url": "http://127.0.0.1:9/v1"}


# -- no model: the talk's transcripts ---------------------------------------------------------

def test_sinusoid_transcript(tmp_path):
    out = run_figure("llm_sinusoid.py", tmp_path, llm_config(tmp_path))
    data = json.loads((out / "sinusoid.json").read_text(encoding="utf-8"))
    assert data["answer"]["source"] == "transcript" and data["answer"]["model"] == "codeLlama"
    assert data["answer"]["label"].startswith("Transcription de l’exposé original")
    assert data["code"].startswith("// Get the canvas element") and data["code"].endswith("}")
    assert data["claims_scroll_update"] and not data["handles_scroll"]
    page = (out / "sinusoid.html").read_text(encoding="utf-8")
    assert "Transcription de l’exposé original" in page
    assert page.count('sandbox="allow-scripts"') == 2 and "allow-same-origin" not in page
    if HAS_NODE:   # docs/sources.md A7, measured by running the code on a mock canvas
        m = data["measured"]["answer"]["summary"]
        assert (m["subpaths"], m["off_canvas_subpaths"]) == (300, 149)
        assert abs(m["max_gap_between_subpaths"] - 95.88) < 0.01
        f = data["measured"]["fixed"]["summary"]
        assert f["subpaths"] == 1 and f["off_canvas"] == 0


def test_pot_transcript_is_executed_and_wrong(tmp_path):
    out = run_figure("llm_pot.py", tmp_path, llm_config(tmp_path))
    data = json.loads((out / "pot.json").read_text(encoding="utf-8"))
    assert data["answer"]["source"] == "transcript"
    assert data["prelude"] == "from sympy import Symbol"
    assert data["result"]["exit"] == "ok" and data["result"]["fraction"] == "35/17"
    assert data["result"]["meeting_if_hours_after_6"] == "08:03:32"
    assert data["correct"] == {"hours_after_6": "50/17", "hours_after_6_float": 50 / 17,
                               "meeting_time": "08:56:28", "fraction_of_distance_from_A": "10/17"}
    assert data["is_correct"] is False and "7 h 30" in data["explanation"]
    svg = ET.fromstring((out / "pot.svg").read_text(encoding="utf-8"))
    assert (svg.get("width"), svg.get("height")) == ("450pt", "127.5pt")   # 600×170 px, its slot
    assert "printed" not in data["result"] and "stderr_tail" not in data["result"]


@pytest.mark.parametrize("opt_in", [False, True], ids=["refused", "hook"])
def test_pot_without_bubblewrap_is_refused_in_one_line_unless_opted_in(tmp_path, opt_in):
    env = {**os.environ, "CES_LLM_CONFIG": str(llm_config(tmp_path)), "CES_LLM_CACHE": str(tmp_path / "pins"),
           "PATH": str(tmp_path)}                         # no bwrap on PATH
    env.pop("CES_RUN", None)
    env.pop("CES_SANDBOX", None)
    if opt_in:
        env["CES_SANDBOX"] = "hook"
    proc = subprocess.run([sys.executable, "figures/llm_pot.py", "--profile", "smoke", "--out", str(tmp_path / "out")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    if opt_in:
        assert proc.returncode == 0, proc.stderr
        data = json.loads((tmp_path / "out" / "pot.json").read_text(encoding="utf-8"))
        assert data["result"]["sandbox"] == "audit-hook" and data["result"]["fraction"] == "35/17"
    else:
        assert proc.returncode != 0 and "Traceback" not in proc.stderr
        assert proc.stderr.strip().splitlines() == [
            "llm-pot: " + sandbox.REFUSED + " (bubblewrap is not installed)"]


def test_aot_transcript_answer_is_checked_valid(tmp_path):
    out = run_figure("llm_aot.py", tmp_path, llm_config(tmp_path))
    data = json.loads((out / "aot.json").read_text(encoding="utf-8"))
    assert data["answer"]["source"] == "transcript"
    assert data["final"]["expression"] == "(7 * (4 + 1)) - 11"
    assert data["final"]["value"] == "24" and data["final"]["valid"] is True
    assert data["steps_wrong"] == 6 == len(data["errors"])     # docs/sources.md A9
    assert {e["text"] for e in data["errors"]} >= {"4. 11 - 4: (7, 3, 1)", "- 8 - 4: (7, 11)"}
    assert data["solutions"] == ["((1 + 4) * 7) - 11"]


def test_icl_without_model_shows_no_invented_answer(tmp_path):
    out = run_figure("llm_icl.py", tmp_path, llm_config(tmp_path))
    data = json.loads((out / "icl-answer.json").read_text(encoding="utf-8"))
    assert data["answer"]["source"] == "missing" and data["completion"] is None
    assert data["matches_expected"] is None and data["expected"] == "votera"
    assert data["prompt"].endswith('"voter" devient')


# -- pinned model answers ---------------------------------------------------------------------

def test_pinned_model_answers_are_shown_with_the_model_name(tmp_path):
    config = llm_config(tmp_path, pot=HTTP, icl=HTTP, aot=HTTP)
    pin(tmp_path, config, "pot", "Here is the program:\n```python\nt1 = 5\nt2 = 3.5\n"
        "ans = (1 + 1.5 / t2) / (1 / t1 + 1 / t2)\n```\n")
    pin(tmp_path, config, "icl", ' "votera"\n"chanter" devient')
    pin(tmp_path, config, "aot", "Let's try.\n1. 7 * 4: (28, 11, 1)\nanswer: 11 * 4 - 7 * 1 = 24")
    pot = json.loads((run_figure("llm_pot.py", tmp_path, config) / "pot.json").read_text(encoding="utf-8"))
    assert pot["answer"]["source"] == "model" and pot["answer"]["model"] == "acme/tiny-chat"
    assert pot["answer"]["date"] == "2025-01-02T03:04:05+00:00"
    assert pot["prelude"] is None and pot["code_extraction"] == "fenced"
    assert pot["result"]["fraction"] == "50/17" and pot["is_correct"] is True
    icl = json.loads((run_figure("llm_icl.py", tmp_path, config) / "icl-answer.json").read_text(encoding="utf-8"))
    assert icl["answer"]["label"] == "Réponse de acme/tiny-chat (2025-01-02)"
    assert icl["first_word"] == "votera" and icl["matches_expected"] is True
    aot = json.loads((run_figure("llm_aot.py", tmp_path, config) / "aot.json").read_text(encoding="utf-8"))
    assert aot["final"]["value"] == "37" and aot["final"]["valid"] is False   # 11*4 - 7 = 37: caught


def test_a_hostile_program_stays_in_the_sandbox(tmp_path):
    need_sandbox()
    config = llm_config(tmp_path, pot=HTTP)
    victim = tmp_path / "victim.txt"
    pin(tmp_path, config, "pot", f"```python\nopen({str(victim)!r}, 'w').write('pwned')\nans = 1\n```")
    pot = json.loads((run_figure("llm_pot.py", tmp_path, config) / "pot.json").read_text(encoding="utf-8"))
    assert pot["result"]["exit"] == "error" and not victim.exists()
    assert pot["is_correct"] is None


LEAKER = """import os
for path in ({secret!r}, "/etc/shadow"):
    try:
        print(open(path).read())
    except OSError as exc:
        print(exc)
ans = 2.5
"""


@pytest.mark.parametrize("broken", [False, True], ids=["figure", "broken"])
def test_what_the_program_prints_is_not_published(tmp_path, broken):
    """#12: a 0600 file (or /etc/shadow, as root) printed by the program ended up in pot.json."""
    need_sandbox()
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-0600", encoding="utf-8")
    secret.chmod(0o600)
    program = LEAKER.format(secret=str(secret))
    if broken:   # unsandboxed, the program does read it: the check below can see a leak
        out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True).stdout
        assert "TOPSECRET-0600" in out
        return
    config = llm_config(tmp_path, pot=HTTP)
    pin(tmp_path, config, "pot", f"```python\n{program}```")
    text = (run_figure("llm_pot.py", tmp_path, config) / "pot.json").read_text(encoding="utf-8")
    pot = json.loads(text)
    assert "TOPSECRET" not in text and "root:" not in text
    assert pot["result"]["float"] == 2.5 and pot["result"]["exit"] == "ok"


FORGED_POT = r"""import os, re
found = set()
for name in os.listdir("."):
    found |= set(re.findall(r"[0-9a-f]{16,64}", open(name).read()))
fake = '{"repr": "50/17", "float": 2.9411764705882355, "type": "float", "fraction": "50/17"}'
for nonce in found | {""}:
    print(nonce + fake)
    for fd in range(3, 40):
        try:
            os.write(fd, (nonce + fake + "\n").encode())
        except OSError:
            pass
ans = %s
"""


@pytest.mark.parametrize("broken", [False, True], ids=["forged", "broken"])
def test_the_program_cannot_forge_its_result(tmp_path, broken):
    """#12: the PoT program read its nonce from main.py and printed a forged result line.
    broken: a program whose ans really is 50/17 is judged right (the check can say so)."""
    need_sandbox()
    config = llm_config(tmp_path, pot=HTTP)
    pin(tmp_path, config, "pot", "```python\n" + FORGED_POT % ("50 / 17" if broken else "35 / 17") + "```")
    pot = json.loads((run_figure("llm_pot.py", tmp_path, config) / "pot.json").read_text(encoding="utf-8"))
    assert pot["is_correct"] is broken
    assert pot["result"]["float"] == (50 / 17 if broken else 35 / 17)


# Issue 21 (7): a thread that outlives the program puts its own pipe where the value goes, reads
# the nonce from what the boot sends, and sends a forged value (50/17: "correct") on the real one.
THREAD_FORGER = r"""import os, stat, threading
pipes = []
for fd in range(3, 64):
    try:
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            pipes.append(fd)
    except OSError:
        pass
r, w = os.pipe()
real = os.dup(pipes[-1])
os.dup2(w, pipes[-1])


def forge():
    nonce = os.read(r, 4096)[:32]
    os.write(real, nonce + b'{"type": "float", "float": 2.9411764705882355, "fraction": "50/17"}\n')


threading.Thread(target=forge).start()
ans = 35 / 17
"""


def test_a_value_is_published_only_with_its_reason(tmp_path):
    """The program fails after its thread took over the value channel: the forged value came
    with exit `error`; the figure publishes no value, and says how the program ended."""
    need_sandbox()
    config = llm_config(tmp_path, pot=HTTP)
    pin(tmp_path, config, "pot", "```python\n" + THREAD_FORGER + "raise ValueError('no')\n```")
    out = run_figure("llm_pot.py", tmp_path, config)
    pot = json.loads((out / "pot.json").read_text(encoding="utf-8"))
    assert pot["result"].get("float") is None and pot["is_correct"] is None
    assert pot["result"]["exit"] == "error" and "ValueError" in pot["result"]["why"]
    assert "ans\u202f: aucune valeur (le programme a échoué)" in (out / "pot.svg").read_text(encoding="utf-8")


def test_a_thread_cannot_forge_the_value_of_a_program_that_ends(tmp_path):
    need_sandbox()
    config = llm_config(tmp_path, pot=HTTP)
    pin(tmp_path, config, "pot", "```python\n" + THREAD_FORGER + "```")
    pot = json.loads((run_figure("llm_pot.py", tmp_path, config) / "pot.json").read_text(encoding="utf-8"))
    assert pot["result"].get("float") != 50 / 17 and pot["is_correct"] is not True


VM_ESCAPE = """const proc = this.constructor.constructor('return process')();
proc.stdout.write(JSON.stringify({calls: {}, ids: ["myCanvas"], listeners: ["window:scroll"], error: null,
  console: [], summary: {points: 301, subpaths: 1, off_canvas: 0, off_canvas_subpaths: 0, y_min: 15,
  y_max: 135, max_gap_between_subpaths: 0, midline_crossings: 3}}));
proc.exit(0);
"""
HONEST_JS = ("var c = document.getElementById('myCanvas'); var ctx = c.getContext('2d');\n"
             "ctx.beginPath(); ctx.moveTo(0, 75); ctx.lineTo(300, 75); ctx.stroke();")


@pytest.mark.parametrize("broken", [False, True], ids=["escape", "broken"])
def test_javascript_cannot_forge_its_measure(tmp_path, broken):
    """#12: JavaScript escaped node's vm (this.constructor.constructor('return process')) and
    printed the probe's JSON. broken: honest code is measured (the check sees a real measure)."""
    need_sandbox()
    config = llm_config(tmp_path, sinusoid=HTTP)
    pin(tmp_path, config, "sinusoid", "```javascript\n" + (HONEST_JS if broken else VM_ESCAPE) + "\n```")
    data = json.loads((run_figure("llm_sinusoid.py", tmp_path, config) / "sinusoid.json").read_text(encoding="utf-8"))
    m = data["measured"]["answer"]
    if broken:
        assert m["ok"] and m["summary"]["points"] == 2 and m["summary"]["off_canvas"] == 0
    else:
        assert m["ok"] is False and m["why"].startswith("tampered") and "summary" not in m
        assert not data["handles_scroll"]


def figure_decl(script: Path) -> dict:
    """The FIGURE literal of a script, as ces reads it (never by running the script)."""
    tree = ast.parse(script.read_text(encoding="utf-8"))
    node = next(n for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "FIGURE")
    return ast.literal_eval(node.value)


def _run_under_harness(tmp_path) -> tuple[dict, dict, str]:
    """Run llm_icl through builder.harness in a deck with a pinned answer."""
    harness = pytest.importorskip("builder.harness")
    deck = tmp_path / "deck"
    (deck / "figures").mkdir(parents=True)
    for f in ("llm_icl.py",):
        (deck / "figures" / f).write_text((REPO / "figures" / f).read_text(encoding="utf-8"), encoding="utf-8")
    config = llm_config(tmp_path, icl=HTTP)
    (deck / "llm.yml").write_text(config.read_text(encoding="utf-8"), encoding="utf-8")
    pinned = pin(tmp_path, config, "icl", ' "votera"')
    (deck / "cache" / "llm").mkdir(parents=True)
    pinned.rename(deck / "cache" / "llm" / pinned.name)
    run_dir = tmp_path / "run"
    (run_dir / "out").mkdir(parents=True)
    spec = {"root": str(deck), "outdir": str(run_dir / "out"), "script": "figures/llm_icl.py",
            "record": str(run_dir / "record.json"), "profile": "smoke", "upstream": {},
            "params": params_of(figure_decl(REPO / "figures" / "llm_icl.py"), "smoke")}
    (run_dir / "run.json").write_text(json.dumps(spec), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CES_")}
    env.update(CES_RUN=str(run_dir / "run.json"), PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", harness.__name__, str(run_dir / "run.json")], cwd=deck,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    record = json.loads((run_dir / "record.json").read_text(encoding="utf-8"))
    data = json.loads((run_dir / "out" / "icl-answer.json").read_text(encoding="utf-8"))
    return record, data, pinned.name


def test_under_the_build_harness_the_pin_is_an_input_and_nothing_is_written(tmp_path):
    """The pin file is recorded as a read (a refreshed answer changes the figure's key), and
    nothing is written outside the output directory."""
    record, data, name = _run_under_harness(tmp_path)
    assert record["writes_outside"] == []
    assert {"llm.yml", f"cache/llm/{name}"} <= set(record["reads"])
    assert data["answer"]["source"] == "model" and data["matches_expected"] is True


def test_under_the_build_harness_the_pin_directory_listing_is_an_input(tmp_path):
    record, _, _ = _run_under_harness(tmp_path)
    assert "cache/llm" in record["reads"]


# -- escaping (unit tests of the page builders) -------------------------------------------------

class _Tags(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.append(dict(attrs))


HOSTILE_CODE = 'ctx.fillText("</pre><script>alert(1)</script>", 0, 0); // </script><img src=x onerror=alert(2)>'
HOSTILE_PROSE = ["This <b>bold</b> claim & a \"quote\" </blockquote><script>alert(3)</script>"]


def test_sinusoid_page_escapes_every_llm_text():
    page = _sinusoid.sinusoid_page(question="Q <i>?</i>", label="Réponse de <evil> (2025)", code=HOSTILE_CODE,
                              prose=HOSTILE_PROSE, fixed_code="ctx.stroke();", findings=["a < b"])
    assert "</pre><script>" not in page and "<script>alert" not in page and "<evil>" not in page
    parsed = _Tags()
    parsed.feed(page)
    assert "script" not in parsed.tags and "img" not in parsed.tags and "b" not in parsed.tags
    frames = [a for t, a in zip(parsed.tags, parsed.attrs) if t == "iframe"]
    assert len(frames) == 2 and all(f["sandbox"] == "allow-scripts" for f in frames)
    # The answer's <pre> shows the code verbatim, once unescaped.
    pre = page.split('<pre class="answer-code">', 1)[1].split("</pre>", 1)[0]
    assert html.unescape(pre) == HOSTILE_CODE
    # Inside the frame, the code is one script that its text cannot close early.
    inner = _Tags()
    inner.feed(frames[0]["srcdoc"])
    assert inner.tags.count("script") == 1 and "img" not in inner.tags
    assert "canvas" in inner.tags and {"id": "myCanvas", "width": "300", "height": "150"} in inner.attrs


def css_font_sizes_px(css: str) -> list[float]:
    return [float(v) for v in re.findall(r"font-size:\s*([\d.]+)px", css)]


@pytest.mark.parametrize("broken", [False, True], ids=["page", "broken"])
def test_sinusoid_page_text_is_at_least_16_px(broken):
    css = _sinusoid._PAGE_CSS + ("pre{font-size:12px}" if broken else "")
    sizes = css_font_sizes_px(css)
    assert "rem" not in css and "em;" not in css and sizes
    assert (min(sizes) >= 16) is not broken


def test_the_probe_records_are_checked():
    good = '["B"]\n["M", 0, 75]\n["L", 300, 75]\n["S"]\n["D"]\n'
    assert _sinusoid.measure(_sinusoid.parse_records(good))["summary"]["points"] == 2
    for bad in (good + '{"summary": {}}\n', good.replace('["D"]\n', ""), good + '["D"]\n', '["M", "x", 1]\n["D"]\n'):
        assert _sinusoid.parse_records(bad) is None


def test_extract_code():
    code, how, prose = _llm.extract_code("Sure:\n```js\nvar a = 1;\n```\nand\n```python\nx = 2\n```\n", ("python",))
    assert (code, how) == ("x = 2", "fenced") and prose == ["Sure:", "and"]
    assert _llm.extract_code("No code at all in this answer, sorry.", ("python",))[1] == "none"


# -- in a browser --------------------------------------------------------------------------------

FRAME_PROBE = """
() => {
  const c = document.getElementById('myCanvas');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let drawn = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i] > 0) drawn++;
  let parentDoc;
  try { parentDoc = parent.document ? 'reachable' : 'none'; } catch (e) { parentDoc = 'blocked: ' + e.name; }
  let storage;
  try { localStorage.length; storage = 'reachable'; } catch (e) { storage = 'blocked'; }
  return {drawn, parentDoc, storage, origin: self.origin};
}
"""


SMALLEST_TEXT = """
() => Math.min(...[...document.querySelectorAll('body *')]
  .filter(el => [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
  .map(el => parseFloat(getComputedStyle(el).fontSize)))
"""


@pytest.mark.browser
def test_sinusoid_frames_draw_and_cannot_reach_the_page(tmp_path):
    out = run_figure("llm_sinusoid.py", tmp_path, llm_config(tmp_path))
    log: dict = {}
    with browser.serve(out) as base, browser._page(base + "/sinusoid.html", log) as page:
        page.wait_for_load_state("load")
        frames = [f for f in page.frames if f != page.main_frame]
        assert len(frames) == 2
        results = [f.evaluate(FRAME_PROBE) for f in frames]
        page.set_viewport_size({"width": 520, "height": 260})   # its size on the slide
        smallest = page.evaluate(SMALLEST_TEXT)
        boxes = [page.evaluate(f"document.querySelectorAll('iframe')[{i}].getBoundingClientRect().bottom")
                 for i in range(2)]
    assert smallest >= 16, smallest                  # no text under 16 px
    assert max(boxes) <= 260                         # both canvases in view without scrolling
    for r in results:
        assert r["drawn"] > 100                       # the code ran on a real canvas
        assert r["parentDoc"].startswith("blocked")   # opaque origin: the page is out of reach
        assert r["storage"] == "blocked" and r["origin"] == "null"
    assert results[1]["drawn"] > results[0]["drawn"]  # the fixed curve draws more than the dashes
    assert not log["external_requests"]
    assert not [e for e in log["console_errors"] if "parent" not in e]
