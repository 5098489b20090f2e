"""builder.llm: real backends on things the test makes (no download, no network beyond 127.0.0.1).

- transformers: a tiny GPT-2 (random weights, a BPE tokenizer trained here) saved to tmp_path
  and loaded through the same code users run; also as a hub id from a local HF cache.
- openai: a chat-completions server on 127.0.0.1, scripted per test.
- the fallback to the talk's transcript.
"""

import http.server
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from builder import llm
from builder.errors import CesError, ConfigError

REPO = Path(__file__).resolve().parent.parent
SEED = Path(__file__).resolve().parent / "fixtures" / "seed.txt"
QUESTION = [{"role": "user", "content": "How can I draw a sinusoid in javascript?"}]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch):
    for var in ("CES_RUN", "CES_LLM_CONFIG", "CES_LLM_CACHE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    llm._loaded.clear()
    yield
    llm._loaded.clear()


def make_root(tmp_path, queries, defaults=None, transcripts=True) -> Path:
    """A deck root with llm.yml (and the real transcripts)."""
    root = tmp_path / "deck"
    root.mkdir(exist_ok=True)
    (root / "llm.yml").write_text(yaml.safe_dump({"defaults": defaults or {}, "queries": queries}),
                                  encoding="utf-8")
    if transcripts:
        shutil.copytree(REPO / llm.TRANSCRIPT_DIR, root / llm.TRANSCRIPT_DIR, dirs_exist_ok=True)
    return root


# -- a tiny model ---------------------------------------------------------------------------

TEXT = ["How can I draw a sinusoid in javascript?", "var canvas = document.getElementById('myCanvas');",
        "ctx.lineTo(x, y); ctx.stroke();", "\"manger\" devient \"mangera\"", "\"voter\" devient \"votera\"",
        "Train 1 departs at 6 AM from city A.", "ans = dist / (v1 + v2)"] * 4


def build_tiny_model(path: Path, chat_template: str | None = None) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(TEXT, trainers.BpeTrainer(
        vocab_size=360, special_tokens=["<unk>", "<eos>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="<eos>", pad_token="<eos>")
    if chat_template:
        fast.chat_template = chat_template
    fast.save_pretrained(path)
    eos = fast.convert_tokens_to_ids("<eos>")
    config = GPT2Config(vocab_size=len(fast), n_positions=256, n_embd=32, n_layer=2, n_head=2,
                        bos_token_id=eos, eos_token_id=eos)
    torch.manual_seed(0)
    GPT2LMHeadModel(config).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def tiny_chat_model(tmp_path_factory):
    template = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                "{% if add_generation_prompt %}assistant:{% endif %}")
    return build_tiny_model(tmp_path_factory.mktemp("tinychat") / "model", template)


@pytest.fixture
def load_spy(monkeypatch):
    calls = []
    real = llm._load_transformers

    def spy(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(llm, "_load_transformers", spy)
    return calls


def tf_query(model, **over):
    return {"backend": "transformers", "model": str(model), "max_new_tokens": 12, "messages": QUESTION, **over}


def test_transformers_answer_is_deterministic_pinned_and_reused(tmp_path, tiny_model, load_spy):
    root = make_root(tmp_path, {"sinusoid": tf_query(tiny_model)})
    a1 = llm.ask("sinusoid", root=root)
    assert a1.source == "model" and isinstance(a1.text, str) and a1.text
    assert len(load_spy) == 1
    assert a1.label.startswith("Réponse de ") and a1.date
    pin = root / a1.file
    assert pin.parent == root / "cache" / "llm" and pin.name == f"sinusoid-{a1.key[:16]}.json"
    rec = json.loads(pin.read_text(encoding="utf-8"))
    assert rec["answer"] == a1.text and rec["key"] == a1.key and rec["backend"] == "transformers"
    assert rec["usage"]["prompt_tokens"] > 0 and 0 < rec["usage"]["completion_tokens"] <= 12
    assert rec["identity"]["weights_sha256"] and rec["runtime"]["device"] == "cpu"
    assert rec["runtime"]["dtype"] == "float32" and rec["messages"] == QUESTION
    assert not list(pin.parent.glob(".*.tmp"))  # the atomic write left no temp file

    # Second call: the pinned answer, and no model is loaded.
    llm._loaded.clear()
    a2 = llm.ask("sinusoid", root=root)
    assert a2 == a1 and len(load_spy) == 1

    # Greedy decoding is deterministic: asked again from scratch, the same answer.
    pin.unlink()
    llm._loaded.clear()
    a3 = llm.ask("sinusoid", root=root)
    assert a3.text == a1.text and a3.key == a1.key and len(load_spy) == 2


def test_seeded_sampling_is_reproducible_and_keyed(tmp_path, tiny_model):
    root = make_root(tmp_path, {"s1": tf_query(tiny_model, temperature=1.5, seed=1),
                                "s2": tf_query(tiny_model, temperature=1.5, seed=1),
                                "s3": tf_query(tiny_model, temperature=1.5, seed=2),
                                "g": tf_query(tiny_model)})
    s1, s2, s3, g = (llm.ask(n, root=root) for n in ("s1", "s2", "s3", "g"))
    assert s1.text == s2.text and s1.key == s2.key   # same question, same seed: same pin
    assert s3.key != s1.key and g.key != s1.key      # the seed and the temperature are in the key


def test_chat_template_is_used_when_the_tokenizer_has_one(tmp_path, tiny_chat_model, tiny_model):
    root = make_root(tmp_path, {"chat": tf_query(tiny_chat_model), "plain": tf_query(tiny_model)})
    chat = json.loads((root / llm.ask("chat", root=root).file).read_text(encoding="utf-8"))
    plain = json.loads((root / llm.ask("plain", root=root).file).read_text(encoding="utf-8"))
    assert chat["prompt"] == "user: How can I draw a sinusoid in javascript?\nassistant:"
    assert plain["prompt"] == "How can I draw a sinusoid in javascript?"


def test_refresh_asks_again_and_key_follows_the_weights(tmp_path, tiny_model, load_spy):
    model = tmp_path / "m"
    shutil.copytree(tiny_model, model)
    root = make_root(tmp_path, {"sinusoid": tf_query(model)})
    a = llm.ask("sinusoid", root=root)
    assert llm.answer_status(root)["sinusoid"].startswith("pinned (")
    time.sleep(1.1)  # the pin's date has a one-second resolution
    [b] = llm.refresh_answers(["sinusoid"], root=root)
    assert b.text == a.text and b.date > a.date and b.file == a.file
    # Other weights: another key, not pinned yet.
    (model / "extra.txt").write_text("changed", encoding="utf-8")
    assert llm.answer_status(root)["sinusoid"].startswith("missing")
    c = llm.ask("sinusoid", root=root)
    assert c.key != a.key


def test_hub_id_from_the_local_cache_only(tmp_path, tiny_model, monkeypatch):
    hub = tmp_path / "hub"
    sha = "0123456789abcdef0123456789abcdef01234567"
    repo = hub / "models--ces-test--tiny"
    shutil.copytree(tiny_model, repo / "snapshots" / sha)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(sha)
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    root = make_root(tmp_path, {"sinusoid": tf_query("ces-test/tiny"), "pot": tf_query("ces-test/absent")})
    a = llm.ask("sinusoid", root=root)
    assert a.source == "model" and a.model == "ces-test/tiny@0123456789ab"
    rec = json.loads((root / a.file).read_text(encoding="utf-8"))
    assert rec["identity"] == {"id": "ces-test/tiny", "revision": sha}
    # A hub model that is not in the cache is never downloaded: transcript, with the reason.
    b = llm.ask("pot", root=root)
    assert b.source == "transcript" and "not in the local Hugging Face cache" in b.reason
    with pytest.raises(llm.LLMUnavailable, match="not in the local Hugging Face cache"):
        llm.refresh_answers(["pot"], root=root)


def test_status_imports_neither_torch_nor_transformers(tmp_path, tiny_model):
    root = make_root(tmp_path, {"sinusoid": tf_query(tiny_model), "pot": {"messages": QUESTION}})
    code = ("import sys, json\nfrom builder.llm import answer_status\n"
            f"s = answer_status({str(root)!r})\n"
            "print(json.dumps([s, [m for m in ('torch', 'transformers') if m in sys.modules]]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    status, imported = json.loads(out.stdout)
    assert imported == []
    assert status["sinusoid"].startswith("missing") and status["pot"] == "transcript (no model configured)"
    assert status["icl"] == "no answer (no model configured, and the talk shows none)"


# -- the fallback ---------------------------------------------------------------------------

def test_no_backend_gives_the_labelled_transcript(tmp_path):
    root = make_root(tmp_path, {"sinusoid": {"messages": QUESTION},
                                "icl": {"messages": [{"role": "user", "content": "\"voter\" devient"}]}})
    a = llm.ask("sinusoid", root=root)
    assert a.source == "transcript" and a.model == "codeLlama" and a.date is None
    assert a.label.startswith("Transcription de l’exposé original")
    assert a.text.startswith("To draw a sinusoid in JavaScript") and a.reason == "no model configured"
    assert a.provenance()["source"] == "transcript"
    icl = llm.ask("icl", root=root)
    assert icl.source == "missing" and icl.text is None   # the talk shows no completion: none invented
    assert llm.answer_status(root) == {
        "sinusoid": "transcript (no model configured)",
        "icl": "no answer (no model configured, and the talk shows none)",
        "pot": "transcript (no model configured)", "aot": "transcript (no model configured)"}
    with pytest.raises(ConfigError, match="no backend configured"):
        llm.ask("sinusoid", refresh=True, root=root)
    with pytest.raises(ConfigError, match="no LLM query has a backend"):
        llm.refresh_answers(root=root)
    with pytest.raises(ConfigError, match="unknown LLM query"):
        llm.ask("nope", root=root)
    assert not (root / "cache").exists()


def test_inside_a_build_nothing_is_asked_nor_written(tmp_path, tiny_model, load_spy, monkeypatch):
    root = make_root(tmp_path, {"pot": tf_query(tiny_model)})
    monkeypatch.setenv("CES_RUN", str(tmp_path / "run.json"))
    a = llm.ask("pot", root=root)
    assert a.source == "transcript" and "no pinned answer" in a.reason and not load_spy
    assert not (root / "cache" / "llm").exists()
    monkeypatch.delenv("CES_RUN")
    pinned = llm.ask("pot", root=root)
    monkeypatch.setenv("CES_RUN", str(tmp_path / "run.json"))
    assert llm.ask("pot", root=root) == pinned and len(load_spy) == 1


def test_the_shipped_config_and_transcripts():
    """llm.yml asks the talk's questions, backend none; transcripts are verbatim from the talk."""
    cfg = llm.load_config(REPO)
    assert set(cfg) == {"sinusoid", "pot", "aot", "icl"}
    assert all(c["backend"] == "none" for c in cfg.values())
    seed = SEED.read_text(encoding="utf-8")
    for name in ("sinusoid", "pot", "aot"):
        text = llm.transcript_path(name, REPO).read_text(encoding="utf-8")
        assert text in seed, name
    assert cfg["sinusoid"]["messages"][-1]["content"] in seed
    assert cfg["pot"]["messages"][-1]["content"] in seed
    assert cfg["aot"]["messages"][0]["content"].rstrip(".") in seed
    assert cfg["icl"]["messages"][-1]["content"] in seed


def test_bad_config_is_one_clear_error(tmp_path):
    root = make_root(tmp_path, {"q": {"backend": "gpt", "messages": QUESTION}})
    with pytest.raises(ConfigError, match="queries.q.backend: expected one of"):
        llm.load_config(root)
    root = make_root(tmp_path, {"q": {"backend": "openai", "model": "m", "messages": QUESTION}})
    with pytest.raises(ConfigError, match="needs a base_url"):
        llm.load_config(root)


# -- the HTTP backend -------------------------------------------------------------------------

class ChatServer:
    """A chat-completions server on 127.0.0.1 whose answers a test scripts, one per request."""

    def __init__(self):
        self.script: list = []
        self.requests: list = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "body": body,
                                       "auth": self.headers.get("Authorization")})
                step = outer.script.pop(0) if outer.script else (200, ok_body("default"))
                status, payload = step
                if status == "sleep":
                    time.sleep(payload)
                    status, payload = 200, ok_body("late")
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def ok_body(text, model="served-model"):
    return {"id": "cmpl-1", "model": model, "object": "chat.completion", "system_fingerprint": "fp_1",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16}}


@pytest.fixture
def server():
    s = ChatServer()
    yield s
    s.close()


def http_root(tmp_path, url, **over):
    q = {"backend": "openai", "model": "tiny-chat", "base_url": url, "timeout": 2, "retries": 2,
         "backoff": 0.01, "messages": QUESTION, **over}
    return make_root(tmp_path, {"sinusoid": q})


def test_http_success_is_pinned(tmp_path, server, monkeypatch):
    monkeypatch.setenv("CES_TEST_KEY", "sk-test")
    server.script = [(200, ok_body("Use the Canvas API."))]
    root = http_root(tmp_path, server.url, api_key_env="CES_TEST_KEY", seed=7, max_new_tokens=64)
    a = llm.ask("sinusoid", root=root)
    assert a.source == "model" and a.text == "Use the Canvas API." and a.model == "tiny-chat"
    assert a.usage == {"prompt_tokens": 11, "completion_tokens": 5}
    [req] = server.requests
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer sk-test"
    assert req["body"]["model"] == "tiny-chat" and req["body"]["messages"] == QUESTION
    assert req["body"]["max_tokens"] == 64 and req["body"]["seed"] == 7 and req["body"]["temperature"] == 0
    rec = json.loads((root / a.file).read_text(encoding="utf-8"))
    assert rec["served"]["model"] == "served-model" and "sk-test" not in json.dumps(rec)
    assert llm.ask("sinusoid", root=root) == a and len(server.requests) == 1  # pinned: not asked again


def test_http_retries_then_succeeds(tmp_path, server):
    server.script = [(503, {"error": {"message": "overloaded"}}), (502, b"bad gateway"), (200, ok_body("third time"))]
    root = http_root(tmp_path, server.url)
    assert llm.ask("sinusoid", root=root).text == "third time"
    assert len(server.requests) == 3


def test_http_timeout_is_one_clear_error(tmp_path, server):
    server.script = [("sleep", 1.0), ("sleep", 1.0)]
    root = http_root(tmp_path, server.url, timeout=0.3, retries=1)
    start = time.monotonic()
    with pytest.raises(llm.LLMTimeout) as err:
        llm.refresh_answers(["sinusoid"], root=root)
    assert time.monotonic() - start < 3 and len(server.requests) == 2
    msg = err.value.format_message()
    assert "\n" not in msg and "no answer within 0.3 s (2 attempt(s))" in msg
    assert isinstance(err.value, CesError)
    # Outside refresh, an unreachable model means the transcript, with the reason.
    server.script = [("sleep", 1.0), ("sleep", 1.0)]
    a = llm.ask("sinusoid", root=root)
    assert a.source == "transcript" and "no answer within" in a.reason


@pytest.mark.parametrize("status,retried", [(500, True), (400, False)])
def test_http_error_answer_is_one_clear_error(tmp_path, server, status, retried):
    server.script = [(status, {"error": {"message": f"boom {status}", "type": "x"}})] * 3
    root = http_root(tmp_path, server.url, retries=2)
    with pytest.raises(llm.LLMHTTPError) as err:
        llm.ask("sinusoid", root=root)
    assert err.value.status == status
    assert err.value.format_message() == f"LLM endpoint {server.url}/chat/completions answered HTTP {status}: boom {status}"
    assert len(server.requests) == (3 if retried else 1)
    assert not (root / "cache" / "llm").exists() or not list((root / "cache" / "llm").iterdir())


@pytest.mark.parametrize("payload,why", [
    (b"<html>not json</html>", "non-JSON"),
    ({"choices": []}, "without choices[0].message.content"),
    ({"choices": [{"message": {"role": "assistant", "content": None}}]}, "without choices[0].message.content"),
])
def test_http_malformed_answer_is_one_clear_error(tmp_path, server, payload, why):
    server.script = [(200, payload)]
    root = http_root(tmp_path, server.url)
    with pytest.raises(llm.LLMMalformedAnswer) as err:
        llm.ask("sinusoid", root=root)
    assert why in err.value.format_message() and "\n" not in err.value.format_message()


def test_http_unreachable_and_missing_key(tmp_path, monkeypatch):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    root = http_root(tmp_path, f"http://127.0.0.1:{port}/v1", retries=1)
    with pytest.raises(llm.LLMUnavailable, match="cannot connect"):
        llm.refresh_answers(["sinusoid"], root=root)
    assert llm.ask("sinusoid", root=root).source == "transcript"
    monkeypatch.delenv("CES_ABSENT_KEY", raising=False)
    root = http_root(tmp_path, f"http://127.0.0.1:{port}/v1", api_key_env="CES_ABSENT_KEY")
    with pytest.raises(llm.LLMUnavailable, match="CES_ABSENT_KEY"):
        llm.refresh_answers(["sinusoid"], root=root)
