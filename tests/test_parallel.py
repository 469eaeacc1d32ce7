"""dynnet.parallel: n_jobs and DYNNET_NUM_THREADS validation, backends, SIGTERM, orphans."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import joblib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynnet import parallel
from dynnet.parallel import Terminated, effective_n_jobs, map_chunks, thread_cap

# ---------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["abc", "0", "-2", "1.5", "2x", " ", "4 4", "+3"])
def test_bad_thread_variable_is_one_clear_error(monkeypatch, raw):
    monkeypatch.setenv("DYNNET_NUM_THREADS", raw)
    if raw.strip() == "":  # empty means unset
        assert thread_cap() is None
        return
    with pytest.raises(ValueError) as exc:
        effective_n_jobs(-1)
    msg = str(exc.value)
    assert "DYNNET_NUM_THREADS" in msg and repr(raw) in msg and "positive integer" in msg
    assert "\n" not in msg
    with pytest.raises(ValueError, match="DYNNET_NUM_THREADS"):
        map_chunks(abs, [(1,), (2,)], n_jobs=2)


def test_thread_variable_caps_negative_n_jobs(monkeypatch):
    monkeypatch.setenv("DYNNET_NUM_THREADS", "1")
    assert effective_n_jobs(-1) == 1
    assert effective_n_jobs(3) == 3  # an explicit count is not capped
    monkeypatch.setenv("DYNNET_NUM_THREADS", " 2 ")
    assert thread_cap() == 2
    assert effective_n_jobs(-1) == min(2, os.cpu_count() or 1)
    monkeypatch.delenv("DYNNET_NUM_THREADS")
    assert thread_cap() is None
    assert effective_n_jobs(-1) == (os.cpu_count() or 1)
    assert effective_n_jobs(-10_000) == 1


@pytest.mark.parametrize("bad, exc, words", [
    (0, ValueError, "n_jobs=0 is not allowed"),
    (True, TypeError, "n_jobs=True must be an integer"),
    (False, TypeError, "n_jobs=False must be an integer"),
    (np.bool_(True), TypeError, "must be an integer"),
    (1.5, TypeError, "n_jobs=1.5 must be an integer"),
    (2.0, TypeError, "n_jobs=2.0 must be an integer"),
    ("2", TypeError, "n_jobs='2' must be an integer"),
    (None, TypeError, "n_jobs=None must be an integer"),
])
def test_bad_n_jobs_is_refused_naming_the_parameter(bad, exc, words):
    with pytest.raises(exc, match=words):
        effective_n_jobs(bad)
    with pytest.raises(exc, match=words):
        map_chunks(abs, [], n_jobs=bad)  # refused even with nothing to do


def test_numpy_integers_are_accepted():
    assert effective_n_jobs(np.int64(2)) == 2


# ---------------------------------------------------------------------------
# results and backends
# ---------------------------------------------------------------------------


def _chunk(a, b):
    rng = np.random.default_rng([a, b])
    return rng.standard_normal(3) * a + b


@settings(max_examples=20, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), max_size=8))
def test_serial_and_threading_results_are_bitwise_equal_and_in_order(args):
    seen = []
    ref = [_chunk(*a) for a in args]
    out1 = map_chunks(_chunk, args, n_jobs=1, on_result=lambda i, v: seen.append(i))
    with joblib.parallel_config(backend="threading"):
        out2 = map_chunks(_chunk, args, n_jobs=2)
    assert seen == list(range(len(args)))
    for r, a, b in zip(ref, out1, out2, strict=True):
        assert r.tobytes() == a.tobytes() == b.tobytes()


def _where(i):
    return os.getpid(), threading.get_ident(), os.environ.get("DYNNET_NUM_THREADS")


def test_default_is_loky_processes_with_one_engine_thread_each():
    out = map_chunks(_where, [(i,) for i in range(4)], n_jobs=2)
    assert all(pid != os.getpid() for pid, _, _ in out)
    assert {env for _, _, env in out} == {"1"}


def test_active_joblib_backend_is_honoured(monkeypatch):
    monkeypatch.setenv("DYNNET_NUM_THREADS", "7")
    main = threading.get_ident()
    with joblib.parallel_config(backend="threading"):
        out = map_chunks(_where, [(i,) for i in range(6)], n_jobs=2)
        serial = map_chunks(_where, [(i,) for i in range(3)], n_jobs=1)
    assert {pid for pid, _, _ in out} == {os.getpid()}  # threads of this process, not loky
    assert all(tid != main for _, tid, _ in out)
    assert {env for _, _, env in out} == {"1"}
    assert os.environ["DYNNET_NUM_THREADS"] == "7"  # restored after the threads finished
    assert {tid for _, tid, _ in serial} == {main}  # n_jobs=1 stays in the calling thread


def test_on_result_error_propagates():
    def boom(i, v):
        if i == 1:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        map_chunks(_chunk, [(1, 2), (3, 4), (5, 6)], n_jobs=1, on_result=boom)


# ---------------------------------------------------------------------------
# SIGTERM in this process
# ---------------------------------------------------------------------------


def _sentinel_handler(signum, frame):  # pragma: no cover - never called
    raise AssertionError("the previous handler must not be called")


def test_sigterm_handler_only_during_map_chunks_and_restored():
    old = signal.signal(signal.SIGTERM, _sentinel_handler)
    try:
        inside = map_chunks(lambda: signal.getsignal(signal.SIGTERM), [()], n_jobs=1)
        assert inside[0] is not _sentinel_handler
        assert signal.getsignal(signal.SIGTERM) is _sentinel_handler
        with pytest.raises(RuntimeError):
            map_chunks(lambda: (_ for _ in ()).throw(RuntimeError("x")), [()], n_jobs=1)
        assert signal.getsignal(signal.SIGTERM) is _sentinel_handler
    finally:
        signal.signal(signal.SIGTERM, old)


def test_sigterm_raises_terminated_like_ctrl_c():
    old = signal.getsignal(signal.SIGTERM)
    done = []

    def step(i):
        if i == 1:
            signal.raise_signal(signal.SIGTERM)
        done.append(i)
        return i

    with pytest.raises(KeyboardInterrupt) as exc:
        map_chunks(step, [(i,) for i in range(4)], n_jobs=1)
    assert isinstance(exc.value, Terminated) and exc.value.signum == signal.SIGTERM
    assert "SIGTERM" in str(exc.value)
    assert 2 not in done and 3 not in done  # nothing more was started
    assert signal.getsignal(signal.SIGTERM) is old


def test_ignored_sigterm_stays_ignored():
    old = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        inside = map_chunks(lambda: signal.getsignal(signal.SIGTERM), [()], n_jobs=1)
        assert inside == [signal.SIG_IGN]
    finally:
        signal.signal(signal.SIGTERM, old)


def test_no_handler_installed_from_another_thread():
    old = signal.getsignal(signal.SIGTERM)
    box = {}

    def body():
        box["out"] = map_chunks(lambda: signal.getsignal(signal.SIGTERM), [()], n_jobs=1)

    t = threading.Thread(target=body)
    t.start()
    t.join()
    assert box["out"] == [old]


# ---------------------------------------------------------------------------
# a killed parent leaves no worker behind (Linux: /proc tells what is alive)
# ---------------------------------------------------------------------------
_SCRIPT = textwrap.dedent("""
    import os, sys, threading
    from dynnet.parallel import map_chunks

    folder = sys.argv[1]

    def block(i):
        tmp = os.path.join(folder, f"{os.getpid()}.tmp")
        with open(tmp, "w") as f:
            f.write(str(os.getpid()))
        os.replace(tmp, os.path.join(folder, f"worker-{os.getpid()}.pid"))
        threading.Event().wait()  # never set: the chunk never finishes

    if __name__ == "__main__":
        try:
            map_chunks(block, [(0,), (1,)], n_jobs=2)
        except KeyboardInterrupt as exc:
            with open(os.path.join(folder, "stopped"), "w") as f:
                f.write(f"{type(exc).__name__} {getattr(exc, 'signum', '')}")
            sys.exit(3)
    """)


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")  # a zombie is dead, waiting for a reaper


def _wait_for(cond, limit=120.0):
    """Safety net only: the tests assert end states, not how fast they come."""
    end = time.monotonic() + limit
    while not cond():
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_workers_do_not_outlive_a_killed_parent(tmp_path, sig):
    script = tmp_path / "run.py"
    script.write_text(_SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != "DYNNET_NUM_THREADS"}
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    pids = []
    try:
        def two_workers():
            pids[:] = [int(p.name[7:-4]) for p in tmp_path.glob("worker-*.pid")]
            return len(pids) >= 2 or proc.poll() is not None

        assert _wait_for(two_workers), "the workers never started"
        assert proc.poll() is None, f"the run ended early: {proc.communicate()}"
        assert len(set(pids)) == 2 and all(_alive(p) for p in pids), pids
        proc.send_signal(sig)
        err = proc.communicate(timeout=120)[1].decode(errors="replace")[-3000:]
        if sig == signal.SIGTERM:  # handled like Ctrl-C: the caller saw Terminated
            stopped = tmp_path / "stopped"
            assert stopped.exists() and stopped.read_text() == f"Terminated {int(signal.SIGTERM)}", err
            assert proc.returncode == 3, err
        else:
            assert proc.returncode == -signal.SIGKILL, err
        _wait_for(lambda: not any(_alive(p) for p in pids))
        survivors = [p for p in pids if _alive(p)]
        assert survivors == [], f"workers {survivors} outlived their parent (signal {sig.name}); {err}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        for p in pids:
            if _alive(p):
                os.kill(p, signal.SIGKILL)


# ---------------------------------------------------------------------------
# scheduler() without distributed
# ---------------------------------------------------------------------------


def test_scheduler_without_distributed_is_one_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as if not installed
    with pytest.raises(ImportError, match="'distributed'.*pip install") as exc:
        with parallel.scheduler("tcp://127.0.0.1:8786"):
            pass  # pragma: no cover
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("address, timeout, words", [
    ("", 1, "address=''"), (None, 1, "address=None"), (8786, 1, "address=8786"),
    ("tcp://127.0.0.1:8786", 0, "timeout=0"), ("tcp://127.0.0.1:8786", True, "timeout=True"),
])
def test_scheduler_arguments_are_checked(address, timeout, words):
    with pytest.raises(ValueError, match=words):
        with parallel.scheduler(address, timeout=timeout):
            pass  # pragma: no cover


@pytest.mark.parametrize("address", ["bogus", "tcp://host", "http://x:1/y z"])
def test_scheduler_refuses_what_is_not_an_address_before_connecting(address):
    from dynnet.parallel import scheduler

    with pytest.raises(ValueError, match="not an address"):
        with scheduler(address):
            pass
