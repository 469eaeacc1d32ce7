"""The Study contract (issue 18 part A): run() is final, declarations instead of parameter names,
one RunContext per run with its workers resolved once, and layers without circles."""

import ast
import inspect
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

import dynnet as dn
from dynnet.parallel import effective_n_jobs, resolve_n_jobs
from dynnet.studies.base import RunContext, Study

PKG = Path(dn.__file__).parent


def _study_classes():
    import dynnet.studies as S

    return [getattr(S, n) for n in S.__all__ if isinstance(getattr(S, n), type)
            and issubclass(getattr(S, n), Study)]


class Walk(Study):
    """A tiny study without parts: ``n_walkers`` random walks of ``n_steps`` steps."""

    _quick_params = {"n_walkers": 5}
    _preflight_sizes = {"n_walkers": 3, "lengths": "first"}

    def __init__(self, n_walkers=10, lengths=(4, 8), seed=0):
        self.n_walkers, self.lengths, self.seed = n_walkers, lengths, seed

    def _compute(self, ctx):
        rng = np.random.default_rng(ctx.child_seed(0))
        x = rng.standard_normal((max(self.lengths), self.n_walkers)).cumsum(axis=0)
        return xr.Dataset({"x": (("t", "walker"), x)})


# -- run() is final --------------------------------------------------------------------------
def test_no_built_in_study_defines_run():
    classes = _study_classes()
    assert len(classes) >= 12
    seen = set()
    todo = list(classes)
    while todo:  # every subclass dynnet defines, imported or not by dynnet.studies
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("dynnet.") and cls is not Study:
            assert "run" not in cls.__dict__, f"{cls.__name__} overrides run()"
    assert Study.run.__qualname__ == "Study.run"


@pytest.mark.parametrize("base", [Study] + _study_classes(), ids=lambda c: c.__name__)
def test_a_subclass_that_defines_run_is_refused_in_one_line(base):
    with pytest.raises(TypeError, match=r"^Mine defines run\(\).*_compute") as info:
        type("Mine", (base,), {"run": lambda self, **kw: self})
    assert "\n" not in str(info.value)
    type("Fine", (base,), {"_analyse": lambda self, ds: (ds, [])})  # hooks are fine


class _CountingGrid(dn.GridStudy):
    calls: list = []

    def _analyse(self, ds):
        type(self).calls.append(id(self))
        return super()._analyse(ds)


@pytest.mark.parametrize("how", ["plain", "resume with the study's seed"])
def test_grid_analyses_once_per_run(tmp_path, how):
    inner = dn.PerturbationStudy(map=dn.HenonMap(), perturber=dn.UniformPerturber(eps=1e-10, n=2, on="all"),
                                 n_init=3, n_steps=8, seed=4)
    g = _CountingGrid(study=inner, grid={"n_steps": [6, 8]})
    _CountingGrid.calls = []
    if how == "plain":
        g.run(preflight=False)
    else:  # seed=None stands for the study's fixed seed: resumable (this path analysed twice before)
        g.run(preflight=False, checkpoint=tmp_path / "ck", resume=True)
    assert _CountingGrid.calls == [id(g)]
    assert g.seed is None and g.saved_seed() is None  # the study's seed is saved with the study
    assert g.seed_.entropy == 4


# -- what the base class checks, by declaration ------------------------------------------------
def test_a_study_without_a_seed_is_refused_in_one_line():
    class NoSeed(Study):
        def __init__(self, n=1):
            self.n = n

    with pytest.raises(TypeError, match=r"^NoSeed has no seed parameter: add seed=None"):
        NoSeed().run()


def test_a_study_with_parts_needs_estimators():
    class NoEstimators(Study):
        def __init__(self, map=None, seed=0):
            self.map, self.seed = map, seed

        @staticmethod
        def _part_defaults():
            return {"map": dn.HenonMap}

    with pytest.raises(TypeError, match=r"^NoEstimators has parts but no estimators parameter"):
        NoEstimators().run()
    with pytest.raises(TypeError, match="estimators"):
        NoEstimators().validate()


def test_the_preflight_shrinks_what_the_study_declares():
    assert Walk()._tiny_params() == {"n_walkers": 3, "lengths": (4,)}
    assert Walk(n_walkers=2, lengths=(5,))._tiny_params() == {}
    assert Study._preflight_sizes == {"n_init": 2, "eps": "first"}
    assert dn.PerturbationStudy(n_init=9)._tiny_params()["n_init"] == 2
    bad = type("Bad", (Walk,), {"_preflight_sizes": {"n_walkers": 2.5}})
    with pytest.raises(TypeError, match="_preflight_sizes"):
        bad()._tiny_params()


def test_a_user_study_without_parts_runs_saves_and_loads(tmp_path):
    from dynnet.testing import check_study

    check_study(Walk.quick())
    s = Walk.quick().run()
    s.save(tmp_path / "w.nc")
    t = dn.load(tmp_path / "w.nc")
    np.testing.assert_array_equal(t.result_["x"].values, s.result_["x"].values)


# -- one RunContext per run, workers resolved once ----------------------------------------------
class _Recording(Walk):
    seen: list = []

    def _memory(self, ctx):
        type(self).seen.append(("memory", id(self), ctx))
        return {}

    def _compute(self, ctx):
        type(self).seen.append(("compute", id(self), ctx))
        return super()._compute(ctx)


@pytest.mark.parametrize("n_jobs", [1, 3, -1])
def test_one_run_context_with_resolved_workers(n_jobs):
    _Recording.seen = []
    s = _Recording()
    s.run(n_jobs=n_jobs, chunk_size=2)
    own = [ctx for _, who, ctx in _Recording.seen if who == id(s)]
    assert len(own) >= 3  # the estimate before and after validation, and the computation
    assert all(ctx is own[0] for ctx in own), "the run built more than one RunContext"
    ctx = own[0]
    assert isinstance(ctx, RunContext) and type(ctx.n_jobs) is int
    assert ctx.n_jobs == effective_n_jobs(n_jobs) >= 1
    assert ctx.chunk_size == 2 and ctx.seed is s.seed_
    tiny = [ctx for kind, who, ctx in _Recording.seen if who != id(s) and kind == "compute"]
    assert len(tiny) == 1 and tiny[0].n_jobs == 1 and tiny[0].checkpoint is None  # the preflight's own


def test_workers_of_an_active_backend_are_the_backends():
    with joblib.parallel_config(backend="threading", n_jobs=3):
        backend_count = joblib.parallel.get_active_backend()[0].effective_n_jobs(-1)
        assert resolve_n_jobs(-1) == max(1, backend_count)
        assert resolve_n_jobs(2) == 2


@settings(max_examples=30, deadline=None)
@given(st.integers(-64, 64).filter(lambda n: n != 0))
def test_resolved_workers_are_a_positive_int_and_resolve_to_themselves(n):
    k = resolve_n_jobs(n)
    assert type(k) is int and k >= 1
    assert resolve_n_jobs(k) == k == (n if n > 0 else effective_n_jobs(n))


def test_resolving_refuses_what_effective_n_jobs_refuses():
    for bad, err in ((0, ValueError), (True, TypeError), (1.5, TypeError), ("2", TypeError)):
        with pytest.raises(err, match="n_jobs"):
            resolve_n_jobs(bad)


# -- layers without circles ----------------------------------------------------------------------
def _imports(path: Path) -> set[str]:
    """The dynnet modules a file imports (anywhere in it, lazy imports and TYPE_CHECKING included)."""
    mod = ".".join(path.relative_to(PKG.parent).with_suffix("").parts)
    package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    if path.name == "__init__.py":
        package = mod.rsplit(".__init__", 1)[0]
    out = set()
    with warnings.catch_warnings():  # a file's own invalid escapes are not this test's business
        warnings.simplefilter("ignore")
        tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("dynnet")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("dynnet"):
                out.add(target)
                out |= {f"{target}.{a.name}" for a in node.names}
    return out


def _file_of(module: str) -> Path | None:
    rel = Path(*module.split("."))
    for p in (PKG.parent / rel.with_suffix(".py"), PKG.parent / rel / "__init__.py"):
        if p.is_file():
            return p
    return None


@pytest.mark.parametrize("low", ["results.py", "_summaries.py", "plotting/sharpening.py",
                                 "plotting/regularization.py", "plotting/grid.py", "checkpoint.py",
                                 "parallel.py"])
def test_lower_layers_import_no_study(low):
    imported = _imports(PKG / low)
    assert not [m for m in imported if m.startswith("dynnet.studies")], f"{low} imports a study module"


def test_saving_uses_public_study_methods_only():
    import dynnet.results as R

    source = inspect.getsource(R)
    for private in ("._saved_seed", "._validate", "._summary(", "._set_loaded", "._result_sizes",
                    "._check_result", "._params_repr"):
        assert private not in source, f"dynnet.results calls the private {private}"
    for name in R.STUDY_METHODS:
        assert callable(getattr(Study, name)) and not name.startswith("_")
        assert getattr(Study, name).__doc__, f"Study.{name} has no docstring"


def test_dynnet_has_no_import_circle():
    """No import circle among dynnet's files (lazy imports included), package faces (__init__.py)
    aside: before issue 18, results.py -> studies/base.py -> results.py was one."""
    files = [p for p in PKG.rglob("*.py") if p.name != "__init__.py"]
    graph = {}
    for p in files:
        targets = {_file_of(m) for m in _imports(p)}
        graph[p] = {t for t in targets if t is not None and t.name != "__init__.py" and t != p}
    state, stack = {}, []

    def visit(p):
        state[p] = 1
        stack.append(p)
        for q in sorted(graph.get(p, ())):
            if state.get(q) == 1:
                cycle = stack[stack.index(q):] + [q]
                raise AssertionError("import circle: " + " -> ".join(str(c.relative_to(PKG)) for c in cycle))
            if q not in state:
                visit(q)
        stack.pop()
        state[p] = 2

    for p in sorted(graph):
        if p not in state:
            visit(p)


def test_summaries_are_the_same_functions_for_studies_and_figures():
    import dynnet._summaries as low
    import dynnet.studies._summaries as high

    assert high.sharpening_summary is low.sharpening_summary
    assert high.regularization_summary is low.regularization_summary
    for args, regime in (((0.6, 0, 1, 1, 2), "divergent"), ((0, 0.2, 1, 1, 2), "intermittent"),
                         ((0, 0, 0.5, 0.06, 0), "chaotic"), ((0, 0, 0.4, 1, 1.0), "sharpness at 2/eta"),
                         ((0, 0, 1, 0.05, 0.5), "convergent")):
        assert low.classify_regime(*args) == regime


# -- the how-to's example, against a known answer ----------------------------------------------
def _own_study():
    import importlib.util
    import sys

    path = PKG.parent / "examples" / "own_study.py"
    spec = importlib.util.spec_from_file_location("own_study", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["own_study"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_the_how_to_study_measures_a_known_growth_rate():
    """x -> 2x doubles every distance: the mean log distance grows by exactly ln 2 per step."""
    own = _own_study()
    s = own.SpreadStudy(map=dn.LinearMap(A=2.0 * np.eye(3)), n_init=3, n_steps=12).run()
    assert abs(float(s.summary()["spreadrate.rate"]) - np.log(2.0)) < 1e-12
    assert [type(e).__name__ for e in s.estimators_] == ["SpreadRate"]
    assert "run" not in own.SpreadStudy.__dict__
