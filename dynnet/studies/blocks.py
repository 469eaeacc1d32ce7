r"""The building blocks of a Study: ensembles, sweeps and tangent growth, public and documented.

Every built-in study is made of these pieces, and a plugin Study uses the same
ones (import them from here, never from a private module):

**Ensembles of nearby orbits.** :func:`run_ensemble` runs ``n_init``
reference orbits, each with its perturbed copies, in chunks (serially or in
parallel, each chunk a pure function of its arguments), streams the distances

.. math:: d_{ij}(t) = \operatorname{metric}\big(W_i(t), W'_{ij}(t)\big)

and the observables of the references through :meth:`dynnet.Map.stream_distances`,
and stores each finished chunk in the run's checkpoint, so a resumed run
computes only what is missing and a result does not depend on the chunks or the
jobs. :func:`map_over_inits` is the chunked, parallel, checkpointed loop under
it, for any study that runs one pure job per initial condition.
:func:`check_parts` exercises a map, a perturber and a metric once before any
computing; :func:`ensemble_memory` estimates a run's bytes for the memory
preflight (a study's ``_memory`` hook); :func:`default_chunk` and
:func:`orbit_work` size the chunks.

**Divergence.** A diverged orbit is data (NaN rows, flagged in the result),
not an error: :func:`warn_divergence` issues one
:class:`~dynnet.DivergenceWarning` with the count of diverged orbits,
:func:`owns_divergence` (a decorator of ``_compute``) and
:func:`divergence_once` make a whole run give exactly one such warning, and
:func:`held_divergence`, :func:`divergence_counts` and
:func:`quiet_divergence` are the pieces under them.

**Sweeping one parameter over values.** :func:`run_ensembles` is the one
mechanism: it runs one ensemble per value, from the same initial conditions,
under one progress bar, each with its own checkpoint key. Its two front ends
are :func:`ensembles_over` (a map parameter such as ``eta`` or
``weight_decay``: ``clone(map).set_params(name=value)`` for each value) and
:class:`SweepStudy` (the perturbation size ``eps``: a base class with the
validation, memory estimate and sweep of the eps-sweep studies; the seeds per
eps come from :func:`eps_seed`). :func:`check_values` validates the values,
:func:`fit_over` fits the estimators value by value (each estimator's numbers
stored as ``<key>.<number>`` along the swept dimension) and
:func:`sweep_fits` silences the expected no-exponent warnings of such fits.
:func:`weights_or_all` fits a default perturber of the weights to a map that has
no weights group (every coordinate instead), so a study runs on any map.

**Estimators.** :func:`fit_estimators` fits estimators on a result through
:meth:`dynnet.Estimator.fit_result` and names their numbers
``<key>.<number>`` (:func:`estimator_key`: the class name, lower case);
:func:`ensemble_variables` names what an ensemble's result offers them (a
study's ``_estimator_variables`` hook), so that an estimator whose
:attr:`~dynnet.Estimator.needs` it does not meet is refused before computing.

**Tangent growth.** :func:`tangent_log_growth` follows one renormalised
tangent vector per orbit with :meth:`dynnet.Map.jvp` (any map with a ``jvp``
or a ``jacobian``): the :math:`\varepsilon \to 0` reference of a perturbation
exponent.

Examples
--------
A minimal ensemble study's computation (``self`` a Study with the parts
``map``, ``perturber`` and ``metric``, ``ctx`` its :class:`~dynnet.studies.base.RunContext`)::

    from dynnet.studies.blocks import owns_divergence, run_ensemble, warn_divergence

    @owns_divergence
    def _compute(self, ctx):
        c = self.parts()
        x0 = c["map"].initial_state(self.n_init, seed=ctx.child_seed(0))
        dist, obs, final = run_ensemble(c["map"], c["perturber"], c["metric"], x0,
                                        ctx.seed, self.n_steps, 1, ctx)
        warn_divergence(self, ~np.all(np.isfinite(final), axis=-1))
        ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..base import check_int
from ._ensemble import (
    check_parts,
    default_chunk,
    divergence_counts,
    divergence_once,
    ensemble_memory,
    held_divergence,
    map_over_inits,
    orbit_work,
    owns_divergence,
    quiet_divergence,
    run_ensemble,
    warn_divergence,
)
from ._feeding import ensemble_variables, estimator_key, fit_estimators
from ._sweep import (
    SweepStudy,
    check_eps,
    check_values,
    ensembles_over,
    eps_seed,
    fit_over,
    gd_factory,
    low_eta_parts,
    reference_accuracies,
    run_ensembles,
    sweep_fits,
    weights_or_all,
)

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from ..maps.base import Map

__all__ = [
    # ensembles
    "run_ensemble", "map_over_inits", "check_parts", "ensemble_memory", "default_chunk", "orbit_work",
    # divergence
    "warn_divergence", "divergence_once", "owns_divergence", "quiet_divergence", "held_divergence",
    "divergence_counts",
    # sweeps
    "run_ensembles", "ensembles_over", "SweepStudy", "check_values", "check_eps", "eps_seed",
    "fit_over", "sweep_fits", "reference_accuracies", "gd_factory", "low_eta_parts", "weights_or_all",
    # estimators
    "fit_estimators", "estimator_key", "ensemble_variables",
    # tangent growth
    "tangent_log_growth",
]


def tangent_log_growth(map: Map, states: ArrayLike, vectors: ArrayLike, n_steps: int,
                       every: int = 1) -> np.ndarray:
    r"""Log-growth of one tangent vector per orbit under the tangent map, renormalised each step.

    For each orbit :math:`x_t` of ``map`` from ``states`` and its tangent vector

    .. math::

        v_{t+1} = J(x_t)\, v_t, \qquad
        \ell(t) = \ln \frac{\lVert v_t \rVert_2}{\lVert v_0 \rVert_2}
        = \sum_{s < t} \ln \lVert J(x_s)\, \hat v_s \rVert_2,

    with :math:`\hat v_s` the unit vector of :math:`v_s` (the vector is
    renormalised at every step, so it never overflows; Benettin et al. 1980).
    :math:`J(x)\, v` comes from the map's batched :meth:`~dynnet.Map.jvp`,
    vectorised over orbits (for gradient descent the matrix-free
    :math:`v - \eta H(x) v`, no dense Hessian; a map with only a
    ``jacobian`` gets :meth:`~dynnet.Map.jvp`'s dense product).

    Parameters
    ----------
    map : Map
        A map with tangent dynamics (``map.has_jvp``: a ``jvp`` or a ``jacobian``).
    states : array_like, shape (n, dim)
        Initial states of the orbits.
    vectors : array_like, shape (n, dim)
        Initial tangent vectors (non-zero; only their direction matters).
    n_steps : int
        Steps of each orbit, >= 0.
    every : int, default 1
        Record every ``every`` steps (``n_steps`` must be a multiple).

    Returns
    -------
    ndarray, shape (n_steps // every + 1, n)
        :math:`\ell(t)` at :math:`t = 0, \text{every}, \dots, n\_steps`
        (0 at :math:`t = 0`; NaN from the step an orbit diverges on).

    Raises
    ------
    NotImplementedError
        If the map has neither ``jvp`` nor ``jacobian``.
    ValueError
        If the shapes disagree or a vector is zero.

    References
    ----------
    G. Benettin, L. Galgani, A. Giorgilli, J.-M. Strelcyn, Meccanica 15, 9 (1980).
    B. A. Pearlmutter, Neural Computation 6, 147 (1994) (Hessian-vector products).
    """
    from ..maps.base import check_every

    if not map.has_jvp:
        raise NotImplementedError(
            f"tangent_log_growth: {type(map).__name__} implements neither jvp(states, V) nor "
            "jacobian(state); the tangent-map exponent needs one of them"
        )
    x = map.check_states(states)
    v = np.array(vectors, dtype=np.float64, ndmin=2)
    if v.shape != x.shape:
        raise ValueError(f"tangent_log_growth: vectors must have the shape of states {x.shape}, "
                         f"got {v.shape}")
    n_steps = check_int(map, "n_steps", n_steps, low=0)
    every = check_every(map, n_steps, every)
    norm = np.linalg.norm(v, axis=1)
    if np.any(norm == 0):
        raise ValueError(f"tangent_log_growth: vectors {np.flatnonzero(norm == 0).tolist()} are zero; "
                         "each orbit needs a non-zero tangent vector")
    v = v / norm[:, None]
    out = np.empty((n_steps // every + 1, x.shape[0]))
    out[0] = 0.0
    acc = np.zeros(x.shape[0])
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for t in range(1, n_steps + 1):
            ok = np.all(np.isfinite(x), axis=1) & np.all(np.isfinite(v), axis=1)
            Jv = np.full_like(v, np.nan)
            if ok.any():
                Jv[ok] = map.jvp(x[ok], v[ok][:, None, :])[:, 0]
            x = map.step(x)
            x = np.where(np.all(np.isfinite(x), axis=1)[:, None], x, np.nan)
            g = np.linalg.norm(Jv, axis=1)
            v = Jv
            acc = acc + np.log(g)
            v = v / g[:, None]
            if t % every == 0:
                out[t // every] = acc
    return out
