"""builder.sandbox: untrusted code runs in another process, fenced off, within its limits.

Each behaviour is checked in both modes this machine offers: "namespaces" (unshare + setpriv,
the default where available) and "audit-hook" (CES_SANDBOX=hook, the fallback). The kernel
layer of the namespace mode is also checked alone, with a command that has no Python guard.
"""

import socket
import sys
import threading
import time

import pytest

from builder import sandbox

MODES = ["auto", "hook"]


@pytest.fixture(params=MODES)
def mode(request, monkeypatch):
    monkeypatch.setenv("CES_SANDBOX", request.param)
    if request.param == "auto" and sandbox.isolation() != "namespaces":
        pytest.skip("no usable Linux namespaces here (unshare/setpriv)")
    return request.param


@pytest.fixture
def listener():
    """A TCP server on 127.0.0.1 that records whether anyone connected."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    srv.settimeout(0.2)
    hits = []
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
                hits.append(1)
                conn.close()
            except OSError:
                pass

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    yield srv.getsockname()[1], hits
    stop.set()
    t.join(2)
    srv.close()


def test_normal_code_returns_its_output(mode):
    r = sandbox.run_python("import sys\nprint(6 * 7)\nprint('warn', file=sys.stderr)\nsys.exit(3)")
    assert r.stdout == "42\n" and r.stderr == "warn\n"
    assert r.returncode == 3 and r.reason == "error" and not r.ok
    ok = sandbox.run_python("print('é')")
    assert ok.ok and ok.returncode == 0 and ok.stdout == "é\n"
    assert ok.isolation == ("namespaces" if mode == "auto" else "audit-hook")


def test_code_can_use_its_own_directory_and_preloaded_sympy(mode):
    r = sandbox.run_python(
        "import os\nopen('a.txt', 'w').write('x')\nos.mkdir('d')\nopen('d/b', 'w').write('y')\n"
        "from sympy import Symbol\nD = Symbol('D', positive=True)\nprint(sorted(os.listdir('.')), D / (D / 5 + D / 2))",
        preload=("sympy",), timeout=30)
    assert r.ok, r.stderr
    assert "'a.txt'" in r.stdout and "'d'" in r.stdout and r.stdout.strip().endswith("10/7")


def test_infinite_loop_is_killed_at_its_time_limit(mode):
    start = time.monotonic()
    r = sandbox.run_python("while True:\n    pass", timeout=1.5, cpu_seconds=30)
    assert r.reason == "timeout" and r.returncode is None
    assert 1.4 < r.duration < 6 and time.monotonic() - start < 8


def test_cpu_limit(mode):
    r = sandbox.run_python("while True:\n    pass", timeout=20, cpu_seconds=1)
    assert r.reason == "cpu", r
    assert r.duration < 10


def test_sleeping_child_processes_are_killed_too():
    # namespace mode only: the PID namespace goes with its first process
    if sandbox.isolation() != "namespaces":
        pytest.skip("no namespaces")
    r = sandbox.run_command([sys.executable, "-c", "import subprocess, time\n"
                             "subprocess.Popen(['sleep', '60'])\ntime.sleep(60)"], timeout=1)
    assert r.reason == "timeout"


def test_network_connection_is_refused(mode, listener):
    port, hits = listener
    r = sandbox.run_python(f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
                           "print('connected')")
    assert not r.ok and "connected" not in r.stdout
    assert "PermissionError" in r.stderr or "unreachable" in r.stderr.lower()
    assert not hits


def test_network_namespace_alone_blocks_connections(listener):
    """The kernel layer, without the Python guard: a plain interpreter run as a command."""
    if sandbox.isolation() != "namespaces":
        pytest.skip("no namespaces")
    port, hits = listener
    r = sandbox.run_command([sys.executable, "-c", f"import socket\nsocket.create_connection(('127.0.0.1', {port}), 2)"])
    assert r.reason == "error" and "Network is unreachable" in r.stderr
    assert not hits


def test_write_outside_its_directory_fails(mode, tmp_path):
    target = tmp_path / "escaped.txt"
    r = sandbox.run_python(f"open({str(target)!r}, 'w').write('x')\nprint('wrote')")
    assert not r.ok and "wrote" not in r.stdout
    assert not target.exists()
    r = sandbox.run_python("import os\nos.rename('/etc/hostname', 'h')")
    assert not r.ok


def test_filesystem_is_read_only_without_the_guard(tmp_path):
    if sandbox.isolation() != "namespaces":
        pytest.skip("no namespaces")
    target = tmp_path / "escaped.txt"
    r = sandbox.run_command([sys.executable, "-c", f"open({str(target)!r}, 'w').write('x')"])
    assert "Read-only file system" in r.stderr and not target.exists()
    # and the code cannot undo it: no capabilities left
    r = sandbox.run_command(["mount", "-o", "remount,rw", "/"])
    assert not r.ok


def test_huge_allocation_fails(mode):
    r = sandbox.run_python("x = bytearray(8 * 1024 ** 3)\nprint('allocated')", memory_mb=512)
    assert r.reason == "memory" and "allocated" not in r.stdout


def test_environment_secrets_are_not_inherited(mode, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    r = sandbox.run_python("import os\nprint(sorted(os.environ))")
    assert r.ok and "OPENAI_API_KEY" not in r.stdout and "CES_SANDBOX" not in r.stdout


def test_subprocesses_and_ctypes_are_refused_to_python_code(mode):
    r = sandbox.run_python("import os\nos.system('echo pwned')")
    assert not r.ok and "pwned" not in r.stdout and "PermissionError" in r.stderr
    r = sandbox.run_python("import ctypes\nctypes.CDLL(None).system(b'echo pwned')")
    assert not r.ok and "pwned" not in r.stdout


def test_output_is_capped(mode):
    r = sandbox.run_python("import sys\nsys.stdout.write('x' * 3_000_000)", max_output=1000)
    assert len(r.stdout) == 1000 and r.truncated


def test_throwaway_directory_is_removed(mode):
    r = sandbox.run_python("import os\nprint(os.getcwd())")
    import os
    assert r.ok and not os.path.exists(r.stdout.strip())


def test_commands_need_namespaces(monkeypatch):
    monkeypatch.setenv("CES_SANDBOX", "hook")
    with pytest.raises(sandbox.SandboxError, match="only Python"):
        sandbox.run_command(["node", "-e", "1"])
