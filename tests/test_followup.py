"""`dynnet reproduce --followup`: the follow-up paper's protocol, its rule, and its safety."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import dynnet as dn
from dynnet import followup as fu
from dynnet.cli import main

INF = np.inf


# ---- the rule -----------------------------------------------------------------------------

def test_the_rule_says_yes_where_the_fastest_eta_is_chaotic():
    r = fu.fastest_rule([0.1, 1.0, 5.0], [INF, 50.0, 20.0], [0.0, 0.5, 1.0], 8, [np.nan, 0.1, 0.2])
    assert r["verdict"] == "yes" and r["fastest_eta"] == 5.0 and r["index"] == 2
    assert r["kept_low"] > 0.5


def test_the_rule_says_no_where_the_fastest_eta_keeps_almost_no_fit():
    # the fastest eta (1) keeps no fit; a slower one (5) is chaotic: the paper's claim fails here
    r = fu.fastest_rule([0.1, 1.0, 5.0], [INF, 20.0, 50.0], [0.0, 0.0, 1.0], 8, [np.nan, np.nan, 0.2])
    assert r["verdict"] == "no" and r["fastest_eta"] == 1.0 and r["kept_high"] < 0.5
    r = fu.fastest_rule([1.0, 5.0], [20.0, 50.0], [1 / 50, 1.0], 50, [0.06, 0.2])  # 1 of 50 kept
    assert r["verdict"] == "no"


def test_the_rule_is_not_clear_when_the_evidence_is_split_or_missing():
    # half of the networks kept: the interval of the fraction contains 1/2
    assert fu.fastest_rule([1.0, 5.0], [20.0, 50.0], [0.5, 1.0], 8, [0.1, 0.2])["verdict"] == "not clear"
    # nothing reaches the threshold: no fastest eta
    r = fu.fastest_rule([1.0, 5.0], [INF, INF], [1.0, 1.0], 8, [0.1, 0.2])
    assert r["verdict"] == "not clear" and np.isnan(r["fastest_eta"]) and r["index"] == -1
    # every fit kept but no interval of lambda_nMLE (no bootstrap): not a yes
    assert fu.fastest_rule([1.0], [20.0], [1.0], 8, [np.nan])["verdict"] == "not clear"
    # 4 of 4 kept is a yes (Wilson lower end 0.51); 3 of 4 is not clear; 0 of 4 is a no
    assert fu.fastest_rule([1.0], [20.0], [1.0], 4, [0.1])["verdict"] == "yes"
    assert fu.fastest_rule([1.0], [20.0], [0.75], 4, [0.1])["verdict"] == "not clear"
    assert fu.fastest_rule([1.0], [20.0], [0.0], 4, [np.nan])["verdict"] == "no"


def test_ties_go_to_the_smaller_eta():
    r = fu.fastest_rule([1.0, 5.0], [20.0, 20.0], [0.0, 1.0], 8, [np.nan, 0.2])
    assert r["fastest_eta"] == 1.0 and r["verdict"] == "no"


def test_the_wilson_interval_has_its_textbook_values():
    lo, hi = fu.kept_interval(0, 10)
    assert lo == 0.0 and abs(hi - 0.2775) < 5e-5
    lo, hi = fu.kept_interval(5, 10)
    assert abs(lo - 0.2366) < 5e-5 and abs(hi - 0.7634) < 5e-5
    with pytest.raises(ValueError):
        fu.kept_interval(3, 2)


@given(n=st.integers(1, 500), data=st.data())
def test_the_wilson_interval_holds_its_fraction_and_is_symmetric(n, data):
    k = data.draw(st.integers(0, n))
    lo, hi = fu.kept_interval(k, n)
    assert 0.0 <= lo <= k / n <= hi <= 1.0
    lo2, hi2 = fu.kept_interval(n - k, n)
    assert abs(lo - (1 - hi2)) < 1e-12 and abs(hi - (1 - lo2)) < 1e-12


# ---- the configuration is the protocol ----------------------------------------------------

@pytest.mark.parametrize("dataset,inputs", [("digits", 64), ("mnist1d", 40)])
@pytest.mark.parametrize("quick", [False, True])
def test_the_configuration_is_the_protocol(dataset, inputs, quick):
    s = fu.followup_study(dataset, quick=quick)
    paper = (0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 7.5, 10, 12.5, 15, 17.5, 20)
    if quick:
        assert set(s.etas) < set(paper) and s.n_init < 50 and s.perturber.n < 5
    else:
        assert tuple(s.etas) == paper and s.n_init == 50 and s.perturber.n == 5
    p = s.perturber
    assert isinstance(p, dn.UniformPerturber) and p.eps == 1e-8 and p.on == "weights"
    assert isinstance(s.metric, dn.L1)
    assert s.n_steps == 201 and s.lyapunov_steps == 201 and s.accuracy_every == 1
    assert s.threshold == fu.DATASETS[dataset]["threshold"]
    (fl,) = s.estimators
    assert isinstance(fl, dn.FiniteLyapunov) and fl.n_boot > 0 and fl.window == "best"
    m = s.map
    assert m.activation == "tanh" and m.init == "normal" and m.init_std == 1.0 and not m.scale
    assert m.sizes == (inputs, 64, 10) and m.loss == "cross-entropy" and m.weight_decay == 0.0
    X, _ = m.data("train")
    Xt, _ = m.data("test")
    assert X.min() >= 0.0 and X.max() <= 1.0 and Xt.min() >= 0.0 and Xt.max() <= 1.0
    assert X.dtype == np.float64
    # N(0, 1) weights and zero biases
    w0 = m.initial_state(3, seed=0)
    biases = m.mask("biases")
    assert np.all(w0[:, biases] == 0.0)
    w = w0[:, ~biases].ravel()
    assert abs(w.std() - 1.0) < 0.03 and abs(w.mean()) < 0.03  # 3 x 4810 (digits) or 3274 draws


def test_the_inputs_span_the_unit_interval():
    for d in ("digits", "mnist1d"):
        X, y = fu.followup_inputs(d)
        assert X.min() == 0.0 and X.max() == 1.0 and y.max() == 9
    raw, _ = dn.datasets.load("digits")
    X, _ = fu.followup_inputs("digits")
    assert np.array_equal(X, raw / 16.0)


def test_mnist_refuses_clearly_when_offline(tmp_path, monkeypatch):
    from sklearn import datasets as skd

    def offline(*a, **k):
        raise OSError("no network")

    monkeypatch.setattr(skd, "fetch_openml", offline)
    with pytest.raises(OSError, match="could not be downloaded"):
        fu.followup_inputs("mnist", data_home=tmp_path / "cache")


def test_the_mnist_cache_is_the_users(monkeypatch, tmp_path):
    monkeypatch.delenv("DYNNET_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert fu.mnist_cache() == tmp_path / "dynnet" / "openml"
    monkeypatch.setenv("DYNNET_DATA", str(tmp_path / "d"))
    assert fu.mnist_cache() == tmp_path / "d" / "openml"


# ---- the command ----------------------------------------------------------------------------

def _no_computing(*a, **k):
    raise AssertionError("computing started before the output folder was checked")


def test_the_command_refuses_a_folder_with_its_files(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(fu, "followup_studies", _no_computing)
    out = tmp_path / "out"
    out.mkdir()
    mine = out / "followup.csv"
    mine.write_text("the user's own table\n")
    assert main(["reproduce", "--followup", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "followup.csv" in err and "--force" in err
    assert mine.read_text() == "the user's own table\n" and sorted(p.name for p in out.iterdir()) == [
        "followup.csv"]
    (out / "followup.csv").unlink()
    (out / "figures").mkdir()
    (out / "figures" / "followup-1.png").write_bytes(b"not dynnet's")
    assert main(["reproduce", "--followup", "--out", str(out), "--quiet"]) == 2
    assert (out / "figures" / "followup-1.png").read_bytes() == b"not dynnet's"


def test_the_command_refuses_mixed_options(tmp_path, capsys):
    assert main(["reproduce", "--dataset", "digits", "--out", str(tmp_path / "a")]) == 2
    assert "--followup" in capsys.readouterr().err
    assert main(["reproduce", "--followup", "--beyond", "--out", str(tmp_path / "b")]) == 2
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def _tiny(datasets=("digits",), quick=False, data_home=None):
    """A few-second stand-in for the studies: 2 learning rates, 3 networks, 60 steps, 150 samples."""
    out = []
    for d in datasets:
        s = fu.followup_study(d, quick=True, etas=(1.0, 10.0), n_init=3, n_steps=60, lyapunov_steps=60,
                              estimators=[dn.FiniteLyapunov(n_boot=200)])
        s.map.set_params(n_samples=150)
        out.append((f"followup_{d}", s))
    return out


def test_the_command_writes_table_results_and_figure(tmp_path, monkeypatch):
    monkeypatch.setattr(fu, "followup_studies", _tiny)
    out = tmp_path / "out"
    out.mkdir()  # an empty folder of the user's is fine
    assert main(["reproduce", "--followup", "--dataset", "digits", "--out", str(out), "--quiet"]) == 0
    assert (out / "followup_digits.nc").is_file() and (out / "figures" / "followup-1.png").is_file()
    rows = fu.read_csv(out / "followup.csv")
    for key in ("followup.mle[digits,eta=1]", "followup.mle_ci_low[digits,eta=10]",
                "followup.kept_fraction[digits,eta=1]", "followup.diverged_fraction[digits,eta=10]",
                "followup.median_time[digits,eta=1]", "followup.fastest_eta[digits]",
                "followup.preset[digits]"):
        assert key in rows
    v = rows["followup.fastest_is_chaotic[digits]"]
    assert v["verdict"] in ("yes", "no", "not clear") and v["rule"] == fu.RULE
    md = (out / "followup.md").read_text()
    assert fu.RULE in md and "followup.fastest_is_chaotic[digits]" in md
    # the rows are the study's own numbers, reloaded from its result file
    s = dn.load(out / "followup_digits.nc")
    t = fu.followup_table(s)
    assert float(rows["followup.mle_ci_high[digits,eta=10]"]["value"]) == pytest.approx(
        float(t["mle_ci_high"].sel(eta=10.0)), rel=0, abs=0, nan_ok=True)
    # a second run refuses, --force replaces
    assert main(["reproduce", "--followup", "--dataset", "digits", "--out", str(out), "--quiet"]) == 2
    assert main(["reproduce", "--followup", "--dataset", "digits", "--out", str(out), "--quiet",
                 "--force"]) == 0


def test_the_figure_has_no_overlapping_text():
    import xarray as xr

    from dynnet.plotting._common import text_problems
    from dynnet.plotting.followup import followup_figure

    eta = np.array([0.1, 1.0, 5.0, 10.0, 20.0])

    def table(shift):
        return xr.Dataset({"mle": ("eta", [np.nan, 0.1, 0.3 + shift / 100, 0.5, 0.6]),
                           "mle_ci_low": ("eta", [np.nan, 0.05, 0.2, 0.4, 0.5]),
                           "mle_ci_high": ("eta", [np.nan, 0.2, 0.4, 0.6, 0.7]),
                           "median_time": ("eta", [INF, 80.0, 30.0 + shift, 40.0, INF]),
                           "threshold": 0.8}, coords={"eta": eta})

    fig = followup_figure({"digits": table(0.0), "mnist1d": table(5.0)})
    assert text_problems(fig) == []
    assert len(fig.axes) == 2 and fig.axes[1].get_xscale() == "log"
