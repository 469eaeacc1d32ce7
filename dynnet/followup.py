"""``dynnet reproduce --followup``: the follow-up paper's protocol in one command.

Jiménez-González, Soriano & Lacasa (arXiv:2506.08523) train a 784-64-10 tanh
MLP on MNIST (weights :math:`N(0, 1)`, biases 0, inputs in :math:`[0, 1]`,
full-batch gradient descent, float64) at 16 learning rates
(:data:`PAPER_ETAS`), perturb 50 networks 5 times each by
:math:`U(-10^{-8}, 10^{-8})` on the weights, follow the L1 distance for 201
steps, and find that the time to an acceptable test accuracy is shortest in
the range of :math:`\\eta` where the network exponent :math:`\\lambda_{nMLE}`
is positive.

This module runs that protocol with :class:`~dynnet.LearningWindowStudy`
(:math:`\\lambda_{nMLE}` by the paper's best-window fit,
:class:`~dynnet.FiniteLyapunov`, and the median number of steps until the test
accuracy first reaches a stated threshold) on data that needs no download:

* ``digits``: scikit-learn's 8x8 digits, pixels 0..16 divided by 16, a 64-64-10
  network;
* ``mnist1d``: MNIST-1D (generated offline), min-max scaled to :math:`[0, 1]`,
  a 40-64-10 network;
* ``mnist``: real MNIST, pixels divided by 255, the paper's 784-64-10 network
  (fetched once into the user's cache, :func:`mnist_cache`; never in CI).

:func:`followup_studies` configures the studies (the full protocol, or the
reduced preset :data:`CI_PRESET` that CI runs), :func:`followup_rows` turns
them into rows of dynnet's table format (columns :data:`dynnet._tables.FIELDS`),
:func:`fastest_rule` gives the verdict by the rule :data:`RULE`, and
:func:`followup` writes everything (``followup.csv``, ``followup.md``, one
result file per dataset and the figure).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from ._tables import FIELDS, _fmt, read_csv, write_csv  # noqa: F401  (the table format)

__all__ = ["PAPER_ETAS", "PROTOCOL", "DATASETS", "CI_PRESET", "RULE", "followup_inputs", "followup_map",
           "followup_study", "followup_studies", "followup_table", "fastest_rule", "kept_interval",
           "followup_rows", "followup", "mnist_cache"]

#: the follow-up paper's 16 learning rates
PAPER_ETAS = (0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0, 12.5, 15.0, 17.5, 20.0)

#: the protocol of arXiv:2506.08523, shared by every dataset
PROTOCOL = {
    "etas": PAPER_ETAS,
    "n_init": 50,             # networks per learning rate (the same 50 at every eta)
    "n_pert": 5,              # perturbed copies of each network
    "eps": 1e-8,              # U(-eps, eps) on every weight (not on the biases)
    "on": "weights",
    "metric": "L1",
    "steps": 201,             # gradient-descent steps of the perturbation runs and of the training runs
    "hidden": (64,),
    "activation": "tanh",
    "init": "normal",         # weights N(0, init_std^2), biases 0
    "init_std": 1.0,
    "loss": "cross-entropy",
    "accuracy_every": 1,      # the time to the threshold is resolved to one step
    "input_range": (0.0, 1.0),
}

#: per dataset: the network's input width, the held-out test rows, the accuracy threshold and the scaling
DATASETS = {
    "digits": {"inputs": 64, "test_size": 360, "threshold": 0.8,
               "source": "scikit-learn's 8x8 digits (1797 images, bundled)",
               "scaling": "pixels 0..16 divided by 16"},
    "mnist1d": {"inputs": 40, "test_size": 1000, "threshold": 0.3,
                "source": "MNIST-1D (5000 series, generated offline by the mnist1d package)",
                "scaling": "min-max over the whole dataset, (x - min) / (max - min), a fixed affine map "
                           "that uses no labels"},
    "mnist": {"inputs": 784, "test_size": 10000, "threshold": 0.8,
              "source": "MNIST (OpenML mnist_784 v1, 70000 images, fetched once into the user's cache)",
              "scaling": "pixels 0..255 divided by 255"},
}

#: the reduced preset CI runs (``dynnet reproduce --followup --quick``): what it changes from PROTOCOL
CI_PRESET = {
    "etas": (0.1, 1.0, 2.5, 10.0),
    "n_init": 4,
    "n_pert": 2,
    "n_samples": {"digits": 400, "mnist1d": 600, "mnist": 2000},
    "test_size": 0.2,
}

#: a learning rate's majority of positive exponents is judged at this confidence
LEVEL = 0.95

#: the rule of the verdict ``followup.fastest_is_chaotic[DATASET]``
RULE = ("at the eta with the shortest median time to the test-accuracy threshold (ties: the smaller eta): "
        "yes if the 95% Wilson interval of the fraction of networks with a positive exponent (a kept fit: "
        "R^2 > 0.9, Lambda > 0.05) lies above 1/2 and the 95% interval of lambda_nMLE lies above 0; "
        "no if that interval of the fraction lies below 1/2; not clear otherwise, or if at no eta "
        "the median network reaches the threshold")


def mnist_cache() -> Path:
    """The folder where ``--dataset mnist`` keeps its one download.

    ``$DYNNET_DATA`` if set, else ``$XDG_CACHE_HOME/dynnet`` (default
    ``~/.cache/dynnet``), then ``openml/`` inside it (scikit-learn's
    ``fetch_openml`` layout).

    Returns
    -------
    Path
        The folder (not created here).
    """
    root = os.environ.get("DYNNET_DATA")
    if not root:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(cache, "dynnet")
    return Path(root) / "openml"


def followup_inputs(dataset: str, *, data_home: str | os.PathLike | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    r"""The inputs of a dataset scaled to :math:`[0, 1]`, and its labels.

    ``digits``: :math:`x/16`; ``mnist``: :math:`x/255` (the paper's);
    ``mnist1d``: :math:`(x - \min X)/(\max X - \min X)` over the whole dataset.

    Parameters
    ----------
    dataset : {"digits", "mnist1d", "mnist"}
        The dataset.
    data_home : str or path-like or None, default None
        Only for ``"mnist"``: where it is cached (None: :func:`mnist_cache`).
        Fetched there the first time (about 55 MB), read from there afterwards.

    Returns
    -------
    X : ndarray of float64, shape (N, d)
        Inputs in :math:`[0, 1]`.
    y : ndarray of int64, shape (N,)
        Class indices.

    Raises
    ------
    ValueError
        An unknown dataset.
    OSError
        ``"mnist"`` neither cached nor downloadable.
    """
    from . import datasets

    if dataset not in DATASETS:
        raise ValueError(f"dynnet.followup: dataset={dataset!r} is not one of {list(DATASETS)}")
    if dataset == "mnist":
        home = Path(data_home) if data_home is not None else mnist_cache()
        if data_home is None:  # dynnet's own cache folder; a folder the user names is theirs to make
            home.mkdir(parents=True, exist_ok=True)
        X, y = datasets.load("mnist", owner="dynnet reproduce --followup --dataset mnist", data_home=home)
        X = X / 255.0
    else:
        X, y = datasets.load(dataset, owner="dynnet reproduce --followup")
        if dataset == "digits":
            X = X / 16.0
        else:
            lo, hi = float(X.min()), float(X.max())
            X = (X - lo) / (hi - lo)
    X = np.ascontiguousarray(X, dtype=np.float64)
    return X, np.asarray(y)


def followup_map(dataset: str, *, n_samples: int | None = None, test_size: int | float | None = None,
                 data_home: str | os.PathLike | None = None):
    """The protocol's network on a dataset: tanh, one hidden layer of 64, N(0, 1) weights, zero biases.

    Parameters
    ----------
    dataset : {"digits", "mnist1d", "mnist"}
        The dataset (inputs scaled by :func:`followup_inputs`).
    n_samples : int or None, default None
        A stratified subsample of this many rows before the split (None: all).
    test_size : int or float or None, default None
        Held-out rows (None: the dataset's ``DATASETS[dataset]["test_size"]``).
    data_home : str or path-like or None, default None
        Only for ``"mnist"``: see :func:`followup_inputs`.

    Returns
    -------
    GradientDescentMap
        With ``eta=1`` (the study sets each learning rate).
    """
    from .maps.gd import GradientDescentMap

    X, y = followup_inputs(dataset, data_home=data_home)
    p = PROTOCOL
    return GradientDescentMap(eta=1.0, hidden=tuple(p["hidden"]), activation=p["activation"], loss=p["loss"],
                              init=p["init"], init_std=p["init_std"], dataset=(X, y),
                              test_size=DATASETS[dataset]["test_size"] if test_size is None else test_size,
                              n_samples=n_samples, scale=False)


def followup_study(dataset: str, *, quick: bool = False, data_home: str | os.PathLike | None = None,
                   **overrides):
    """The protocol on one dataset, as a LearningWindowStudy (not run).

    Parameters
    ----------
    dataset : {"digits", "mnist1d", "mnist"}
        The dataset.
    quick : bool, default False
        The reduced preset :data:`CI_PRESET` (fewer learning rates, networks,
        perturbations and samples; the same steps, eps, metric, network,
        initialisation and fit).
    data_home : str or path-like or None, default None
        Only for ``"mnist"``: see :func:`followup_inputs`.
    **overrides
        LearningWindowStudy parameters set on top (e.g. ``n_init``).

    Returns
    -------
    LearningWindowStudy
        The configured study (not run).
    """
    from .estimators import FiniteLyapunov
    from .metrics import L1
    from .perturbers import UniformPerturber
    from .studies.learning_window import LearningWindowStudy

    p = PROTOCOL
    if quick:
        c = CI_PRESET
        m = followup_map(dataset, n_samples=c["n_samples"][dataset], test_size=c["test_size"],
                         data_home=data_home)
        etas, n_init, n_pert = c["etas"], c["n_init"], c["n_pert"]
    else:
        m = followup_map(dataset, data_home=data_home)
        etas, n_init, n_pert = p["etas"], p["n_init"], p["n_pert"]
    params = {"etas": tuple(etas), "map": m, "n_init": n_init,
              "perturber": UniformPerturber(eps=p["eps"], n=n_pert, on=p["on"]), "metric": L1(),
              "n_steps": p["steps"], "lyapunov_steps": p["steps"], "accuracy_every": p["accuracy_every"],
              "threshold": DATASETS[dataset]["threshold"], "estimators": [FiniteLyapunov()], "seed": 0}
    params.update(overrides)
    return LearningWindowStudy(**params)


def followup_studies(datasets: tuple[str, ...] = ("digits", "mnist1d"), quick: bool = False,
                     data_home: str | os.PathLike | None = None) -> list[tuple[str, object]]:
    """One study per dataset, named ``followup_DATASET``.

    Parameters
    ----------
    datasets : tuple of str, default ("digits", "mnist1d")
        Datasets of :data:`DATASETS`.
    quick : bool, default False
        The reduced preset :data:`CI_PRESET`.
    data_home : str or path-like or None, default None
        Only for ``"mnist"``: see :func:`followup_inputs`.

    Returns
    -------
    list of (str, LearningWindowStudy)
        ``("followup_<dataset>", study)`` per dataset, configured (not run).
    """
    return [(f"followup_{d}", followup_study(d, quick=quick, data_home=data_home)) for d in datasets]


def kept_interval(k: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    r"""The Wilson score interval of a binomial fraction :math:`k/n`.

    .. math::

        \frac{\hat p + \frac{z^2}{2n} \pm z\sqrt{\frac{\hat p(1-\hat p)}{n} + \frac{z^2}{4n^2}}}
             {1 + z^2/n},\qquad \hat p = k/n,\ z = \Phi^{-1}\!\left(\tfrac{1+\text{level}}{2}\right).

    Parameters
    ----------
    k : int
        Successes (networks with a kept fit), ``0 <= k <= n``.
    n : int
        Trials (networks), > 0.
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    (float, float)
        The interval's ends, inside [0, 1].

    References
    ----------
    E. B. Wilson, "Probable inference, the law of succession, and statistical
    inference", J. Am. Stat. Assoc. 22, 209 (1927).
    """
    from scipy.stats import norm

    n = int(n)
    k = int(k)
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"kept_interval: need 0 <= k <= n and n > 0, got k={k}, n={n}")
    z = float(norm.ppf(0.5 + level / 2))
    p = k / n
    centre = p + z * z / (2 * n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    den = 1 + z * z / n
    lo = 0.0 if k == 0 else max(0.0, (centre - half) / den)  # exactly 0 and 1 at the ends (no rounding)
    hi = 1.0 if k == n else min(1.0, (centre + half) / den)
    return float(lo), float(hi)


def fastest_rule(etas, median_time, kept_fraction, n_init: int, mle_ci_low) -> dict:
    """The verdict of :data:`RULE` on the per-eta columns of one dataset.

    Parameters
    ----------
    etas : array_like, shape (K,)
        Learning rates, increasing.
    median_time : array_like, shape (K,)
        Median steps to the threshold (``inf``: the median network never reached it).
    kept_fraction : array_like, shape (K,)
        Fraction of the ``n_init`` networks with a kept finite-Lyapunov fit.
    n_init : int
        Networks per learning rate.
    mle_ci_low : array_like, shape (K,)
        Lower end of the 95% interval of lambda_nMLE (NaN where no fit was kept).

    Returns
    -------
    dict
        ``verdict`` ("yes", "no" or "not clear"), ``fastest_eta`` (NaN without
        one), ``kept_low`` and ``kept_high`` (the Wilson interval there), and
        ``index`` (of the fastest eta, or -1).
    """
    etas = np.asarray(etas, dtype=float)
    t = np.asarray(median_time, dtype=float)
    kept = np.asarray(kept_fraction, dtype=float)
    ci_low = np.asarray(mle_ci_low, dtype=float)
    finite = np.isfinite(t)
    if not finite.any():
        return {"verdict": "not clear", "fastest_eta": np.nan, "kept_low": np.nan, "kept_high": np.nan,
                "index": -1}
    best = np.min(t[finite])
    i = int(np.flatnonzero(finite & (t == best))[0])  # ties: the smaller eta (etas increase)
    k = int(round(float(np.nan_to_num(kept[i])) * n_init))
    lo, hi = kept_interval(k, n_init)
    if lo > 0.5 and np.isfinite(ci_low[i]) and ci_low[i] > 0:
        verdict = "yes"
    elif hi < 0.5:
        verdict = "no"
    else:
        verdict = "not clear"
    return {"verdict": verdict, "fastest_eta": float(etas[i]), "kept_low": lo, "kept_high": hi, "index": i}


def followup_table(study):
    """The per-eta numbers of one run: lambda_nMLE with its interval, kept, diverged, median time.

    Parameters
    ----------
    study : LearningWindowStudy
        Run (or loaded: its estimators are refitted).

    Returns
    -------
    xarray.Dataset
        Along ``eta``: ``mle``, ``mle_ci_low``, ``mle_ci_high`` (the bootstrap
        interval of FiniteLyapunov), ``kept_fraction``, ``diverged_fraction``,
        ``median_time``, ``reached_fraction``, ``final_test_accuracy``; scalars
        ``threshold`` and ``n_init``.
    """
    import xarray as xr

    if not hasattr(study, "estimators_"):
        study.refit()
    s = study.summary()
    ci = np.array([np.asarray(getattr(e, "mle_ci_", (np.nan, np.nan)), dtype=float)
                   for e in study.estimators_]).reshape(-1, 2)
    n_init = int(study.result_.sizes["init"])
    data = {k: (("eta",), np.asarray(s[k].values, dtype=float))
            for k in ("mle", "kept_fraction", "diverged_fraction", "median_time", "reached_fraction",
                      "final_test_accuracy")}
    data["mle_ci_low"] = (("eta",), ci[:, 0])
    data["mle_ci_high"] = (("eta",), ci[:, 1])
    data["threshold"] = ((), float(s["threshold"]))
    data["n_init"] = ((), n_init)
    return xr.Dataset(data, coords={"eta": np.asarray(s["eta"].values, dtype=float)})


def _preset_text(name: str, study) -> str:
    m = study.map
    n_rows = m.problem().X.shape[0] + m.problem().X_test.shape[0]
    return (f"{len(study.etas)} learning rates {tuple(float(e) for e in study.etas)}, "
            f"{study.n_init} networks x {study.perturber.n} perturbations of U(-{study.perturber.eps:g}, "
            f"{study.perturber.eps:g}) on the weights, L1, {study.lyapunov_steps} steps, "
            f"{'-'.join(str(s) for s in m.sizes)} {m.activation}, N(0, {m.init_std:g}) weights, zero biases, "
            f"{n_rows} samples ({m.problem().X.shape[0]} train / {m.problem().X_test.shape[0]} test), "
            f"threshold {study.threshold:g}")


def followup_rows(results: dict) -> list[dict]:
    """The rows of the follow-up table from the studies of :func:`followup_studies` that ran.

    Parameters
    ----------
    results : dict
        ``followup_DATASET`` to a run LearningWindowStudy.

    Returns
    -------
    list of dict
        Rows with the columns of :data:`dynnet._tables.FIELDS`: per dataset
        and eta ``followup.mle``, ``.mle_ci_low``, ``.mle_ci_high``,
        ``.kept_fraction``, ``.diverged_fraction``, ``.median_time``; per
        dataset ``followup.preset``, ``followup.fastest_eta`` and the verdict
        ``followup.fastest_is_chaotic``.
    """
    rows = []
    paper = "(measured; the follow-up paper's figure, not a number)"

    def add(key, quantity, value, fmt, rule="no verdict: a measurement", verdict="n/a", note="", claim=paper):
        rows.append({"key": key, "quantity": quantity, "dynnet": _fmt(value, fmt),
                     "value": value if isinstance(value, str) else repr(float(value)),
                     "paper": claim, "rule": rule, "verdict": verdict, "note": note})

    for name, study in results.items():
        ds = name.removeprefix("followup_")
        t = followup_table(study)
        add(f"followup.preset[{ds}]", f"configuration on {ds}", _preset_text(name, study), "",
            note=DATASETS[ds]["scaling"])
        for k, eta in enumerate(t["eta"].values):
            lab = f"[{ds},eta={eta:g}]"
            mle, lo, hi = (float(t[v].values[k]) for v in ("mle", "mle_ci_low", "mle_ci_high"))
            add("followup.mle" + lab, f"lambda_nMLE on {ds}, eta = {eta:g}", mle, ".3f",
                note=f"95% interval {lo:.3f}-{hi:.3f}" if np.isfinite(lo) else "no fit kept")
            add("followup.mle_ci_low" + lab, f"lower end of the 95% interval of lambda_nMLE on {ds}, "
                f"eta = {eta:g}", lo, ".3f")
            add("followup.mle_ci_high" + lab, f"upper end of the 95% interval of lambda_nMLE on {ds}, "
                f"eta = {eta:g}", hi, ".3f")
            add("followup.kept_fraction" + lab, f"fraction of networks with a kept fit on {ds}, "
                f"eta = {eta:g}",
                float(t["kept_fraction"].values[k]), ".2f")
            add("followup.diverged_fraction" + lab, f"fraction of networks that diverged on {ds}, "
                f"eta = {eta:g}", float(t["diverged_fraction"].values[k]), ".2f")
            med = float(t["median_time"].values[k])
            add("followup.median_time" + lab, f"median steps to test accuracy {float(t['threshold']):g} "
                f"on {ds}, eta = {eta:g}", "never" if med == np.inf else med, ".0f",
                note=f"reached by {float(t['reached_fraction'].values[k]):.2f} of the networks")
        n_init = int(t["n_init"])
        r = fastest_rule(t["eta"].values, t["median_time"].values, t["kept_fraction"].values, n_init,
                         t["mle_ci_low"].values)
        add(f"followup.fastest_eta[{ds}]", f"eta with the shortest median time to the threshold on {ds}",
            "none" if not np.isfinite(r["fastest_eta"]) else r["fastest_eta"], "g")
        note = ("no eta reaches the threshold (median)" if r["index"] < 0 else
                f"kept fraction there {float(t['kept_fraction'].values[r['index']]):.2f} of {n_init}, "
                f"95% Wilson interval {r['kept_low']:.2f}-{r['kept_high']:.2f}")
        add(f"followup.fastest_is_chaotic[{ds}]", f"does the fastest learning on {ds} fall where "
            "lambda_nMLE > 0?", r["verdict"], "", RULE, r["verdict"], note,
            claim="yes: the time to an acceptable test accuracy is shortest where lambda_nMLE > 0")
    return rows


def _table(rows) -> list[str]:
    lines = ["| key | quantity | dynnet | rule | verdict | note |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['key']} | {r['quantity']} | {r['dynnet']} | {r['rule']} | {r['verdict']} | {r['note']} |"
              for r in rows]
    return lines


def followup(out: Path | str, datasets: tuple[str, ...] = ("digits", "mnist1d"), quick: bool = False,
             n_jobs: int = 1, progress: bool = True, overwrite: bool = False,
             data_home: str | os.PathLike | None = None) -> list[dict]:
    """Run the follow-up protocol; write its results, table and figure.

    Parameters
    ----------
    out : str or Path
        The output folder (made if missing; its parent must exist). It must not
        already hold any of the files this writes, unless ``overwrite``.
    datasets : tuple of str, default ("digits", "mnist1d")
        Datasets of :data:`DATASETS` (``"mnist"`` is fetched once into
        :func:`mnist_cache`).
    quick : bool, default False
        The reduced preset :data:`CI_PRESET` (what CI runs).
    n_jobs : int, default 1
        Parallel workers (see :meth:`dynnet.Study.run`).
    progress : bool, default True
        Progress bars and a line per dataset.
    overwrite : bool, default False
        Replace the files of an earlier run.
    data_home : str or path-like or None, default None
        Only for ``"mnist"``: see :func:`followup_inputs`.

    Returns
    -------
    list of dict
        The rows of the table. Writes ``out/followup_DATASET.nc``,
        ``out/figures/followup-1.png``, ``out/followup.md`` and ``out/followup.csv``.
    """
    from ._files import atomic_write, real_folder, save_figure
    from .results import check_output_path

    datasets = tuple(datasets)
    for d in datasets:
        if d not in DATASETS:
            raise ValueError(f"dynnet.followup: dataset={d!r} is not one of {list(DATASETS)}")
    if not datasets or len(set(datasets)) != len(datasets):
        raise ValueError(f"dynnet.followup: datasets={datasets!r} must name each dataset once")
    out = Path(out)
    figdir = out / "figures"
    names = [f"followup_{d}.nc" for d in datasets] + ["followup.md", "followup.csv"]
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"cannot make {out}: folder {out.parent} does not exist")
    if out.is_dir():  # decide before computing (or downloading): nothing of the user's is replaced
        for f in names:
            check_output_path(out / f, overwrite=overwrite)
        if figdir.is_symlink():
            raise FileExistsError(f"{figdir} is a symbolic link; dynnet writes only into real folders it "
                                  "can see (give another output folder, or remove the link)")
        if figdir.exists() and not figdir.is_dir():
            raise FileExistsError(f"{figdir} exists and is not a folder; give another output folder")
        if figdir.is_dir():
            check_output_path(figdir / "followup-1.png", overwrite=overwrite)
    studies = followup_studies(datasets, quick=quick, data_home=data_home)
    out.mkdir(exist_ok=True)
    real_folder(figdir)
    results, timings = {}, {}
    for name, study in studies:
        t0 = time.perf_counter()
        study.run(n_jobs=n_jobs, progress=progress)
        timings[name] = time.perf_counter() - t0
        study.save(out / f"{name}.nc", overwrite=overwrite)
        results[name] = study
        if progress:
            print(f"{name}: {timings[name]:.1f} s")
    rows = followup_rows(results)
    from .plotting.followup import followup_figure

    fig = followup_figure({n.removeprefix("followup_"): followup_table(s) for n, s in results.items()})
    save_figure(fig, figdir / "followup-1.png", overwrite=overwrite, dpi=100)
    write_csv(out / "followup.csv", rows, overwrite=overwrite)
    lines = ["# dynnet: the protocol of Jiménez-González, Soriano & Lacasa (arXiv:2506.08523)", "",
             f"preset: {'reduced (CI)' if quick else 'the full protocol'}; wall time per dataset: "
             + ", ".join(f"{k.removeprefix('followup_')} {v:.0f} s" for k, v in timings.items()), "",
             *(["The reduced preset changes only the number of learning rates, networks, perturbations "
                "and samples (each dataset's `followup.preset` row says what ran); steps, eps, metric, "
                "network, initialisation, fit and threshold are the protocol's.", ""] if quick else []),
             f"Rule of the verdict: {RULE}.", "",
             *_table(rows)]
    text = ("\n".join(lines) + "\n").encode()
    md = check_output_path(out / "followup.md", overwrite=overwrite)
    atomic_write(md, lambda fh: fh.write(text), fsync=False,
                 before_replace=lambda: check_output_path(md, overwrite=overwrite))
    if progress:
        print("\n".join(lines))
    return rows
