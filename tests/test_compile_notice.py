"""The first run on a machine says that the engine is being compiled, once, while it happens."""

import io
import threading

import pytest

from dynnet import _numba_cache as nc


class _Kernel:
    def __init__(self, signatures):
        self.signatures = signatures


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    monkeypatch.setitem(nc._notice, "shown", False)
    monkeypatch.setattr(nc, "QUIET", False)


def _wait_for_notice(buf, kernel, timeout=60):
    """Run a 'call' that lasts until the notice has been printed (no timing involved)."""
    printed = threading.Event()

    class Out(io.StringIO):
        def write(self, s):
            n = super().write(s)
            printed.set()
            return n

    out = Out()
    with nc.compile_notice(kernel, delay=0.0, file=out):
        assert printed.wait(timeout)
    buf.write(out.getvalue())


def test_a_slow_first_call_prints_one_line_once():
    buf = io.StringIO()
    _wait_for_notice(buf, _Kernel([]))
    assert buf.getvalue().count("\n") == 1 and "compiling the engine" in buf.getvalue()
    out = io.StringIO()
    with nc.compile_notice(_Kernel([]), delay=0.0, file=out):  # a second kernel: already said
        pass
    assert out.getvalue() == ""


@pytest.mark.parametrize("quiet, signatures", [(False, ["(float64[:],)"]), (True, [])])
def test_a_compiled_kernel_or_quiet_prints_nothing(monkeypatch, quiet, signatures):
    monkeypatch.setattr(nc, "QUIET", quiet)
    started = threading.active_count()
    out = io.StringIO()
    with nc.compile_notice(_Kernel(signatures), delay=0.0, file=out):
        assert threading.active_count() == started  # no timer is even started
    assert out.getvalue() == ""


def test_a_call_that_ends_first_prints_nothing():
    out = io.StringIO()
    with nc.compile_notice(_Kernel([]), delay=3600.0, file=out):
        pass
    assert out.getvalue() == "" and not nc._notice["shown"]


def test_the_engine_kernels_are_wrapped():
    import inspect

    from dynnet.maps import _gd_engine

    src = inspect.getsource(_gd_engine)
    assert "compile_notice(_advance_kernel)" in src and "compile_notice(_stream_kernel)" in src
