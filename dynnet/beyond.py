"""``dynnet reproduce --beyond``: the paper's open questions, answered by rule.

The paper (Danovski, Soriano & Lacasa 2024) ends with questions it leaves open.
:func:`beyond_studies` configures one study per question, :func:`beyond_rows`
turns their summaries into rows of the same table format as the headline table
of :mod:`dynnet.reproduce` (columns :data:`dynnet.reproduce.FIELDS`), and every
verdict follows from the rule stated in its row:

* ``regularization``: does weight decay lower :math:`\\lambda_{nMLE}` at
  :math:`\\eta = 1` (Iris)? yes if some weight decay lowers it beyond the sampling
  noise after Holm's correction for the decays tried (the one-sided p-value
  :math:`\\Phi(z)` of the paired change over the networks kept at both, at
  family-wise level :math:`\\Phi(-2)`); "not clear" if fewer than half of the
  weight decays keep half of their fits; no otherwise. Does it cost test
  accuracy? Compared at matched training time (the end of the fit windows,
  where the exponent is measured), by the same correction; the gradient norm
  at the end of the run says whether the training converged.
* ``sharpening``: does the sharpness (top Hessian eigenvalue) reach
  :math:`2/\\eta` at the smallest :math:`\\eta` where :math:`\\lambda_{nMLE}` is
  positive? yes if at least half of the networks reach it there at a record
  after :math:`t = 0`; no if none does; "not clear" in between, or if no
  :math:`\\eta` has a positive exponent. And, with the fit windows in the time
  :math:`\\eta t` (the same at every :math:`\\eta`), do the networks sharpen to it
  from below and hover (progressive sharpening), or start above it (the
  catapult regime)? The computations are in ``dynnet.interpretation``.
* ``window``: where is the Supplementary S2 window (learning rates both
  sensitive and within 1.5x of the fastest time-to-accuracy) on MNIST-1D, and on
  Iris? The window's ends; "empty" when no learning rate is both.
* ``grid``: :math:`\\lambda_{nMLE}` at :math:`\\eta = 1` against width, depth
  and activation on Iris and digits, both at 150 samples, beside the whole-run
  tangent exponent of every network, which needs no fit window, and the regime of each
  cell by a rule (dead: the final loss at the entropy of the class priors).

* ``instability`` (:mod:`dynnet.instability_questions`): does the first covariant
  Lyapunov vector align with the top Hessian eigenvector once the sharpness passes
  :math:`2/\\eta` (at :math:`\\eta = 1`), and is it localised on the weights that move
  most (at :math:`\\eta = 5`)? On Iris and digits, each by the rule in its row.

CI runs ``dynnet reproduce --beyond`` and compares its ``beyond.csv`` with the
committed ``docs/beyond.csv`` (tests/test_published_numbers.py).
"""

from __future__ import annotations

import numpy as np

from .instability_questions import INSTABILITY_RULES, instability_rows, instability_studies

__all__ = ["beyond_studies", "beyond_rows", "BEYOND_RULES"]

#: the rule of each verdict (the questions of the module docstring)
BEYOND_RULES = {
    "regularization.lowers_mle": (
        "yes if some weight decay lowers lambda_nMLE after Holm's correction over the decays tried: "
        "one-sided p = Phi(z) of the paired z, family-wise level Phi(-2) = 0.023 (the level of an "
        "uncorrected z < -2); not clear if fewer than half of the decays keep half of their fits; no "
        "otherwise"),
    "regularization.costs_accuracy": (
        "at matched training time (the end of the fit windows): yes if some weight decay lowers the "
        "networks' test accuracy (paired z over networks, one-sided p = Phi(z)) after Holm's correction "
        "at family-wise level Phi(-2); no otherwise"),
    "sharpening.reaches_2_over_eta": (
        "at the smallest eta with lambda_nMLE > 0.05 (half of the fits kept): yes "
        "if at least half of the networks reach 2/eta at a record after t = 0 (the t = 0 record does "
        "not count), no if none, not clear otherwise or without such an eta"),
    "sharpening.progressive_at_onset": (
        "at the smallest eta whose lambda_nMLE with windows in the time eta*t is > 0.05 (half of the "
        "fits kept): yes if at least half of the networks start below 2/eta, reach it at a record "
        "after t = 0 and hover (|median of S eta/2 over the second half - 1| <= 0.1), no if none, "
        "not clear otherwise or without such an eta"),
    "grid.regime": (
        "in order: dead if the median final training loss lies within 1e-3 of the entropy of the "
        "class priors (the constant predictor); sensitive if half of the fits are kept and "
        "lambda_nMLE > 0.05; insensitive otherwise"),
    "window.range": (
        "eta both sensitive (lambda_nMLE > 0.05, half of the fits kept, at most half diverged) and "
        "fast (median time to the test-accuracy threshold within 1.5x of the fastest)"),
}
BEYOND_RULES.update(INSTABILITY_RULES)  # CLV 1 against the Hessian, and where it lives (issue 20)


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
                ("grid", dn.GridStudy.quick())] + instability_studies(quick=True)
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
    ] + instability_studies()


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
    from ._tables import open_question_row

    rows = []

    def add(*args, **kwargs):
        rows.append(open_question_row(*args, **kwargs))

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
        from . import interpretation as I

        hm = I.regularization_holm(s)
        mt = I.regularization_matched(results["regularization"])
        at = int(mt["step"])
        zero = np.flatnonzero(decays == 0.0)
        acc_z = np.full(decays.size, np.nan)
        for k, mu in enumerate(decays):
            lab = f"[wd={mu:g}]"
            if mu > 0:
                add("regularization.mle_change_p" + lab, f"one-sided p-value of the paired change of Lambda "
                    f"(Phi(z)), weight decay {mu:g}", _f(hm["pvalue"][k]), ".2g",
                    note=f"Holm ({hm['n_tests']} decays, level {I.HOLM_ALPHA:.3f}): "
                    f"{'lowered' if hm['rejected'][k] else 'not lowered'}")
            add("regularization.test_accuracy_matched" + lab, f"test accuracy at step {at} (the end of the "
                f"fit windows), weight decay {mu:g}", _f(mt["test_accuracy_at"][k]), ".3f",
                note=f"training accuracy {_f(mt['train_accuracy_at'][k]):.3f}")
            add("regularization.grad_norm_final" + lab, f"gradient norm of the regularised objective after "
                f"training (median), weight decay {mu:g}", _f(mt["grad_norm_final"][k]), ".3f",
                note=f"at step {at}: {_f(mt['grad_norm_at'][k]):.3f}; 0 at a stationary point")
            if mu > 0 and zero.size:
                acc = mt["test_accuracy_at_per_init"]
                acc_z[k] = I.paired_z(acc[k], acc[zero[0]])
        lowest = hm["lowest"]
        usable = np.mean(np.asarray(s["kept_fraction"].values) >= 0.5)
        verdict = "yes" if np.isfinite(lowest) else ("not clear" if usable < 0.5 else "no")
        add("regularization.lowers_mle", "smallest weight decay that lowers lambda_nMLE (Holm-corrected)",
            lowest, ".0e", BEYOND_RULES["regularization.lowers_mle"], verdict,
            note=f"uncorrected z < -2 from {_f(s['lowest_lowering_decay']):.0e}")
        acc_rej = I.holm(np.where(decays > 0, I.one_sided_p(acc_z), np.nan))
        cost = float(decays[acc_rej].min()) if acc_rej.any() else np.nan
        add("regularization.costs_accuracy",
            f"smallest weight decay that lowers the test accuracy at step {at} (Holm-corrected)",
            cost, ".0e", BEYOND_RULES["regularization.costs_accuracy"],
            "yes" if acc_rej.any() else "no",
            note="paired z " + ", ".join(f"{mu:g}: {z:.1f}" for mu, z in zip(decays, acc_z, strict=True)
                                         if mu > 0))
    if "sharpening" in results:
        s = results["sharpening"].summary()
        for k, eta in enumerate(s["eta"].values):
            lab = f"[eta={eta:g}]"
            add("sharpening.max_ratio" + lab, f"largest sharpness times eta/2 along training (median), "
                f"eta = {eta:g}", _f(s["max_ratio"][k]), ".2f")
            add("sharpening.fraction_reaching" + lab,
                f"networks whose sharpness reaches 2/eta at any record (t = 0 included), eta = {eta:g}",
                _f(s["fraction_reaching"][k]), ".2f")
            add("sharpening.mle" + lab, f"lambda_nMLE, eta = {eta:g}", _f(s["mle"][k]), ".3f",
                note=f"kept {_f(s['kept_fraction'][k]):.2f}")
            add("sharpening.kept_fraction" + lab, f"fraction of fits kept, eta = {eta:g}",
                _f(s["kept_fraction"][k]), ".2f")
        from . import interpretation as I

        res = results["sharpening"].result_
        split = I.sharpening_split(res)
        tm = I.eta_time_exponents(res)
        etas = np.asarray(s["eta"].values, dtype=np.float64)
        for k, eta in enumerate(etas):
            lab = f"[eta={eta:g}]"
            add("sharpening.starts_above" + lab,
                f"networks whose sharpness starts at or above 2/eta (t = 0), eta = {eta:g}",
                _f(split["starts_above"][k]), ".2f", note="the catapult regime")
            add("sharpening.reaches_after_start" + lab, f"networks whose sharpness reaches 2/eta at a record "
                f"after t = 0, eta = {eta:g}", _f(split["reaches_after_start"][k]), ".2f")
            add("sharpening.progressive" + lab, f"networks that start below 2/eta, sharpen to it and hover "
                f"(|late median of S eta/2 - 1| <= {I.HOVER_TOL:g}), eta = {eta:g}",
                _f(split["progressive"][k]), ".2f", note="progressive sharpening (Cohen et al.)")
            add("sharpening.mle_eta_time" + lab, f"lambda_nMLE per unit of eta*t, fit windows in eta*t, "
                f"eta = {eta:g}", _f(tm["mle"][k]), ".3f",
                note=f"kept {_f(tm['kept_fraction'][k]):.2f}; per step {_f(tm['mle_per_step'][k]):.3f}")
            add("sharpening.kept_fraction_eta_time" + lab, f"fraction of fits kept, windows in eta*t, "
                f"eta = {eta:g}", _f(tm["kept_fraction"][k]), ".2f")
        onset = _f(s["lambda_onset_eta"])
        reach = {float(e): _f(split["reaches_after_start"][k]) for k, e in enumerate(etas)}
        frac = reach.get(onset, np.nan)
        if not np.isfinite(onset):
            verdict = "not clear"
        else:
            verdict = "yes" if frac >= 0.5 else ("no" if frac == 0 else "not clear")
        add("sharpening.lambda_onset_eta",
            "smallest eta with lambda_nMLE > 0.05 (windows in steps, ending by step 200)", onset, ".3g")
        add("sharpening.reaches_2_over_eta", "networks reaching 2/eta after t = 0 at that eta", frac, ".2f",
            BEYOND_RULES["sharpening.reaches_2_over_eta"], verdict,
            note=f"counting t = 0: {_f(s['onset_fraction_reaching']):.2f}")
        add("sharpening.sharpness_onset_eta", "smallest eta where half of the networks reach 2/eta (any "
            "record, t = 0 included)", _f(s["sharpness_onset_eta"]), ".3g")
        t_onset = I.onset_eta(etas, tm["mle"], tm["kept_fraction"], tm["diverged_fraction"])
        pos = {float(e): k for k, e in enumerate(etas)}
        if np.isfinite(t_onset):
            prog = _f(split["progressive"][pos[t_onset]])
            above = _f(split["starts_above"][pos[t_onset]])
            verdict = "yes" if prog >= 0.5 else ("no" if prog == 0 else "not clear")
        else:
            prog = above = np.nan
            verdict = "not clear"
        add("sharpening.lambda_onset_eta_time", "smallest eta with lambda_nMLE > 0.05 per unit of eta*t "
            "(windows in eta*t, half of the fits kept)", t_onset, ".3g")
        add("sharpening.progressive_at_onset", "networks that sharpen to 2/eta from below and hover, at that "
            "eta", prog, ".2f", BEYOND_RULES["sharpening.progressive_at_onset"], verdict,
            note=f"starting at or above 2/eta there (catapult): {above:.2f}")
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

        from . import interpretation as I
        from .base import clone

        base_map = results["grid"].parts()["study"].parts()["map"]
        entropies = {}

        def entropy(sel):
            ds_name = str(sel.get("map__dataset", base_map.dataset))
            if ds_name not in entropies:
                entropies[ds_name] = I.prior_entropy(clone(base_map).set_params(dataset=ds_name))
            return entropies[ds_name]

        for values in itertools.product(*(mle[d].values for d in dims)):
            sel = dict(zip(dims, values, strict=True))
            label = ",".join(_label(v) for v in values)
            what = ", ".join(f"{d.removeprefix('map__')} {v}" for d, v in sel.items())
            if "final_loss_median" in s:
                fl, h = _f(s["final_loss_median"].sel(sel)), entropy(sel)
                add(f"grid.regime[{label}]", f"regime at eta = 1, {what}",
                    I.grid_regime(fl, h, _f(kept.sel(sel)), _f(mle.sel(sel))), "",
                    BEYOND_RULES["grid.regime"],
                    note=f"final loss {fl:.4f}, prior entropy {h:.4f}")
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
    rows += instability_rows(results)
    return rows
