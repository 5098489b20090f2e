"""Ask a configured LLM the talk's prompts; pin each answer; fall back to the talk's transcript.

    from builder.llm import ask
    answer = ask("pot")          # Answer(text=..., source="model" | "transcript" | "missing", ...)

Configuration: `llm.yml` at the deck root (or the file named by CES_LLM_CONFIG) names, per
query, a backend (`none`, `transformers`, `openai`), a model, generation params and messages.

Pinned answers: `cache/llm/<query>-<key16>.json` (JSON, written atomically), where the key is
the sha256 of the canonical JSON of {backend, model identity, messages, generation params}:
the model identity is the hub id + the exact commit of the locally cached snapshot, or the
sha256 of a local directory's files, or (HTTP) the model name. A pinned answer is used as is;
it is asked again only by `refresh_answers` (`ces llm refresh`).

Inside a figure run (`ces build`, CES_RUN set) nothing is asked and nothing is written: a
figure uses the pinned answer, or the transcript with a warning. Outside a build (a script
run alone, or `ces llm refresh`), a query with no pinned answer is asked and pinned.

Neither torch nor transformers is imported unless the transformers backend runs; `requests`
is imported only by the HTTP backend. `ces status` (answer_status) imports neither.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import os
import time
from pathlib import Path
from collections.abc import Iterable

import click

from . import files
from .config import MAPPING, TEXT, Kind, choice, expect_fields, list_of, number, optional
from .files import write_json
from .errors import (ConfigError, LLMError, LLMHTTPError, LLMMalformedAnswer,  # noqa: F401 (builder.llm.LLM*)
                     LLMTimeout, LLMUnavailable)

CONFIG_FILE = "llm.yml"
CACHE_DIR = Path("cache") / "llm"
TRANSCRIPT_DIR = Path("figures") / "data" / "transcripts"
WEIGHTS_MEMO = Path(".ces") / "llm-weights.json"   # stat -> sha256 of local model directories
BACKENDS = ("none", "transformers", "openai")
FORMAT = 1

#: Answers quoted in the original talk (figures/data/transcripts/), with their label.
#: The talk shows no completion for the in-context-learning prompt: "icl" has no transcript.
TRANSCRIPTS = {
    "sinusoid": ("sinusoid.txt", "codeLlama",
                 "Transcription de l’exposé original (réponse de codeLlama, 2023)"),
    "pot": ("pot.txt", None,
            "Transcription de l’exposé original (programme du transparent, 2023\u202f; modèle non précisé)"),
    "aot": ("aot.txt", None,
            "Transcription de l’exposé original (trace du transparent, 2023\u202f; modèle non précisé)"),
}

#: The talk's queries, one per figure (llm.yml may add others).
TALK_QUERIES = ("sinusoid", "pot", "aot", "icl")

# Generation params that change the answer, hence its key (transport settings do not).
_GEN_PARAMS = ("temperature", "top_p", "max_new_tokens", "seed", "dtype", "extra")
_DEFAULTS = {"backend": "none", "model": None, "revision": None, "temperature": 0.0, "top_p": None,
             "max_new_tokens": 256, "seed": 0, "dtype": "auto", "device": "auto", "extra": {},
             "base_url": None, "api_key_env": None, "timeout": 60.0, "retries": 2, "backoff": 1.0}


_MESSAGE = Kind(lambda m: isinstance(m, dict) and set(m) == {"role", "content"} and m["role"] in
                ("system", "user", "assistant") and isinstance(m["content"], str),
                "{role: system|user|assistant, content: text}")
#: What each setting of llm.yml (in `defaults:` or a query) accepts.
_SETTINGS = {"backend": choice(*BACKENDS), "model": optional(TEXT), "revision": optional(TEXT),
             "temperature": number(min=0), "top_p": optional(number(min=0, max=1)),
             "max_new_tokens": number(min=1, integer=True), "seed": number(integer=True), "dtype": TEXT,
             "device": TEXT, "extra": MAPPING, "base_url": optional(TEXT), "api_key_env": optional(TEXT),
             "timeout": number(min=0, above=True), "retries": number(min=0, integer=True), "backoff": number(min=0),
             "messages": Kind(lambda v: list_of(_MESSAGE)(v) and bool(v), f"a non-empty list, each {_MESSAGE.what}")}
_SECTION = Kind(lambda v: v is None or isinstance(v, dict), "a mapping of settings (backend:, model:, messages:, …)")

# -- errors ---------------------------------------------------------------------------------

# -- answers --------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Answer:
    """What a figure shows: an answer and where it came from."""

    query: str
    text: str | None          # the raw answer; None when there is none ("missing")
    source: str               # "model", "transcript" or "missing"
    label: str                # French, for the slide
    model: str | None         # "org/name@rev12", a local dir, an HTTP model id, or the talk's model
    date: str | None          # UTC ISO date of a model answer
    key: str | None = None    # sha256 of the question (model answers)
    file: str | None = None   # the pinned file, relative to the deck root
    reason: str | None = None  # why no model answer is shown
    usage: dict = dataclasses.field(default_factory=dict)
    messages: tuple = ()

    def provenance(self) -> dict:
        """The fields a figure's JSON records about its answer."""
        return {"source": self.source, "label": self.label, "model": self.model, "date": self.date,
                "key": self.key, "file": self.file, "reason": self.reason, "usage": dict(self.usage)}


# -- configuration --------------------------------------------------------------------------

def find_root(start: Path | None = None) -> Path:
    """The deck root: the nearest directory holding llm.yml or _quarto.yml, else this checkout."""
    return files.find_root(start, markers=(CONFIG_FILE, files.PROJECT_FILE), fallback=Path(__file__).resolve().parent.parent)


def _root(root) -> Path:
    return Path(root).resolve() if root is not None else find_root()


def config_path(root=None) -> Path:
    env = os.environ.get("CES_LLM_CONFIG")
    return Path(env).resolve() if env else _root(root) / CONFIG_FILE


def cache_dir(root=None) -> Path:
    env = os.environ.get("CES_LLM_CACHE")
    return Path(env).resolve() if env else _root(root) / CACHE_DIR


def load_config(root=None) -> dict[str, dict]:
    """Per query, its settings: `defaults` merged under the query's own, each checked
    (builder.config: one line naming llm.yml and the field). No file: no queries."""
    path = config_path(root)
    if not path.is_file():
        return {}
    raw = expect_fields(files.read_yaml(path), {"defaults": _SECTION, "queries": _SECTION},
                        lambda key: path.name if key is None else f"{path.name}: {key}")
    defaults = expect_fields(raw.get("defaults") or {}, _SETTINGS, f"{path.name}: defaults")
    out = {}
    for name, entry in (raw.get("queries") or {}).items():
        where = f"{path.name}: queries.{name}"
        cfg = {**_DEFAULTS, **defaults, **expect_fields(entry or {}, _SETTINGS, where)}
        if "messages" not in cfg:
            raise ConfigError(f"{where}.messages: expected {_SETTINGS['messages'].what}, found none")
        if cfg["backend"] != "none" and not cfg.get("model"):
            raise ConfigError(f"{where}: backend {cfg['backend']} needs a model")
        if cfg["backend"] == "openai" and not cfg.get("base_url"):
            raise ConfigError(f"{where}: backend openai needs a base_url (e.g. http://127.0.0.1:8000/v1)")
        out[str(name)] = cfg
    return out


def queries(root=None) -> list[str]:
    """Every query name: those in llm.yml, then the talk's others."""
    names = list(load_config(root))
    return names + [n for n in TALK_QUERIES if n not in names]


# -- the key ------------------------------------------------------------------------------

def _canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _local_dir(model: str, root: Path) -> Path | None:
    """The model as a local directory, or None if it names a hub repository."""
    p = Path(os.path.expanduser(model))
    p = p if p.is_absolute() else root / p
    if p.is_dir():
        return p.resolve()
    if model.startswith((".", "/", "~")) or model.count("/") > 1 or os.sep != "/" and os.sep in model:
        raise LLMUnavailable(f"model directory {model} does not exist")
    return None


def _dir_files(d: Path) -> list[tuple[str, Path]]:
    files = []
    for dirpath, dirnames, filenames in os.walk(d):
        dirnames[:] = sorted(n for n in dirnames if not n.startswith("."))
        for n in sorted(filenames):
            if not n.startswith("."):
                p = Path(dirpath) / n
                files.append((p.relative_to(d).as_posix(), p))
    return files


def weights_sha256(d: Path, root: Path | None = None) -> str:
    """sha256 over a local model directory's files (names and contents), memoised by stat."""
    files = _dir_files(d)
    stat = [[rel, p.stat().st_size, p.stat().st_mtime_ns] for rel, p in files]
    memo_path = (root or find_root()) / WEIGHTS_MEMO
    try:
        memo = json.loads(memo_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        memo = {}
    hit = memo.get(str(d))
    if isinstance(hit, dict) and hit.get("stat") == stat:
        return hit["sha256"]
    h = hashlib.sha256()
    for rel, p in files:
        f = hashlib.sha256()
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                f.update(chunk)
        h.update(f"{rel}\0{f.hexdigest()}\n".encode())
    digest = h.hexdigest()
    memo[str(d)] = {"stat": stat, "sha256": digest}
    try:
        _write_json_atomic(memo_path, memo)
    except OSError:
        pass  # a read-only tree: hash again next time
    return digest


def _hub_snapshot(repo_id: str, revision: str | None) -> Path:
    """The locally cached snapshot of a hub model (never downloads)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise LLMUnavailable("huggingface_hub is not installed: cannot find hub models in the local cache") from None
    # Read the cache location now (huggingface_hub reads it once, when first imported).
    cache = os.environ.get("HF_HUB_CACHE") or (os.environ.get("HF_HOME") and os.path.join(os.environ["HF_HOME"], "hub"))
    try:
        return Path(snapshot_download(repo_id=repo_id, revision=revision, local_files_only=True,
                                      cache_dir=cache or None))
    except Exception as exc:  # LocalEntryNotFoundError, RepositoryNotFoundError, ...
        raise LLMUnavailable(
            f"model {repo_id}{'@' + revision if revision else ''} is not in the local Hugging Face cache "
            f"({type(exc).__name__})",
            tip="download it once where the network is allowed (huggingface-cli download), or set model: "
                "to a local directory") from None


def model_identity(cfg: dict, root: Path) -> dict:
    """What identifies the model exactly: {"id", "revision"} or {"weights_sha256"} or {"id"}."""
    model = str(cfg["model"])
    if cfg["backend"] == "transformers":
        d = _local_dir(model, root)
        if d is not None:
            return {"weights_sha256": weights_sha256(d, root), "path": model}
        snap = _hub_snapshot(model, cfg.get("revision"))
        return {"id": model, "revision": snap.name}
    return {"id": model, **({"revision": cfg["revision"]} if cfg.get("revision") else {})}


def answer_key(cfg: dict, identity: dict) -> str:
    """sha256 of what determines the answer: backend, model identity, messages, params."""
    ident = {k: v for k, v in identity.items() if k != "path"}  # a moved directory is the same model
    params = {k: cfg.get(k) for k in _GEN_PARAMS if k != "dtype" or cfg["backend"] == "transformers"}
    return hashlib.sha256(_canonical({"backend": cfg["backend"], "model": ident,
                                      "messages": cfg["messages"], "params": params})).hexdigest()


def _model_name(identity: dict) -> str:
    if "weights_sha256" in identity:
        return f"{identity['path']} (sha256 {identity['weights_sha256'][:12]})"
    rev = identity.get("revision")
    return f"{identity['id']}@{rev[:12]}" if rev else identity["id"]


# -- the public entry points --------------------------------------------------------------

def ask(query_name: str, refresh: bool = False, *, root=None) -> Answer:
    """The answer a figure shows for `query_name`.

    Pinned answer if there is one (unless refresh); else, outside a build, ask the model
    and pin its answer; else the talk's transcript (source "transcript") or, for a query the
    talk shows no answer to, an empty answer (source "missing"). refresh=True always asks
    the model and raises LLMError if it cannot answer.
    """
    root = _root(root)
    configs = load_config(root)
    if query_name not in configs and query_name not in TALK_QUERIES:
        raise ConfigError(f"unknown LLM query {query_name!r} (known: {', '.join(queries(root)) or 'none'})",
                          tip=f"add it under queries: in {CONFIG_FILE}")
    cfg = configs.get(query_name)
    if cfg is None or cfg["backend"] == "none":
        if refresh:
            raise ConfigError(f"{CONFIG_FILE}: query {query_name!r} has no backend configured",
                              tip="set backend: transformers or openai, and a model, to ask a model")
        return _fallback(query_name, root, "no model configured", cfg)
    in_build = bool(os.environ.get("CES_RUN"))
    if refresh and in_build:
        raise LLMError("answers are not refreshed during a figure run", tip="run `ces llm refresh`")
    cdir = cache_dir(root)
    # Listing the pin directory makes it part of a figure's inputs (the harness records
    # listings): pinning an answer later makes the figure run again.
    try:
        os.listdir(cdir)
    except OSError:
        pass
    try:
        identity = model_identity(cfg, root)
    except LLMUnavailable as exc:
        if refresh:
            raise
        return _fallback(query_name, root, exc.format_message(), cfg, warn=True)
    key = answer_key(cfg, identity)
    path = cdir / f"{query_name}-{key[:16]}.json"
    if path.is_file() and not refresh:
        return _from_pin(query_name, path, key, root)
    if in_build:
        return _fallback(query_name, root, f"no pinned answer for {_model_name(identity)}", cfg, warn=True,
                         tip=f"run `ces llm refresh {query_name}`, then build again")
    try:
        record = _generate(cfg, identity, root)
    except LLMUnavailable as exc:
        if refresh:
            raise
        return _fallback(query_name, root, exc.format_message(), cfg, warn=True)
    record.update({"format": FORMAT, "query": query_name, "key": key, "backend": cfg["backend"],
                   "identity": identity, "model_name": _model_name(identity),
                   "messages": cfg["messages"], "params": {k: cfg.get(k) for k in _GEN_PARAMS},
                   "date": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()})
    _write_json_atomic(path, record)
    return _from_pin(query_name, path, key, root)


def refresh_answers(names: Iterable[str] | None = None, *, root=None, echo=None) -> list[Answer]:
    """Ask the models again and re-pin (`ces llm refresh [QUERY…]`). No names: every query
    that has a backend. Raises ConfigError for an unknown or unconfigured query, LLMError
    when a model cannot answer."""
    root = _root(root)
    configs = load_config(root)
    names = list(names or [n for n, c in configs.items() if c["backend"] != "none"])
    if not names:
        raise ConfigError(f"no LLM query has a backend configured in {CONFIG_FILE}",
                          tip="set backend: and model: under defaults: or a query")
    for n in names:
        if n not in configs:
            raise ConfigError(f"unknown LLM query {n!r} (known: {', '.join(configs) or 'none'})")
    answers = []
    for n in names:
        start = time.monotonic()
        a = ask(n, refresh=True, root=root)
        answers.append(a)
        if echo:
            echo(f"{n}: pinned {a.model} ({a.usage.get('completion_tokens', '?')} tokens, "
                 f"{time.monotonic() - start:.1f} s) -> {a.file}")
    return answers


def answer_status(root=None) -> dict[str, str]:
    """Per query, one phrase for `ces status`: 'pinned (model, date)', 'transcript (no model
    configured)', 'missing (…)'. Never asks a model, never imports torch or transformers."""
    root = _root(root)
    configs = load_config(root)
    out = {}
    for name in queries(root):
        cfg = configs.get(name)
        if cfg is None or cfg["backend"] == "none":
            out[name] = ("transcript (no model configured)" if name in TRANSCRIPTS
                         else "no answer (no model configured, and the talk shows none)")
            continue
        try:
            identity = model_identity(cfg, root)
        except LLMUnavailable as exc:
            fb = "transcript" if name in TRANSCRIPTS else "missing"
            out[name] = f"{fb} (model unavailable: {exc.format_message()})"
            continue
        path = cache_dir(root) / f"{name}-{answer_key(cfg, identity)[:16]}.json"
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
            out[name] = f"pinned ({rec.get('model_name', _model_name(identity))}, {rec.get('date', '?')[:10]})"
        except (OSError, ValueError):
            out[name] = f"missing (not asked yet: `ces llm refresh {name}`)"
    return out


# -- pins and transcripts ------------------------------------------------------------------

def _from_pin(name: str, path: Path, key: str, root: Path) -> Answer:
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
        if rec.get("key") != key or not isinstance(rec.get("answer"), str):
            raise ValueError("key or answer missing")
    except (OSError, ValueError) as exc:
        raise LLMError(f"{_rel(path, root)} is not a valid pinned answer ({exc})",
                       tip=f"delete it, or run `ces llm refresh {name}`") from None
    return Answer(query=name, text=rec["answer"], source="model",
                  label=f"Réponse de {rec['model_name']} ({rec['date'][:10]})",
                  model=rec["model_name"], date=rec["date"], key=key, file=_rel(path, root),
                  usage=dict(rec.get("usage") or {}), messages=tuple(rec.get("messages") or ()))


def transcript_path(name: str, root=None) -> Path | None:
    if name not in TRANSCRIPTS:
        return None
    return _root(root) / TRANSCRIPT_DIR / TRANSCRIPTS[name][0]


def _fallback(name: str, root: Path, reason: str, cfg: dict | None, warn: bool = False,
              tip: str | None = None) -> Answer:
    msgs = tuple(cfg["messages"]) if cfg else ()
    if warn:
        click.echo(f"llm: {name}: {reason}; "
                   f"{'using the talk transcript' if name in TRANSCRIPTS else 'no answer to show'}"
                   f"{' (' + tip + ')' if tip else ''}", err=True)
    if name not in TRANSCRIPTS:
        return Answer(query=name, text=None, source="missing", model=None, date=None, reason=reason,
                      label="Pas de réponse : aucun modèle configuré, et l’exposé original ne montre pas la complétion",
                      messages=msgs)
    path = transcript_path(name, root)
    text = path.read_text(encoding="utf-8")
    text = text.removesuffix("\n")
    _, model, label = TRANSCRIPTS[name]
    return Answer(query=name, text=text, source="transcript", label=label, model=model, date=None,
                  file=_rel(path, root), reason=reason, messages=msgs)


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _write_json_atomic(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, data)


# -- backends --------------------------------------------------------------------------------

def _generate(cfg: dict, identity: dict, root: Path) -> dict:
    if cfg["backend"] == "transformers":
        return _generate_transformers(cfg, identity, root)
    return _generate_openai(cfg)


_loaded: dict[tuple, tuple] = {}


def _load_transformers(path: str, device: str, dtype_name: str):
    """Load tokenizer and model from a local directory only (the test suite spies on this)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = getattr(torch, dtype_name)
    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=dtype)
    return tok, model.to(device).eval()


def _device_dtype(cfg: dict) -> tuple[str, str]:
    import torch

    device = cfg.get("device") or "auto"
    if device == "auto":
        if os.environ.get("CES_DEVICE") == "cpu":
            device = "cpu"
        elif torch.cuda.is_available():
            device = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            device = "mps"
        else:
            device = "cpu"
    dtype = cfg.get("dtype") or "auto"
    if dtype == "auto":
        if device.startswith("cuda"):
            dtype = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        elif device == "mps":
            dtype = "float16"
        else:
            dtype = "float32"
    return device, dtype


def _generate_transformers(cfg: dict, identity: dict, root: Path) -> dict:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise LLMUnavailable(f"the transformers backend needs torch and transformers ({exc})") from None
    d = _local_dir(str(cfg["model"]), root)
    path = d if d is not None else _hub_snapshot(cfg["model"], identity.get("revision"))
    device, dtype = _device_dtype(cfg)
    cache_key = (str(path), device, dtype)
    if cache_key not in _loaded:
        try:
            _loaded[cache_key] = _load_transformers(str(path), device, dtype)
        except (OSError, ValueError) as exc:
            raise LLMUnavailable(f"cannot load model {cfg['model']}: {str(exc).splitlines()[0]}") from None
    tok, model = _loaded[cache_key]
    messages = cfg["messages"]
    if getattr(tok, "chat_template", None):
        prompt = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        enc = tok(prompt, return_tensors="pt", add_special_tokens=False)
    else:  # a base model: the messages' text, one after the other, to be continued
        prompt = "\n".join(m["content"] for m in messages)
        enc = tok(prompt, return_tensors="pt")
    enc = {k: v.to(device) for k, v in enc.items()}
    sample = float(cfg["temperature"]) > 0
    gen = {"max_new_tokens": int(cfg["max_new_tokens"]), "do_sample": sample,
           "pad_token_id": tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
           **(cfg.get("extra") or {})}
    if sample:
        gen["temperature"] = float(cfg["temperature"])
        if cfg.get("top_p") is not None:
            gen["top_p"] = float(cfg["top_p"])
    else:  # greedy: the model's generation_config must not turn sampling back on
        gen.update(temperature=None, top_p=None, top_k=None)
    transformers.set_seed(int(cfg["seed"]))
    start = time.monotonic()
    with torch.no_grad():
        out = model.generate(**enc, **gen)
    new = out[0, enc["input_ids"].shape[1]:]
    text = tok.decode(new, skip_special_tokens=True)
    eos = tok.eos_token_id
    finish = "stop" if (len(new) < gen["max_new_tokens"] or (eos is not None and int(new[-1]) == eos)) else "length"
    return {"answer": text, "prompt": prompt, "finish_reason": finish,
            "usage": {"prompt_tokens": int(enc["input_ids"].shape[1]), "completion_tokens": int(len(new))},
            "runtime": {"device": device, "dtype": dtype, "seconds": round(time.monotonic() - start, 3),
                        "torch": torch.__version__, "transformers": transformers.__version__}}


_RETRY_STATUS = {429, 500, 502, 503, 504}


def _generate_openai(cfg: dict) -> dict:
    try:
        import requests
    except ImportError:
        raise LLMUnavailable("the openai backend needs the `requests` package (pip install requests)") from None
    url = str(cfg["base_url"]).rstrip("/") + "/chat/completions"
    headers = {"Content-Type": "application/json"}
    if cfg.get("api_key_env"):
        key = os.environ.get(cfg["api_key_env"])
        if not key:
            raise LLMUnavailable(f"environment variable {cfg['api_key_env']} (api_key_env in {CONFIG_FILE}) is not set")
        headers["Authorization"] = f"Bearer {key}"
    body = {"model": cfg["model"], "messages": cfg["messages"], "temperature": float(cfg["temperature"]),
            "max_tokens": int(cfg["max_new_tokens"]), "seed": int(cfg["seed"]), "stream": False,
            **({"top_p": float(cfg["top_p"])} if cfg.get("top_p") is not None else {}),
            **(cfg.get("extra") or {})}
    timeout, retries, backoff = float(cfg["timeout"]), int(cfg["retries"]), float(cfg["backoff"])
    attempts = retries + 1
    start = time.monotonic()
    for attempt in range(attempts):
        last = attempt == attempts - 1
        delay = min(backoff * 2 ** attempt, 60.0)
        try:
            resp = requests.post(url, json=body, headers=headers, timeout=timeout)
        except requests.Timeout:
            if last:
                raise LLMTimeout(f"LLM endpoint {url}: no answer within {timeout:g} s ({attempts} attempt(s))",
                                 tip=f"is the server up? raise timeout: in {CONFIG_FILE}") from None
        except requests.ConnectionError as exc:
            if last:
                raise LLMUnavailable(f"LLM endpoint {url}: cannot connect ({_short(exc)})",
                                     tip="start the server, or set backend: none") from None
        else:
            if resp.status_code in _RETRY_STATUS and not last:
                retry_after = resp.headers.get("Retry-After", "")
                if retry_after.isdigit():
                    delay = min(float(retry_after), 60.0)
            elif resp.status_code >= 400:
                raise LLMHTTPError(f"LLM endpoint {url} answered HTTP {resp.status_code}: {_error_text(resp)}",
                                   resp.status_code,
                                   tip="check model:, base_url: and the key in " + CONFIG_FILE)
            else:
                return _parse_chat(resp, url, time.monotonic() - start)
        time.sleep(delay)
    raise AssertionError("unreachable")


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) < 160 else text[:157] + "..."


def _error_text(resp) -> str:
    try:
        err = resp.json().get("error")
        msg = err.get("message") if isinstance(err, dict) else err
        if msg:
            return _short(Exception(str(msg)))
    except (ValueError, AttributeError):
        pass
    return _short(Exception(resp.text.strip() or resp.reason or "no message"))


def _parse_chat(resp, url: str, seconds: float) -> dict:
    try:
        data = resp.json()
    except ValueError:
        raise LLMMalformedAnswer(f"LLM endpoint {url} answered non-JSON: {_short(Exception(resp.text.strip()))!r}",
                                 tip="is base_url an OpenAI-compatible /v1 endpoint?") from None
    try:
        choice = data["choices"][0]
        content = choice["message"]["content"]
        if not isinstance(content, str):
            raise TypeError("message.content is not text")
    except (KeyError, IndexError, TypeError) as exc:
        raise LLMMalformedAnswer(f"LLM endpoint {url} answered JSON without choices[0].message.content "
                                 f"({type(exc).__name__}: {exc})",
                                 tip="is base_url an OpenAI-compatible chat-completions endpoint?") from None
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    return {"answer": content, "finish_reason": choice.get("finish_reason"),
            "usage": {"prompt_tokens": usage.get("prompt_tokens"), "completion_tokens": usage.get("completion_tokens")},
            "served": {"model": data.get("model"), "system_fingerprint": data.get("system_fingerprint"),
                       "id": data.get("id")},
            "runtime": {"seconds": round(seconds, 3)}}
