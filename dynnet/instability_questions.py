r"""Where the instability of training lives: the questions of issue 20, answered by stated rules.

Two questions, on the paper's 4-10-3 network on Iris and on digits 64-10-10
(:class:`~dynnet.InstabilityStudy`):

* ``aligns``: at :math:`\eta = 1`, does CLV 1 align with the top Hessian
  eigenvector once the sharpness passes :math:`2/\eta`? The linearisation
  :math:`J = I - \eta H` says it should on a quadratic (the only multiplier
  outside :math:`(-1, 1)` is then :math:`1 - \eta\lambda_{\max}`).
* ``localised``: at :math:`\eta = 5`, is CLV 1 localised on the weights that
  carry the bursts (the paper's Fig. 9 and 10: a few weights move, the rest
  stay almost constant)? The weights that carry them are taken to be the 10%
  of the coordinates that travel furthest over the recorded window,
  :math:`D_i = \sum_t |x_{t+1,i} - x_{t,i}|`.

:func:`instability_studies` configures the studies, :func:`instability_rows`
turns their summaries into rows of the answers table (the columns of
:data:`dynnet.reproduce.FIELDS`, as :func:`dynnet.beyond.beyond_rows`), each
verdict with the rule of :data:`INSTABILITY_RULES`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["instability_studies", "instability_rows", "INSTABILITY_RULES", "ALIGN_YES", "ALIGN_NO",
           "LOCAL_YES", "LOCAL_NO"]

#: thresholds of the rules: median |cos| (random direction: sqrt(2/(pi n)), 0.088 on Iris, 0.029 on digits)
ALIGN_YES, ALIGN_NO = 0.5, 0.2
#: thresholds of the rules: CLV 1's share on the top 10% of coordinates by drift (uniform vector: 0.1)
LOCAL_YES, LOCAL_NO = 0.5, 0.2

INSTABILITY_RULES = {
    "instability.aligns": (
        f"at eta = 1, over the networks whose sharpness passes 2/eta at a record: the median of each "
        f"one's median |cos(CLV 1, top Hessian eigenvector)| over the records from its first crossing on; "
        f"yes if >= {ALIGN_YES}, no if < {ALIGN_NO}, not clear in between or if fewer than half of the "
        f"networks cross (a random direction gives about sqrt(2/(pi*dim)))"),
    "instability.localised": (
        f"at eta = 5: CLV 1's share (sum of squared components) on the 10% of coordinates that travel "
        f"furthest over the window, median over the records and then over the networks; yes if >= "
        f"{LOCAL_YES} (five times a uniform vector's 0.1), no if < {LOCAL_NO} (twice it), not clear "
        f"in between"),
}

#: the datasets, their labels in the row keys, and their networks
_DATASETS = (("iris", "iris 4-10-3"), ("digits", "digits 64-10-10 (150 samples)"))


def _map(dataset: str):
    import dynnet as dn

    if dataset == "digits":  # the grid's digits: 150 samples (a stratified subsample), as Iris's size
        return dn.GradientDescentMap(dataset="digits", n_samples=150)
    return dn.GradientDescentMap(dataset="iris")


def instability_studies(quick: bool = False) -> list[tuple[str, object]]:
    """The studies that answer the two questions on both networks.

    Parameters
    ----------
    quick : bool, default False
        The study's quick preset at each setting (checks the pipeline; the numbers answer nothing).

    Returns
    -------
    list of (str, InstabilityStudy)
        ``instability_iris_eta1``, ``instability_iris_eta5``, ``instability_digits_eta1``,
        ``instability_digits_eta5``.
    """
    from .studies.instability import InstabilityStudy

    out = []
    for ds, _ in _DATASETS:
        for eta in (1.0, 5.0):
            name = f"instability_{ds}_eta{eta:g}"
            if quick:
                out.append((name, InstabilityStudy.quick(map=_map(ds), eta=eta)))
                continue
            every = 10 if ds == "iris" else 20
            n_init = 10 if ds == "iris" else 5
            if eta == 1.0:   # the edge of stability: the sharpness reaches 2/eta within tens of steps
                window = {"n_transient": 20, "n_steps": 200, "n_backward": 50}
            else:            # eta = 5: past the first transient, into the bursts
                window = {"n_transient": 500, "n_steps": 500, "n_backward": 100}
            out.append((name, InstabilityStudy(map=_map(ds), eta=eta, n_init=n_init, every=every,
                                               n_vectors=3, n_hessian=2, lanczos_iter=40, seed=0,
                                               **window)))
    return out


def _f(x) -> float:
    return float(np.asarray(x))


def align_verdict(cosine_median: float, fraction_crossing: float) -> str:
    r"""The verdict of ``instability.aligns`` from its two numbers (see :data:`INSTABILITY_RULES`).

    Parameters
    ----------
    cosine_median : float
        The pooled median :math:`|\cos|` after the crossing (``cosine_median`` of the summary).
    fraction_crossing : float
        The fraction of networks whose sharpness passes :math:`2/\eta`.

    Returns
    -------
    str
        "yes", "no" or "not clear".
    """
    if not fraction_crossing >= 0.5 or not np.isfinite(cosine_median):
        return "not clear"
    if cosine_median >= ALIGN_YES:
        return "yes"
    return "no" if cosine_median < ALIGN_NO else "not clear"


def local_verdict(top_share_median: float) -> str:
    """The verdict of ``instability.localised`` (see :data:`INSTABILITY_RULES`).

    Parameters
    ----------
    top_share_median : float
        CLV 1's pooled median share on the top-drift coordinates (``top_share_median``).

    Returns
    -------
    str
        "yes", "no" or "not clear".
    """
    if not np.isfinite(top_share_median):
        return "not clear"
    if top_share_median >= LOCAL_YES:
        return "yes"
    return "no" if top_share_median < LOCAL_NO else "not clear"


def instability_rows(results: dict) -> list[dict]:
    """The rows of the answers table from the studies of :func:`instability_studies` that ran.

    Parameters
    ----------
    results : dict
        Name (as in :func:`instability_studies`) to a study that has run or was loaded.

    Returns
    -------
    list of dict
        Rows with the columns of :data:`dynnet.reproduce.FIELDS`.
    """
    from ._tables import open_question_row

    rows = []

    def add(*args, **kwargs):
        rows.append(open_question_row(*args, **kwargs))

    for ds, what in _DATASETS:
        for eta in (1.0, 5.0):
            name = f"instability_{ds}_eta{eta:g}"
            if name not in results:
                continue
            study = results[name]
            s = study.summary()
            resid = np.asarray(study.result_["hessian_residual"].isel(hessian=0).values)
            lab = f"[{ds},eta={eta:g}]"
            worst = np.nanmax(resid) if np.any(np.isfinite(resid)) else np.nan
            note = (f"{int(study.result_.sizes['init'])} networks, steps "
                    f"{int(study.result_['step'].values[0])}-{int(study.result_['step'].values[-1])}; "
                    f"Lanczos residual of u_1 <= {worst:.0e}")
            add("instability.cosine_median" + lab, f"median |cos(CLV 1, top Hessian eigenvector)| after "
                f"the sharpness passes 2/eta, {what}, eta = {eta:g}", _f(s["cosine_median"]), ".3f",
                note=note)
            add("instability.fraction_crossing" + lab, f"networks whose sharpness passes 2/eta, {what}, "
                f"eta = {eta:g}", _f(s["fraction_crossing"]), ".2f")
            add("instability.cosine_null" + lab, f"mean |cos| of a random direction, sqrt(2/(pi*dim)), "
                f"{what}", _f(s["cosine_null"]), ".3f")
            add("instability.top_share_median" + lab, f"CLV 1's share on the top {int(s['n_top'])} "
                f"coordinates by drift (median), {what}, eta = {eta:g}", _f(s["top_share_median"]), ".3f")
            add("instability.top_share_null" + lab, f"a uniform vector's share on them, {what}",
                _f(s["top_share_null"]), ".3f")
            add("instability.ipr_median" + lab, f"inverse participation ratio of CLV 1 (median), {what}, "
                f"eta = {eta:g}", _f(s["ipr_median"]), ".3f",
                note=f"uniform {_f(s['ipr_uniform']):.4f}, random direction {_f(s['ipr_random']):.4f}")
            add("instability.exponent" + lab, f"largest CLV exponent over the window (median), {what}, "
                f"eta = {eta:g}", _f(s["exponent_median"].isel(vector=0)), ".3f")
            if eta == 1.0:
                cm, fc = _f(s["cosine_median"]), _f(s["fraction_crossing"])
                add(f"instability.aligns[{ds}]", f"CLV 1 aligns with the top Hessian eigenvector past 2/eta, "
                    f"{what}", cm, ".3f", INSTABILITY_RULES["instability.aligns"], align_verdict(cm, fc))
            else:
                ts = _f(s["top_share_median"])
                add(f"instability.localised[{ds}]", f"CLV 1 localised on the bursting weights, {what}", ts,
                    ".3f", INSTABILITY_RULES["instability.localised"], local_verdict(ts))
    return rows
