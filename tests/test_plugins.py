"""Plugin discovery through entry points, against fake entry points."""

import importlib.metadata
import subprocess
import sys
import types
import warnings

import numpy as np
import pytest

import dynnet as dn
from dynnet import plugins


class FakeDist:
    def __init__(self, name):
        self.name = name


def ep(name, value, group="dynnet.maps", dist="dynnet-fake"):
    e = importlib.metadata.EntryPoint(name, value, group)
    # EntryPoint is immutable; attach the distribution the way importlib does
    object.__setattr__(e, "dist", FakeDist(dist))
    return e


class GoodMap(dn.Map):
    """x -> x / 2 (a fake plugin map)."""

    dim = 1

    def __init__(self, c=0.5):
        self.c = c

    def step(self, states):
        return self.c * states


class NoStepMap(dn.Map):
    dim = 3

    def __init__(self):
        pass


class NoDimMap(dn.Map):
    def __init__(self):
        pass

    def step(self, states):
        return states


class NotAMap:
    dim = 1

    def step(self, states):
        return states


@pytest.fixture
def fake(monkeypatch):
    """Install fake entry points and a fake plugin module; returns a setter."""
    mod = types.ModuleType("fake_dynnet_plugin")
    mod.GoodMap = GoodMap
    mod.NoStepMap = NoStepMap
    mod.NoDimMap = NoDimMap
    mod.NotAMap = NotAMap
    monkeypatch.setitem(sys.modules, "fake_dynnet_plugin", mod)
    entries = []

    def fake_entry_points(**kw):
        return [e for e in entries if e.group == kw.get("group")]

    monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points)
    plugins.refresh()

    def set_entries(*eps):
        entries[:] = eps
        plugins.refresh()

    yield set_entries
    plugins.refresh()


def test_good_plugin_listed_without_import_then_loaded_and_cached(fake, tmp_path, monkeypatch):
    (tmp_path / "fake_dynnet_plugin_lazy.py").write_text(
        "import dynnet as dn\n"
        "class HalfMap(dn.Map):\n"
        "    dim = 1\n"
        "    def __init__(self, c=0.5):\n"
        "        self.c = c\n"
        "    def step(self, states):\n"
        "        return self.c * states\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    fake(ep("good", "fake_dynnet_plugin_lazy:HalfMap", dist="dynnet-good"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert dn.plugins.available("dynnet.maps") == {"good": "dynnet-good"}
        assert dn.plugins.describe() == [
            ("dynnet.maps", "good", "dynnet-good", "fake_dynnet_plugin_lazy:HalfMap")]
    assert "fake_dynnet_plugin_lazy" not in sys.modules  # listing imported nothing
    cls = dn.plugins.load("dynnet.maps", "good")
    assert "fake_dynnet_plugin_lazy" in sys.modules
    monkeypatch.delitem(sys.modules, "fake_dynnet_plugin_lazy")
    assert dn.plugins.load("maps", "good") is cls  # cached: no second import
    assert "fake_dynnet_plugin_lazy" not in sys.modules
    np.testing.assert_array_equal(cls().iterate(np.array([8.0]), 3), [1.0])


def test_broken_import_warns_once_others_keep_working(fake):
    fake(ep("good", "fake_dynnet_plugin:GoodMap"),
         ep("broken", "no_such_module_for_dynnet_tests:Map", dist="dynnet-broken"))
    assert set(dn.plugins.available("dynnet.maps")) == {"good", "broken"}
    with pytest.warns(RuntimeWarning) as rec:
        loaded = dn.plugins.load_all("dynnet.maps")
    assert loaded == {"good": GoodMap}
    msgs = [str(w.message) for w in rec if issubclass(w.category, RuntimeWarning)]
    assert len(msgs) == 1
    assert "'broken'" in msgs[0] and "dynnet-broken" in msgs[0]
    assert "no_such_module_for_dynnet_tests" in msgs[0] and "ModuleNotFoundError" in msgs[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert dn.plugins.load_all("dynnet.maps") == {"good": GoodMap}  # no second warning
    with pytest.raises(ImportError, match="'broken'.*dynnet-broken.*No module named") as exc:
        dn.plugins.load("dynnet.maps", "broken")
    assert isinstance(exc.value.__cause__, ModuleNotFoundError)


def test_duplicate_name_warns_and_builtin_wins(fake):
    fake(ep("gd", "fake_dynnet_plugin:GoodMap", dist="dynnet-evil"),
         ep("gd", "dynnet.maps.gd:GradientDescentMap", dist="dynnet"),
         ep("twin", "fake_dynnet_plugin:GoodMap", dist="dynnet-a"),
         ep("twin", "fake_dynnet_plugin:NoDimMap", dist="dynnet-b"),
         ep("good", "fake_dynnet_plugin:GoodMap"))
    with pytest.warns(RuntimeWarning) as rec:
        avail = dn.plugins.available("dynnet.maps")
    msgs = sorted(str(w.message) for w in rec)
    assert len(msgs) == 2
    assert "'gd'" in msgs[0] and "dynnet-evil" in msgs[0] and "duplicate" in msgs[0]
    assert "'twin'" in msgs[1] and "dynnet-a" in msgs[1] and "dynnet-b" in msgs[1]
    assert avail == {"gd": "dynnet", "good": "dynnet-fake"}
    assert dn.plugins.load("dynnet.maps", "gd") is dn.GradientDescentMap
    with pytest.raises(ImportError, match="ambiguous.*dynnet-a.*dynnet-b"):
        dn.plugins.load("dynnet.maps", "twin")
    assert dn.plugins.load("dynnet.maps", "twin", distribution="dynnet-a") is GoodMap


def test_invalid_name_and_value_warn_and_are_left_out(fake):
    fake(ep("Bad Name!", "fake_dynnet_plugin:GoodMap", dist="dynnet-shouty"),
         ep("novalue", "fake_dynnet_plugin", dist="dynnet-modonly"),
         ep("good", "fake_dynnet_plugin:GoodMap"))
    with pytest.warns(RuntimeWarning) as rec:
        assert dn.plugins.available("dynnet.maps") == {"good": "dynnet-fake"}
    msgs = sorted(str(w.message) for w in rec)
    assert len(msgs) == 2
    assert "'Bad Name!'" in msgs[0] and "dynnet-shouty" in msgs[0] and "invalid name" in msgs[0]
    assert "'novalue'" in msgs[1] and "dynnet-modonly" in msgs[1] and "invalid value" in msgs[1]


def test_non_subclass_is_rejected(fake):
    fake(ep("fake", "fake_dynnet_plugin:NotAMap", dist="dynnet-notamap"))
    with pytest.raises(ImportError, match=r"'fake'.*dynnet-notamap.*not a subclass of dynnet\.Map"):
        dn.plugins.load("dynnet.maps", "fake")
    with pytest.warns(RuntimeWarning, match="not a subclass"):
        assert dn.plugins.load_all("dynnet.maps") == {}


@pytest.mark.parametrize("attr, missing", [("NoStepMap", r"missing step\(states\)"),
                                           ("NoDimMap", "missing dim")])
def test_class_breaking_the_interface_is_rejected_at_load(fake, attr, missing):
    fake(ep("half", f"fake_dynnet_plugin:{attr}", dist="dynnet-half"))
    assert dn.plugins.available("dynnet.maps") == {"half": "dynnet-half"}  # listing is fine
    with pytest.raises(ImportError, match=rf"'half'.*dynnet-half.*breaks the Map interface: {missing}"):
        dn.plugins.load("dynnet.maps", "half")


def test_missing_plugin_asked_by_name(fake):
    fake(ep("good", "fake_dynnet_plugin:GoodMap"))
    with pytest.raises(ImportError, match="no dynnet plugin named 'nope'.*available: \\['good'\\]") as exc:
        dn.plugins.load("dynnet.maps", "nope")
    assert exc.value.name == "nope"
    with pytest.raises(ValueError, match="unknown plugin group"):
        dn.plugins.available("dynnet.nothing")


def test_is_registered_module_uses_entry_points_without_importing(fake):
    fake(ep("good", "fake_pkg_never_imported.maps:GoodMap"))
    assert plugins.is_registered_module("fake_pkg_never_imported.maps")
    assert plugins.is_registered_module("fake_pkg_never_imported.sub.deeper")
    assert not plugins.is_registered_module("os")
    assert not plugins.is_registered_module("fake_pkg_never_imported_not")
    assert "fake_pkg_never_imported" not in sys.modules


def test_real_builtins_are_registered():
    plugins.refresh()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        maps = dn.plugins.available("dynnet.maps")
        assert {k: maps[k] for k in ("gd", "logistic", "tent", "henon", "linear")} == dict.fromkeys(
            ("gd", "logistic", "tent", "henon", "linear"), "dynnet")
        assert dn.plugins.load("dynnet.maps", "henon") is dn.HenonMap
        assert dn.plugins.load("dynnet.metrics", "per-layer") is dn.PerLayer
        assert dn.plugins.load("dynnet.perturbers", "uniform") is dn.UniformPerturber
        assert dn.plugins.load("dynnet.studies", "perturbation") is dn.PerturbationStudy
        rows = dn.plugins.describe()
    assert ("dynnet.maps", "gd", "dynnet", "dynnet.maps.gd:GradientDescentMap") in rows
    assert {r.group for r in rows} == set(plugins.GROUPS)


def test_import_dynnet_imports_no_plugin():
    """In a fresh interpreter: no third-party plugin module, no dynnet.testing, no hypothesis."""
    code = (
        "import sys, importlib.metadata as md, dynnet\n"
        "mods = {e.value.split(':')[0].split('.')[0] for g in dynnet.plugins.GROUPS\n"
        "        for e in md.entry_points(group=g) if e.dist and e.dist.name != 'dynnet'}\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in mods\n"
        "             or m in ('dynnet.testing', 'hypothesis'))\n"
        "print(sorted(mods), bad)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("[]"), out.stdout


def test_a_map_whose_dim_is_a_parameter_passes_the_interface_check():
    from dynnet.plugins import _interface_gaps

    class DimMap(dn.Map):
        def __init__(self, dim=3):
            self.dim = dim

        def step(self, states):
            return states

    class NoDim(dn.Map):
        def __init__(self):
            pass

        def step(self, states):
            return states

    assert _interface_gaps("dynnet.maps", DimMap, dn.Map) == []
    assert any("dim" in g for g in _interface_gaps("dynnet.maps", NoDim, dn.Map))


def _write_module(tmp_path, monkeypatch, name, text):
    (tmp_path / f"{name}.py").write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)


@pytest.mark.parametrize("body, shown", [("import sys\nsys.exit(3)\n", "SystemExit(3)"),
                                         ("raise SystemExit('bye')\n", "SystemExit('bye')"),
                                         ("raise RuntimeError('boom\\nsecond line')\n",
                                          "RuntimeError: boom second line")])
def test_plugin_that_exits_or_raises_on_import_is_reported_and_the_others_load(
        fake, tmp_path, monkeypatch, body, shown):
    _write_module(tmp_path, monkeypatch, "fake_dynnet_exiting_plugin", body)
    fake(ep("aaa-exits", "fake_dynnet_exiting_plugin:Map", dist="dynnet-exits"),
         ep("good", "fake_dynnet_plugin:GoodMap"))
    with pytest.warns(RuntimeWarning) as rec:
        loaded = dn.plugins.load_all("dynnet.maps")  # must not end the process
    assert loaded == {"good": GoodMap}
    msgs = [str(w.message) for w in rec if issubclass(w.category, RuntimeWarning)]
    assert len(msgs) == 1
    assert "'aaa-exits'" in msgs[0] and "dynnet-exits" in msgs[0] and shown in msgs[0]
    assert "\n" not in msgs[0]
    with pytest.raises(ImportError, match=r"'aaa-exits'.*dynnet-exits.*failed to import") as exc:
        dn.plugins.load("dynnet.maps", "aaa-exits")
    assert isinstance(exc.value, plugins.PluginError)
    assert isinstance(exc.value.__cause__, SystemExit if "SystemExit" in shown else RuntimeError)


def test_plugin_whose_class_raises_system_exit_in_the_interface_check_is_reported(fake):
    class ExitOnInit(dn.Map):
        dim = 1

        def step(self, states):
            return states

    def boom(cls):
        raise SystemExit("no")

    ExitOnInit._param_names = classmethod(boom)
    sys.modules["fake_dynnet_plugin"].ExitOnInit = ExitOnInit
    fake(ep("exit-check", "fake_dynnet_plugin:ExitOnInit", dist="dynnet-exitcheck"),
         ep("good", "fake_dynnet_plugin:GoodMap"))
    with pytest.warns(RuntimeWarning, match=r"'exit-check'.*dynnet-exitcheck.*SystemExit\('no'\)"):
        assert dn.plugins.load_all("dynnet.maps") == {"good": GoodMap}
    with pytest.raises(ImportError, match="'exit-check'.*SystemExit"):
        dn.plugins.load("dynnet.maps", "exit-check")


def test_list_check_goes_on_after_a_plugin_that_calls_sys_exit(fake, tmp_path, monkeypatch, capsys):
    from dynnet import cli

    _write_module(tmp_path, monkeypatch, "fake_dynnet_exiting_plugin", "import sys\nsys.exit(0)\n")
    fake(ep("aaa-exits", "fake_dynnet_exiting_plugin:Map", dist="dynnet-exits"),
         ep("zzz-good", "fake_dynnet_plugin:GoodMap", dist="dynnet-good"),
         ep("henon", "dynnet.maps.classic:HenonMap", dist="dynnet", group="dynnet.maps"))
    status = cli.main(["list", "--check"])
    out = capsys.readouterr().out
    assert status == 1  # one broken plugin
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln.startswith("  ")}
    assert "BROKEN" in lines["aaa-exits"] and "SystemExit(0)" in lines["aaa-exits"]
    assert lines["zzz-good"].rstrip().endswith("ok")  # listed and checked after the exiting one
