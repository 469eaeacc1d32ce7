"""The Estimator base class: one fit convention for every estimator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..base import ParamsObject

if TYPE_CHECKING:
    import xarray as xr
    from numpy.typing import ArrayLike

    from ..maps.base import Map

__all__ = ["Estimator", "Needs", "SeriesEstimator", "result_series"]


@dataclass(frozen=True)
class Needs:
    """What an estimator's :meth:`Estimator.fit_result` reads from a study.

    A study feeds an estimator whose needs its result and its map meet, and
    refuses the others when it validates its parameters (before computing), with
    one line that names what is missing.

    Parameters
    ----------
    data : tuple of str, default ()
        Names of the result variables ``fit_result`` reads (every one of them must
        be in the study's result), e.g. ``("distance",)``.
    map : tuple of str, default ()
        Capabilities of the map it calls (every one of them), named as
        :meth:`dynnet.Map.capabilities` names them: ``"jvp"``, ``"jacobian"``,
        ``"hvp"``, ``"hessian"``, ``"groups"``.
    """

    data: tuple[str, ...] = ()
    map: tuple[str, ...] = ()

    def unmet(self, variables, capabilities) -> str | None:
        """What is missing, in one line, or None when the needs are met.

        Parameters
        ----------
        variables : collection of str
            The result variables a study offers its estimators.
        capabilities : collection of str
            The map's capabilities (:meth:`dynnet.Map.capabilities`).

        Returns
        -------
        str or None
            None when every need is met; else what is missing, in words.
        """
        data = [v for v in self.data if v not in set(variables)]
        caps = [c for c in self.map if c not in set(capabilities)]
        parts = []
        if data:
            parts.append("the result variable" + ("s " if len(data) > 1 else " ")
                         + ", ".join(repr(v) for v in data))
        if caps:
            parts.append("a map with " + ", ".join(caps))
        return " and ".join(parts) if parts else None


def result_series(owner: object, result: xr.Dataset, variable: str = "loss") -> np.ndarray:
    r"""The scalar series a series estimator's ``fit_result`` reads from a study result.

    ``result[variable]`` must have a ``step`` dimension; its other dimensions
    (``init`` in most studies) index the series. The series is that of the first
    index (in C order of the other dimensions) whose values are all finite: the
    reference orbit of the first initial condition that did not diverge,

    .. math:: s_t = \text{result[variable]}_{t,\, i^*}, \qquad
              i^* = \min\{\, i : s_{t,i} \text{ finite for every } t \,\}.

    Parameters
    ----------
    owner : object
        The estimator (named in errors).
    result : xarray.Dataset
        A study result, or the part of it for one value of a sweep.
    variable : str, default "loss"
        The variable holding the series.

    Returns
    -------
    numpy.ndarray, shape (n_steps,)
        The series, float64.

    Raises
    ------
    ValueError
        If the variable is missing, has no ``step`` dimension, or no series is finite.
    """
    name = type(owner).__name__
    if variable not in result:
        raise ValueError(f"{name}: the result has no {variable!r} variable "
                         f"(it has {sorted(result.data_vars)})")
    da = result[variable]
    if "step" not in da.dims:
        raise ValueError(f"{name}: result[{variable!r}] has dims {da.dims}; it needs a 'step' dimension")
    others = [d for d in da.dims if d != "step"]
    X = np.asarray(da.transpose("step", *others).values, dtype=np.float64)
    X = X.reshape(X.shape[0], -1)
    ok = np.all(np.isfinite(X), axis=0)
    if not ok.any():
        raise ValueError(f"{name}: every series of result[{variable!r}] has non-finite values "
                         "(all orbits diverged)")
    return np.ascontiguousarray(X[:, int(np.argmax(ok))])


def _logistic_orbit(n: int = 600, x0: float = 0.3) -> np.ndarray:
    """An orbit of the logistic map at r = 4 (chaotic, exponent ln 2): example fit data."""
    x = np.empty(n)
    x[0] = x0
    for t in range(1, n):  # example data for the conformance checks, built once per call
        x[t] = 4.0 * x[t - 1] * (1.0 - x[t - 1])
    return x


class Estimator(ParamsObject):
    r"""Turns distances, orbits or a scalar series into numbers with uncertainty.

    **The fit convention.** Every estimator is fitted with

    .. code-block:: python

        est.fit(data, *, map=None, steps=None)   # returns est

    Parameters live in ``__init__`` (stored unchanged, validated by ``fit``);
    results are attributes ending with ``_``. What ``data`` is depends on
    the family:

    ============================================  =====================================  ========  =========
    estimator                                     ``data``                               ``map``   ``steps``
    ============================================  =====================================  ========  =========
    :class:`~dynnet.FiniteLyapunov`               distances ``(T, n_init, n_pert)``      --        optional
    :class:`~dynnet.LyapunovSpectrum`             one state ``(dim,)``                   required  --
    :class:`~dynnet.Sharpness`                    states ``(T, dim)`` or ``(dim,)``      required  --
    :class:`~dynnet.WeightImportance`             one state ``(dim,)``                   required  --
    :class:`~dynnet.WeightDrift`                  trajectory ``(T+1, [E,] dim)``         with on=  --
    :class:`~dynnet.Kantz`,                       a scalar series ``(N,)``               --        --
    :class:`~dynnet.Rosenstein`,
    :class:`~dynnet.ShuffledAutocorrelation`,
    :class:`~dynnet.HorizontalVisibilityGraph`,
    :class:`~dynnet.LaminarPhases`
    ============================================  =====================================  ========  =========

    * ``map`` is the :class:`~dynnet.Map` whose dynamics, Jacobian, Hessian,
      loss or coordinate groups the estimator needs. An estimator that needs
      a map raises ``TypeError`` naming itself when ``map`` is None; an
      estimator with a coordinate-group parameter (``on=``) raises when it
      gets no map to read the groups from, rather than silently ignoring
      ``on``.
    * ``steps`` ``(T,)`` is the time of each record of ``data``, for
      estimators that fit against time; without it they use
      ``arange(T) * every``.
    * An estimator that does not use ``map`` or ``steps`` raises
      ``TypeError`` when it is given one, so a misplaced argument is never
      ignored.

    **Two layers** (as in ChaosTools.jl): ``fit`` is the direct call on
    prepared data; ``fit_result(result, map=None)`` is how a Study feeds the
    estimator from its labelled result (an ``xarray.Dataset``). An estimator
    that implements ``fit_result`` declares what it reads in the class
    attribute ``needs`` (a :class:`Needs`: result variables such as
    ``"distance"`` or ``"loss"``, and map capabilities such as ``"hvp"``);
    every study whose result and map meet those needs feeds it, and a study
    that cannot refuses it before computing, in one line naming what is
    missing. Estimators that cannot be fed from a study result keep
    ``needs = None`` and the default ``fit_result``, which raises
    ``NotImplementedError`` naming the class.

    **Results.** Estimators of a Lyapunov exponent expose ``exponent_``, a
    float (the headline exponent). ``significant_``, where present, is a
    bool: the estimator's significance test rejected its null hypothesis.
    ``summary()`` returns the headline numbers as a flat dict with stable
    keys and float, int or bool values (``"exponent"`` for exponent
    estimators).

    **For developers.** Implement ``__init__`` (keyword parameters stored
    unchanged), ``fit(data, *, map=None, steps=None)`` (use
    :meth:`_need_map` and :meth:`_no_map` / :meth:`_no_steps` for the
    arguments above), ``summary()``, optionally ``fit_result`` and a
    ``_check_data()`` staticmethod with example ``fit`` arguments for
    :func:`dynnet.testing.check_estimator`.
    """

    @property
    def needs(self) -> Needs | None:
        """What :meth:`fit_result` reads from a study (a :class:`Needs`).

        A subclass declares it as a class attribute, ``needs = Needs(data=("distance",))``
        (or as a property, when it depends on a parameter). None (the default):
        nothing declared; the default ``fit_result`` cannot be fed, an own one is
        fed and checks what it reads itself.

        Returns
        -------
        Needs or None
            The declaration.
        """
        return None

    def unmet_needs(self, variables, map: Map | None = None) -> str | None:
        """Why a study with these result variables and this map cannot feed this estimator
        (one line), or None when it can.

        Parameters
        ----------
        variables : collection of str
            The result variables the study offers.
        map : Map or None, default None
            The study's map.

        Returns
        -------
        str or None
            None when a study can feed this estimator (its :attr:`needs` are met, or it
            implements its own ``fit_result`` without declaring needs); else what is
            missing, in words.
        """
        if self.needs is None:
            if type(self).fit_result is not Estimator.fit_result:
                return None  # its own fit_result, nothing declared: fed; it checks what it reads
            return "cannot be fitted from a study result (it declares no needs); call fit(...) directly"
        caps = map.capabilities() if map is not None else frozenset()
        missing = self.needs.unmet(variables, caps)
        return None if missing is None else f"needs {missing}, which this study does not have"

    def fit(self, data: Any, *, map: Map | None = None,  # pragma: no cover
            steps: ArrayLike | None = None) -> Estimator:
        """Fit on ``data``; returns self (see the class docstring for ``map`` and ``steps``).

        Parameters
        ----------
        data : array_like
            The data of the estimator's family (class docstring).
        map : Map or None, default None
            The map, for estimators that need one.
        steps : array_like or None, default None
            Time of each record, for estimators that fit against time.

        Returns
        -------
        Estimator
            ``self``.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement fit(data, *, map=None, steps=None)")

    def fit_result(self, result: xr.Dataset, map: Map | None = None) -> Estimator:
        """Fit from a Study's ``result_`` dataset; returns self.

        Parameters
        ----------
        result : xarray.Dataset
            A study's labelled result.
        map : Map or None, default None
            The study's map.

        Returns
        -------
        Estimator
            ``self``.
        """
        raise NotImplementedError(
            f"{type(self).__name__} cannot be fitted from a study result; call fit(...) directly"
        )

    def summary(self) -> dict[str, Any]:
        """Headline numbers of the fit: a flat dict of floats, ints and bools (empty by default).

        Returns
        -------
        dict
            Stable keys (no list positions or values in the names).
        """
        return {}

    # ---- helpers for subclasses -------------------------------------------
    def _check_fitted(self, attr: str) -> None:
        if not hasattr(self, attr):
            raise RuntimeError(f"{type(self).__name__} is not fitted yet; call fit(...) first")

    def _need_map(self, map: Any, why: str) -> Any:
        """Return ``map``, or raise TypeError naming the class and what the map is for."""
        if map is None:
            raise TypeError(f"{type(self).__name__}.fit needs map=...: {why}")
        return map

    def _no_map(self, map: Any) -> None:
        if map is not None:
            raise TypeError(
                f"{type(self).__name__}.fit takes no map (it works on the data alone); "
                f"got map={type(map).__name__}"
            )

    def _no_steps(self, steps: Any) -> None:
        if steps is not None:
            raise TypeError(
                f"{type(self).__name__}.fit takes no steps (it uses the data alone); got steps=..."
            )


class SeriesEstimator(Estimator):
    """An estimator of one scalar series, fed from a study's ``loss`` along ``step``.

    The base of the series estimators (:class:`~dynnet.Kantz`,
    :class:`~dynnet.Rosenstein`, :class:`~dynnet.ShuffledAutocorrelation`,
    :class:`~dynnet.HorizontalVisibilityGraph`, :class:`~dynnet.LaminarPhases`):
    ``fit(series)`` is the direct call; in a study, :meth:`fit_result` takes the
    series of the first initial condition whose loss stayed finite
    (:func:`result_series`), so every study whose result records ``loss`` along
    ``step`` can take them.
    """

    #: what :meth:`fit_result` reads: a loss series
    needs = Needs(data=("loss",))

    def fit_result(self, result: xr.Dataset, map: Map | None = None) -> SeriesEstimator:
        """Fit on the ``loss`` series of a study result; returns self.

        Parameters
        ----------
        result : xarray.Dataset
            With ``loss`` along ``step`` (other dimensions index the series).
        map : Map or None, default None
            Not used.

        Returns
        -------
        SeriesEstimator
            ``self``.
        """
        return self.fit(result_series(self, result, "loss"))
