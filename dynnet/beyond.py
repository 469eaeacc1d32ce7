"""``dynnet reproduce --beyond``: the paper's open questions, answered by rule.

The paper (Danovski, Soriano & Lacasa 2024) ends with questions it leaves open.
:func:`beyond_studies` configures one study per question, :func:`beyond_rows`
turns their summaries into rows of the same table format as the headline table
of :mod:`dynnet.reproduce` (columns :data:`dynnet.reproduce.FIELDS`), and every
verdict follows from the rule stated in its row:

* ``regularization``: does weight decay lower :math:`\\lambda_{nMLE}` at
  :math:`\\eta = 1` (Iris)? yes if some weight decay lowers it beyond the sampling
  noise (a paired change with z < -2, over the networks kept at both); "not
  clear" if fewer than half of the weight decays keep half of their fits; no
  otherwise.
* ``sharpening``: does the sharpness (top Hessian eigenvalue) reach
  :math:`2/\\eta` at the smallest :math:`\\eta` where :math:`\\lambda_{nMLE}` is
  positive? yes if at least half of the networks reach it there; no if none
  does; "not clear" in between, or if no :math:`\\eta` has a positive exponent.
* ``window``: where is the Supplementary S2 window (learning rates both
  sensitive and within 1.5x of the fastest time-to-accuracy) on MNIST-1D, and on
  Iris? The window's ends; "empty" when no learning rate is both.
* ``grid``: :math:`\\lambda_{nMLE}` at :math:`\\eta = 1` against width, depth
  and activation on Iris and digits, both at 150 samples, beside the whole-run
  tangent exponent of every network, which needs no fit window (numbers only: no verdict).

CI runs ``dynnet reproduce --beyond`` and compares its ``beyond.csv`` with the
committed ``docs/beyond.csv`` (tests/test_published_numbers.py).
"""

from __future__ import annotations

import numpy as np

__all__ = ["beyond_studies", "beyond_rows", "BEYOND_RULES"]

#: the rule of each verdict (the questions of the module docstring)
BEYOND_RULES = {
    "regularization.lowers_mle": (
        "yes if some weight decay lowers lambda_nMLE with paired z < -2; not clear if "
        "fewer than half of the decays keep half of their fits; no otherwise"),
    "sharpening.reaches_2_over_eta": (
        "at the smallest eta with lambda_nMLE > 0.05 (half of the fits kept): yes "
        "if at least half of the networks reach 2/eta, no if none, not clear "
        "otherwise or without such an eta"),
    "window.range": (
        "eta both sensitive (lambda_nMLE > 0.05, half of the fits kept, at most half diverged) and "
        "fast (median time to the test-accuracy threshold within 1.5x of the fastest)"),
}


def beyond_studies(quick: bool = False) -> list[tuple[str, object]]:
    """The studies that answer the open questions, configured for CI (a few minutes in all).

    Parameters
    ----------
    quick : bool, default False
        The studies' quick presets (checks the pipeline; the numbers answer nothing).

    Returns
    -------
    list of (str, Study)
        ``regularization``, ``sharpening``, ``window_iris``, ``window_mnist1d``, ``grid``.
    """
    import dynnet as dn

    if quick:
        return [("regularization", dn.RegularizationStudy.quick()),
                ("sharpening", dn.SharpeningStudy.quick()),
                ("window_iris", dn.LearningWindowStudy.quick()),
                ("grid", dn.GridStudy.quick())]
    # both datasets at Iris's size (150 samples: 120 train / 30 test; digits a stratified subsample),
    # so that width, depth and activation are compared at the same amount of data
    edge = dn.EdgeOfStabilityStudy(map=dn.GradientDescentMap(n_samples=150), n_init=20, eps=(1e-8,),
                                   n_steps_long=0, seed=0)
    return [
        ("regularization", dn.RegularizationStudy(n_init=100, weight_decays=(0.0, 1e-3, 1e-2, 3e-2, 1e-1),
                                                  seed=0)),
        ("sharpening", dn.SharpeningStudy(n_init=20, seed=0)),
        ("window_iris", dn.LearningWindowStudy(
            etas=(0.3, 0.45, 0.6, 0.8, 1.0, 1.3), map=dn.GradientDescentMap(dataset="iris"), n_init=20,
            n_steps=2000, lyapunov_steps=300, threshold=0.9, seed=0)),
        ("window_mnist1d", dn.LearningWindowStudy(
            etas=(3.0, 10.0, 30.0), n_init=4, perturber=dn.UniformPerturber(eps=1e-8, n=3, on="weights"),
            n_steps=500, lyapunov_steps=200, threshold=0.5, seed=0)),
        ("grid", dn.GridStudy(study=edge, grid={
            "map__dataset": ["iris", "digits"], "map__hidden": [(10,), (32,), (10, 10)],
            "map__activation": ["sigmoid", "tanh", "relu"]}, seed=0)),
    ]


def _label(value) -> str:
    """A grid value in a row key: ``(10, 10)`` -> ``10x10``, ``(10,)`` -> ``10``."""
    text = str(value).strip()
    if text.startswith("(") and text.endswith(")"):
        text = "x".join(p.strip() for p in text[1:-1].split(",") if p.strip())
    return text


def _f(x) -> float:
    return float(np.asarray(x))


def beyond_rows(results: dict) -> list[dict]:
    """The rows of the answers table from the studies of :func:`beyond_studies` that ran.

    Parameters
    ----------
    results : dict
        Name (as in :func:`beyond_studies`) to a study that has run or was loaded.

    Returns
    -------
    list of dict
        Rows with the columns of :data:`dynnet.reproduce.FIELDS`.
    """
    from ._tables import _fmt

    rows = []

    def add(key, quantity, value, fmt, rule="no verdict: a measurement", verdict="n/a", note=""):
        rows.append({"key": key, "quantity": quantity, "dynnet": _fmt(value, fmt),
                     "value": value if isinstance(value, str) else repr(float(value)),
                     "paper": "(an open question of the paper)", "rule": rule, "verdict": verdict,
                     "note": note})

    if "regularization" in results:
        s = results["regularization"].summary()
        decays = s["weight_decay"].values
        for k, mu in enumerate(decays):
            lab = f"[wd={mu:g}]"
            add("regularization.mle" + lab, f"lambda_nMLE at eta = 1, weight decay {mu:g}",
                _f(s["mle"][k]), ".3f", note=f"kept {_f(s['kept_fraction'][k]):.2f}")
            add("regularization.kept_fraction" + lab, f"fraction of fits kept, weight decay {mu:g}",
                _f(s["kept_fraction"][k]), ".2f")
            add("regularization.mle_change_z" + lab, f"paired change of Lambda against no decay, in standard "
                f"errors, weight decay {mu:g}", _f(s["mle_change_z"][k]), ".1f")
            add("regularization.test_accuracy" + lab, f"test accuracy after training, weight decay {mu:g}",
                _f(s["test_accuracy"][k]), ".3f")
        lowest = _f(s["lowest_lowering_decay"])
        usable = np.mean(np.asarray(s["kept_fraction"].values) >= 0.5)
        verdict = "yes" if np.isfinite(lowest) else ("not clear" if usable < 0.5 else "no")
        add("regularization.lowers_mle", "smallest weight decay that lowers lambda_nMLE (z < -2)",
            lowest, ".0e", BEYOND_RULES["regularization.lowers_mle"], verdict)
    if "sharpening" in results:
        s = results["sharpening"].summary()
        for k, eta in enumerate(s["eta"].values):
            lab = f"[eta={eta:g}]"
            add("sharpening.max_ratio" + lab, f"largest sharpness times eta/2 along training (median), "
                f"eta = {eta:g}", _f(s["max_ratio"][k]), ".2f")
            add("sharpening.fraction_reaching" + lab,
                f"networks whose sharpness reaches 2/eta, eta = {eta:g}",
                _f(s["fraction_reaching"][k]), ".2f")
            add("sharpening.mle" + lab, f"lambda_nMLE, eta = {eta:g}", _f(s["mle"][k]), ".3f",
                note=f"kept {_f(s['kept_fraction'][k]):.2f}")
            add("sharpening.kept_fraction" + lab, f"fraction of fits kept, eta = {eta:g}",
                _f(s["kept_fraction"][k]), ".2f")
        onset = _f(s["lambda_onset_eta"])
        frac = _f(s["onset_fraction_reaching"])
        if not np.isfinite(onset):
            verdict = "not clear"
        else:
            verdict = "yes" if frac >= 0.5 else ("no" if frac == 0 else "not clear")
        add("sharpening.lambda_onset_eta", "smallest eta with lambda_nMLE > 0.05", onset, ".3g")
        add("sharpening.reaches_2_over_eta", "networks reaching 2/eta at that eta", frac, ".2f",
            BEYOND_RULES["sharpening.reaches_2_over_eta"], verdict)
        add("sharpening.sharpness_onset_eta", "smallest eta where half of the networks reach 2/eta",
            _f(s["sharpness_onset_eta"]), ".3g")
    for name in ("window_iris", "window_mnist1d"):
        if name not in results:
            continue
        s = results[name].summary()
        ds = str(results[name].parts()["map"].dataset)
        for k, eta in enumerate(s["eta"].values):
            lab = f"[{ds},eta={eta:g}]"
            add("window.mle" + lab, f"lambda_nMLE on {ds}, eta = {eta:g}", _f(s["mle"][k]), ".2f",
                note=f"kept {_f(s['kept_fraction'][k]):.2f}")
            add("window.kept_fraction" + lab, f"fraction of fits kept on {ds}, eta = {eta:g}",
                _f(s["kept_fraction"][k]), ".2f")
            t = _f(s["median_time"][k])
            add("window.median_time" + lab, f"median steps to the test-accuracy threshold on {ds}, "
                f"eta = {eta:g}", "never" if t == np.inf else t, ".0f")
        lo, hi = _f(s["window_low"]), _f(s["window_high"])
        text = "empty" if not np.isfinite(lo) else (f"{lo:g}" if lo == hi else f"{lo:g}-{hi:g}")
        add(f"window.range[{ds}]", f"the eta window on {ds} (threshold {_f(s['threshold']):g})", text, "",
            BEYOND_RULES["window.range"], "n/a",
            note=f"fastest eta sensitive: {'yes' if bool(s['fastest_is_sensitive']) else 'no'}")
    if "grid" in results:
        s = results["grid"].summary()
        mle = s["finitelyapunov.mle"].isel(eps=0)
        kept = s["finitelyapunov.kept_fraction"].isel(eps=0)
        dims = list(mle.dims)
        import itertools

        for values in itertools.product(*(mle[d].values for d in dims)):
            sel = dict(zip(dims, values, strict=True))
            label = ",".join(_label(v) for v in values)
            what = ", ".join(f"{d.removeprefix('map__')} {v}" for d, v in sel.items())
            add(f"grid.mle[{label}]", f"lambda_nMLE at eta = 1, {what}", _f(mle.sel(sel)), ".2f",
                note=f"kept {_f(kept.sel(sel)):.2f}")
            add(f"grid.kept_fraction[{label}]", f"fraction of fits kept, {what}", _f(kept.sel(sel)), ".2f")
            if "tangent_exponent" in s:
                add(f"grid.tangent_exponent[{label}]", f"finite-time tangent exponent (eps -> 0), {what}",
                    _f(s["tangent_exponent"].sel(sel)), ".2f")
            if "tangent_ftle" in s:
                add(f"grid.tangent_ftle[{label}]", f"whole-run tangent exponent (every network), {what}",
                    _f(s["tangent_ftle"].sel(sel)), ".2f")
            if "final_loss_median" in s:
                add(f"grid.final_loss[{label}]", f"training loss after the run (median), {what}",
                    _f(s["final_loss_median"].sel(sel)), ".3f")
    return rows
