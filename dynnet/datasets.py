"""Datasets for the gradient-descent map: the bundled ones, MNIST-1D, MNIST and the user's arrays.

:func:`load` turns a dataset name or a tuple ``(X, y)`` into the arrays a
:class:`~dynnet.GradientDescentMap` trains on: ``X`` float64 of shape
``(N, d)`` and ``y`` int64 class indices ``0..C-1`` of shape ``(N,)``, both
read-only. :func:`available` lists the names and :func:`describe` tells the
size of each one without loading it.

===================  =======  ====  ==  ==========  =============================================
name                 N        d     C   test rows   source
===================  =======  ====  ==  ==========  =============================================
``"iris"``           150      4     3   --          scikit-learn, bundled
``"wine"``           178      13    3   --          scikit-learn, bundled
``"breast_cancer"``  569      30    2   --          scikit-learn, bundled
``"digits"``         1797     64    10  --          scikit-learn, bundled (8x8 images)
``"mnist1d"``        5000     40    10  last 1000   generated locally by the ``mnist1d`` package
``"mnist"``          70000    784   10  last 10000  OpenML ``mnist_784`` v1, downloaded once
===================  =======  ====  ==  ==========  =============================================

"test rows" is the held-out set of the dataset's own published split: it is
the *last* rows of the returned arrays (the published training set comes
first, in its published order).
"""

from __future__ import annotations

import os
import random
import threading
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["available", "describe", "load", "clear_cache", "feature_names"]

#: name -> (N, d, C, canonical test rows or None, source)
_TABLE: dict[str, tuple[int, int, int, int | None, str]] = {
    "iris": (150, 4, 3, None, "scikit-learn (bundled): sklearn.datasets.load_iris"),
    "digits": (1797, 64, 10, None, "scikit-learn (bundled): sklearn.datasets.load_digits"),
    "wine": (178, 13, 3, None, "scikit-learn (bundled): sklearn.datasets.load_wine"),
    "breast_cancer": (569, 30, 2, None,
                      "scikit-learn (bundled): sklearn.datasets.load_breast_cancer"),
    "mnist1d": (5000, 40, 10, 1000,
                "generated locally by the optional package mnist1d (pip install \"dynnet[mnist1d]\"); "
                "never downloaded"),
    "mnist": (70000, 784, 10, 10000,
              "OpenML mnist_784 version 1 through sklearn.datasets.fetch_openml, "
              "downloaded once into the scikit-learn data cache"),
}

_CACHE: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
_LOCK = threading.Lock()


def _who(owner: Any) -> str:
    if owner is None:
        return "dynnet.datasets.load"
    if isinstance(owner, str):
        return owner
    return type(owner).__name__


def available() -> tuple[str, ...]:
    """The names :func:`load` accepts (besides a tuple ``(X, y)`` of arrays).

    Returns
    -------
    tuple of str
        ``("iris", "digits", "wine", "breast_cancer", "mnist1d", "mnist")``.
        ``"mnist1d"`` needs the optional extra ``pip install "dynnet[mnist1d]"``;
        ``"mnist"`` needs a network the first time (then the local cache).

    Examples
    --------
    >>> from dynnet import datasets
    >>> "iris" in datasets.available()
    True
    """
    return tuple(_TABLE)


def describe(name: str) -> dict[str, Any]:
    """The size and source of a named dataset, without loading it.

    Parameters
    ----------
    name : str
        One of :func:`available`.

    Returns
    -------
    dict
        ``{"name", "n_samples", "n_features", "n_classes", "test_rows", "source"}``:
        ``test_rows`` is the size of the dataset's published test set (the
        last rows of :func:`load`'s arrays), or None when it has none.

    Raises
    ------
    ValueError
        If ``name`` is not one of :func:`available`.

    Examples
    --------
    >>> from dynnet import datasets
    >>> datasets.describe("mnist1d")["n_features"]
    40
    """
    if not isinstance(name, str) or name not in _TABLE:
        raise ValueError(
            f"dynnet.datasets.describe: parameter name={name!r} is not allowed; "
            f"allowed values are {list(_TABLE)}"
        )
    n, d, c, test, source = _TABLE[name]
    return {"name": name, "n_samples": n, "n_features": d, "n_classes": c,
            "test_rows": test, "source": source}


def clear_cache() -> None:
    """Forget the datasets :func:`load` keeps in memory (the next load rebuilds them).

    Returns
    -------
    None
        Nothing; the in-process cache is empty afterwards.
    """
    with _LOCK:
        _CACHE.clear()


def load(dataset: str | tuple[ArrayLike, ArrayLike], *, owner: Any = None,
         n_samples: int | None = None, seed: int = 0,
         data_home: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""Load a dataset as float64 inputs and class indices.

    Named datasets are loaded once per process and kept in memory (read-only
    arrays), so building many maps on the same data does not reload it.

    Parameters
    ----------
    dataset : str or tuple (X, y)
        A name from :func:`available` or the user's arrays: ``X`` numeric,
        finite, shape ``(N, d)``; ``y`` of shape ``(N,)`` with any sortable
        labels (ints, strings, ...), mapped to ``0..C-1`` in sorted order;
        at least 2 classes. Missing labels (NaN, None), complex labels and
        labels of mixed types are refused. pandas objects are taken as users
        pass them: ``X`` a DataFrame (numeric columns; a Series is one
        column), ``y`` a Series or a one-column DataFrame; a non-numeric or
        incomplete (NA) column is refused by name, and
        :func:`feature_names` gives the column names.

        - ``"mnist1d"``: ``mnist1d.data.make_dataset(mnist1d.data.get_dataset_args())``
          (the package's default arguments, seed 42), generated in memory in
          about a second; nothing is downloaded and no file is written. Rows
          ``0..3999`` are the package's training set, rows ``4000..4999`` its
          test set. The package reseeds Python's and NumPy's global random
          generators; :func:`load` restores both afterwards. Missing package:
          ``ImportError`` telling to ``pip install "dynnet[mnist1d]"``.
        - ``"mnist"``: ``sklearn.datasets.fetch_openml("mnist_784", version=1)``
          into ``data_home`` (downloaded once, about 55 MB, then read from
          there); pixel values 0..255 as float64; rows ``0..59999`` are the
          training set, rows ``60000..69999`` the test set.
    owner : object or str or None, default None
        Who asks, for error messages: an object (its class name starts the
        message, e.g. ``"GradientDescentMap: parameter dataset=..."``), a
        string, or None (``"dynnet.datasets.load"``).
    n_samples : int or None, default None
        None: every sample. An int ``C <= n_samples <= N``: a seeded random
        subsample of the whole dataset, stratified by class (class ``k`` with
        ``N_k`` samples gets ``floor(n_samples N_k / N)`` rows plus one of the
        left-over rows, given by largest remainder; every class gets at least
        one row), in the dataset's order (for ``"mnist1d"`` and ``"mnist"``,
        published training rows first).
    seed : int, default 0
        Seed of the subsample (``numpy.random.default_rng(seed)``); unused
        when ``n_samples`` is None.
    data_home : str or path-like or None, default None
        Where ``"mnist"`` is cached: None is scikit-learn's data directory
        (``$SCIKIT_LEARN_DATA`` or ``~/scikit_learn_data``). Unused by the
        other datasets.

    Returns
    -------
    X : ndarray of float64, shape (n, d)
        Inputs, read-only.
    y : ndarray of int64, shape (n,)
        Class indices ``0..C-1`` (for the named datasets, their own targets),
        read-only.

    Raises
    ------
    ValueError
        An unknown name; ``X`` not 2-D or not finite; ``y`` not of shape
        ``(N,)``; missing labels; a single class; ``n_samples`` out of range.
    TypeError
        ``dataset`` neither a name nor a pair; ``X`` not numeric; complex or
        unsortable labels; ``n_samples`` or ``seed`` not an int.
    ImportError
        ``"mnist1d"`` without the ``mnist1d`` package.
    OSError
        ``"mnist"`` not cached and not downloadable (no network).

    Notes
    -----
    The subsample of ``n`` rows from classes of sizes :math:`N_k` gives class
    :math:`k` the count :math:`n_k = \lfloor n N_k / N \rfloor + r_k`, where the
    :math:`n - \sum_k \lfloor n N_k / N\rfloor` left-over rows go, one each, to
    the classes with the largest remainders :math:`n N_k / N - \lfloor n N_k / N\rfloor`
    (ties: the lower class index), after first raising every :math:`n_k = 0` to 1
    (then taking the excess, if any, from the classes most above their quota).

    References
    ----------
    S. Greydanus, D. Kobak, "Scaling down deep learning with MNIST-1D",
    ICML (2024), arXiv:2011.14439.
    Y. LeCun, L. Bottou, Y. Bengio, P. Haffner, "Gradient-based learning
    applied to document recognition", Proc. IEEE 86, 2278 (1998).

    Examples
    --------
    >>> from dynnet import datasets
    >>> X, y = datasets.load("iris")
    >>> X.shape, int(y.max()) + 1
    ((150, 4), 3)
    >>> X, y = datasets.load("digits", n_samples=100, seed=1)
    >>> X.shape
    (100, 64)
    """
    who = _who(owner)
    if isinstance(dataset, str):
        if dataset not in _TABLE:
            raise ValueError(
                f"{who}: parameter dataset={dataset!r} is not allowed; allowed values are "
                f"{list(_TABLE)} or a tuple (X, y) of arrays"
            )
        X, y = _named(who, dataset, data_home)
    elif isinstance(dataset, (tuple, list)) and len(dataset) == 2:
        X, y = _arrays(who, dataset[0], dataset[1])
    else:
        shown = type(dataset).__name__ if isinstance(dataset, np.ndarray) else repr(dataset)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        raise TypeError(
            f"{who}: parameter dataset={shown} is not allowed; give one of {list(_TABLE)} "
            "or a tuple (X, y) of arrays"
        )
    if n_samples is None:
        return X, y
    idx = _subsample(who, repr(dataset) if isinstance(dataset, str) else "(X, y)", y, n_samples, seed)
    Xs, ys = X[idx], y[idx]
    Xs.setflags(write=False)
    ys.setflags(write=False)
    return Xs, ys


# ---- named datasets ---------------------------------------------------------------


def _named(who: str, name: str, data_home) -> tuple[np.ndarray, np.ndarray]:
    if name == "mnist":
        home = None if data_home is None else os.fspath(data_home)
        key = (name, home, os.environ.get("SCIKIT_LEARN_DATA"))
    else:
        key = (name,)
    with _LOCK:
        hit = _CACHE.get(key)
    if hit is not None:
        return hit
    if name == "mnist1d":
        X, y = _mnist1d(who)
    elif name == "mnist":
        X, y = _mnist(who, data_home)
    else:
        from sklearn import datasets as skd

        loader = {"iris": skd.load_iris, "digits": skd.load_digits, "wine": skd.load_wine,
                  "breast_cancer": skd.load_breast_cancer}[name]
        bunch = loader()
        X, y = bunch.data, bunch.target
    X = np.array(X, dtype=np.float64, order="C")
    y = _labels(who, f"dataset={name!r}", y)
    if X.ndim != 2 or X.shape[0] != y.shape[0]:
        raise RuntimeError(f"{who}: dataset={name!r} came as X {X.shape}, y {y.shape}")
    X.setflags(write=False)
    y.setflags(write=False)
    with _LOCK:
        _CACHE[key] = (X, y)
    return X, y


def _mnist1d(who: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError:
        raise ImportError(
            f"{who}: dataset='mnist1d' needs the optional package mnist1d, which is not "
            'installed; install it with: pip install "dynnet[mnist1d]"'
        ) from None
    # make_dataset reseeds the global generators (random.seed, numpy.random.seed):
    # keep the user's streams untouched. It writes no file (get_dataset would).
    py_state = random.getstate()
    np_state = np.random.get_state()
    try:
        data = make_dataset(get_dataset_args())
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    X = np.concatenate([np.asarray(data["x"]), np.asarray(data["x_test"])], axis=0)
    y = np.concatenate([np.asarray(data["y"]), np.asarray(data["y_test"])], axis=0)
    return X, y


def _mnist(who: str, data_home) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets as skd

    home = None if data_home is None else os.fspath(data_home)
    try:
        bunch = skd.fetch_openml("mnist_784", version=1, as_frame=False, data_home=home,
                                 parser="auto")
    except OSError as exc:  # URLError, HTTPError, ... are OSErrors
        where = home if home is not None else skd.get_data_home()
        raise OSError(
            f"{who}: dataset='mnist' is not in the local cache ({where}) and could not be "
            f"downloaded from OpenML ({exc}); connect to a network once, or use "
            "dataset='mnist1d', which is generated offline"
        ) from exc
    return bunch.data, bunch.target


# ---- the user's arrays --------------------------------------------------------------


def _is_frame(obj) -> bool:
    """A pandas DataFrame (duck-typed: pandas is not imported)."""
    return hasattr(obj, "columns") and hasattr(obj, "dtypes") and getattr(obj, "ndim", 0) == 2


def _is_series(obj) -> bool:
    """A pandas Series (duck-typed)."""
    return hasattr(obj, "to_frame") and getattr(obj, "ndim", 0) == 1


def feature_names(X: Any) -> tuple[str, ...] | None:
    """The column names of a pandas ``X`` (a DataFrame, or a Series as one column), else None.

    Parameters
    ----------
    X : object
        The inputs as the user passed them.

    Returns
    -------
    tuple of str or None
        One name per feature, in column order; None for an array.
    """
    if _is_series(X):
        return (str(X.name) if X.name is not None else "0",)
    if _is_frame(X):
        return tuple(str(c) for c in X.columns)
    return None


def _from_pandas(who: str, X_raw, y_raw):
    """pandas inputs as numpy: a Series X is one feature column, a one-column DataFrame y is its
    column; non-numeric or missing (NA) values of X are refused naming their columns."""
    if _is_series(X_raw):
        X_raw = X_raw.to_frame()
    if _is_frame(y_raw) and y_raw.shape[1] == 1:
        y_raw = y_raw.iloc[:, 0]
    if _is_series(y_raw):
        n_missing = int(y_raw.isna().sum())
        if n_missing:
            raise ValueError(f"{who}: dataset=(X, y): y contains {n_missing} missing labels (NaN or NA); "
                             "every sample needs a class label (drop the unlabelled samples)")
        y_raw = y_raw.to_numpy()
    if _is_frame(X_raw):
        from pandas.api.types import is_complex_dtype, is_numeric_dtype

        names = [str(c) for c in X_raw.columns]
        bad = [n for n, t in zip(names, X_raw.dtypes, strict=True)
               if not is_numeric_dtype(t) or is_complex_dtype(t)]
        if bad:
            raise TypeError(f"{who}: dataset=(X, y): X's column(s) {bad} are not numeric; encode them as "
                            "numbers or drop them")
        na = X_raw.isna().to_numpy()
        if na.any():
            cols = [n for n, hit in zip(names, na.any(axis=0), strict=True) if hit]
            raise ValueError(f"{who}: dataset=(X, y): X has {int(na.sum())} missing values (NaN or NA) in "
                             f"column(s) {cols[:5]}; impute or drop them first")
        X_raw = X_raw.to_numpy(dtype=np.float64)
    return X_raw, y_raw


def _arrays(who: str, X_raw, y_raw) -> tuple[np.ndarray, np.ndarray]:
    X_raw, y_raw = _from_pandas(who, X_raw, y_raw)
    try:
        X = np.array(X_raw, dtype=np.float64, order="C")
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{who}: dataset=(X, y): X must be a numeric array convertible to float64, "
            f"got {type(X_raw).__name__} ({exc})"
        ) from None
    if X.ndim != 2:
        raise ValueError(
            f"{who}: dataset=(X, y): X must have ndim 2 (samples, features), got shape {X.shape}"
        )
    if X.shape[0] < 2 or X.shape[1] < 1:
        raise ValueError(
            f"{who}: dataset=(X, y): X needs at least 2 samples and 1 feature, got shape {X.shape}"
        )
    if not np.all(np.isfinite(X)):
        n_bad = int(np.sum(~np.isfinite(X)))
        raise ValueError(
            f"{who}: dataset=(X, y): X contains {n_bad} NaN or infinite values; impute or "
            "drop them first"
        )
    y_arr = np.asarray(y_raw)
    if y_arr.ndim != 1 or y_arr.shape[0] != X.shape[0]:
        raise ValueError(
            f"{who}: dataset=(X, y) needs y of shape ({X.shape[0]},) (one label per row of X), "
            f"got {y_arr.shape}"
        )
    y = _labels(who, "dataset=(X, y)", y_arr)
    n_classes = int(y.max()) + 1
    if n_classes < 2:
        raise ValueError(
            f"{who}: dataset=(X, y) needs at least 2 classes, got 1 (every label is "
            f"{y_arr[0]!r})"
        )
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


def _labels(who: str, what: str, raw) -> np.ndarray:
    """Class indices 0..C-1 of labels (sorted order); missing labels are refused."""
    y_raw = np.asarray(raw)
    kind = y_raw.dtype.kind
    if kind == "c":
        raise TypeError(f"{who}: {what}: y must hold class labels, got complex numbers")
    if kind == "f" and not np.all(np.isfinite(y_raw)):
        n_bad = int(np.sum(~np.isfinite(y_raw)))
        raise ValueError(
            f"{who}: {what}: y contains {n_bad} NaN or infinite labels; every "
            "sample needs a class label (drop the unlabelled samples)"
        )
    if kind == "O":
        missing = sum(1 for v in y_raw.ravel()
                      if v is None or (isinstance(v, (float, np.floating)) and not np.isfinite(v)))
        if missing:
            raise ValueError(
                f"{who}: {what}: y contains {missing} missing labels (None or NaN); "
                "every sample needs a class label (drop the unlabelled samples)"
            )
    if kind == "f" and np.any(y_raw != np.round(y_raw)):
        n_frac = int(np.sum(y_raw != np.round(y_raw)))
        raise ValueError(
            f"{who}: {what}: y contains {n_frac} fractional labels (e.g. "
            f"{y_raw[y_raw != np.round(y_raw)][0]!r}); y must hold class labels, not "
            "regression targets"
        )
    try:
        _, y = np.unique(y_raw, return_inverse=True)
    except TypeError as exc:
        raise TypeError(
            f"{who}: {what}: the labels y cannot be sorted into classes ({exc}); "
            "give labels of one type (ints or strings)"
        ) from None
    return np.ascontiguousarray(y.reshape(-1), dtype=np.int64)


# ---- subsampling ---------------------------------------------------------------------


def _subsample(who: str, label: str, y: np.ndarray, n_samples, seed) -> np.ndarray:
    if isinstance(n_samples, (bool, np.bool_)) or not isinstance(n_samples, (int, np.integer)):
        raise TypeError(
            f"{who}: parameter n_samples={n_samples!r} must be None or an int, "
            f"got {type(n_samples).__name__}"
        )
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"{who}: parameter seed={seed!r} (split_seed) must be an int >= 0")
    n_total = y.shape[0]
    counts = np.bincount(y)
    n_classes = counts.size
    n = int(n_samples)
    if n > n_total:
        raise ValueError(
            f"{who}: parameter n_samples={n} is larger than dataset={label}, which has "
            f"{n_total} samples; give n_samples <= {n_total} or None (all)"
        )
    if n < max(n_classes, 2):
        raise ValueError(
            f"{who}: parameter n_samples={n} is too small for dataset={label}: its "
            f"{n_classes} classes need at least {max(n_classes, 2)} samples (one per class)"
        )
    quota = n * counts / n_total
    take = np.floor(quota).astype(np.int64)
    take[take == 0] = 1  # every class present (n >= n_classes makes room)
    left = n - int(take.sum())
    if left > 0:
        frac = np.where(take < counts, quota - take, -np.inf)
        order = np.lexsort((np.arange(n_classes), -frac))  # largest remainder, then class index
        take[order[:left]] += 1
    while take.sum() > n:  # raising zeros to 1 overshot: trim the largest classes
        take[np.argmax(np.where(take > 1, take - quota, -np.inf))] -= 1
    rng = np.random.default_rng(int(seed))
    chosen = [rng.choice(np.flatnonzero(y == k), size=int(take[k]), replace=False)
              for k in range(n_classes)]
    return np.sort(np.concatenate(chosen))


# ---- warnings about unprepared data (called once per problem by GradientDescentMap) -----

#: feature ranges (max - min over the training rows) that differ by more than this factor
#: are "orders of magnitude apart" (Iris: 2.5, digits: 16, wine: 2.6e3, breast_cancer: 1.4e5)
RANGE_RATIO_WARN = 100.0
#: a hidden unit is saturated when its activation's derivative is below this fraction of its
#: largest value on at least SATURATED_ROWS of the training rows
SATURATED_DERIVATIVE = 1e-3
SATURATED_ROWS = 0.9
#: warn when more than this fraction of the hidden units is saturated at the initial state
SATURATED_UNITS_WARN = 0.75
_D1_MAX = {"sigmoid": 0.25, "tanh": 1.0, "relu": 1.0, "softplus": 1.0}


def _feature_range_note(X: np.ndarray) -> str | None:
    """A sentence when the non-constant features' ranges differ by more than RANGE_RATIO_WARN."""
    if X.shape[0] < 2:
        return None
    span = np.ptp(X, axis=0)
    live = np.flatnonzero(span > 0)
    if live.size < 2:
        return None
    lo, hi = live[np.argmin(span[live])], live[np.argmax(span[live])]
    ratio = float(span[hi] / span[lo])
    if ratio <= RANGE_RATIO_WARN:
        return None
    return (f"the features' ranges differ by a factor {ratio:.3g} (feature {hi} spans {span[hi]:.3g}, "
            f"feature {lo} {span[lo]:.3g}) and scale=False")


#: bytes the saturation check may use (it runs when a GradientDescentMap first builds its problem)
CHECK_BYTES = 2**28


def _check_network_size(m: Any, sizes: tuple) -> None:
    """Refuse, before any array of states exists, a network whose two states (a reference and one
    perturbed copy) would not fit the available memory, naming ``hidden``."""
    from ._memory import MemoryBudgetError, _fmt_bytes, available_memory

    dim = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    need = 2 * 8 * dim
    have = available_memory()
    if need > have:
        raise MemoryBudgetError(
            f"{type(m).__name__}: parameter hidden={getattr(m, 'hidden', None)!r} gives a network of "
            f"{dim:,} parameters, {_fmt_bytes(8 * dim)} per state; two states (a reference and one "
            f"perturbed copy) need {_fmt_bytes(need)} but {_fmt_bytes(have)} is available: lower hidden")


def _saturated_fraction(m: Any, n_networks: int = 4, max_rows: int = 1000) -> float:
    """Mean fraction of hidden units saturated (or dead) at ``m.initial_state(n_networks, seed=0)``."""
    from . import _nn

    p = m.problem()
    _check_network_size(m, p.sizes)
    width = max(p.sizes[1:-1], default=1)
    # the check's working set (activations and derivatives, four arrays rows x width) stays small;
    # a network too wide to check on 10 rows within it is not checked
    rows = min(max_rows, CHECK_BYTES // (32 * width))
    n_networks = max(1, min(n_networks, CHECK_BYTES // (8 * int(m.dim))))
    X = p.X[:rows]
    if rows < 10 or X.shape[0] == 0 or len(p.sizes) < 3:
        return 0.0
    try:
        W = m.initial_state(n_networks, seed=0)
    except ValueError:  # init_std overflows: initial_state says so itself when asked
        return 0.0
    peak = _D1_MAX[p.activation]
    fractions = []
    with np.errstate(over="ignore", invalid="ignore"):
        for w in W:
            a = X
            sat = []
            for lay, (Wl, bl) in enumerate(p.unpack(w)):
                if lay == len(p.sizes) - 2:
                    break
                z = a @ Wl + bl
                a = _nn.activate(p.activation, z)
                flat = _nn.d1(p.activation, z, a) < SATURATED_DERIVATIVE * peak
                sat.append(np.mean(flat, axis=0) >= SATURATED_ROWS)
            fractions.append(float(np.mean(np.concatenate(sat))))
    return float(np.mean(fractions))


def _warn_unprepared(m: Any) -> None:
    """One RuntimeWarning when a GradientDescentMap's inputs look unprepared.

    Two signs, each named in the message: with ``scale=False``, features whose
    ranges differ by more than :data:`RANGE_RATIO_WARN`; and, whatever
    ``scale``, more than :data:`SATURATED_UNITS_WARN` of the hidden units
    saturated (or dead) at the initial state (four networks of
    ``initial_state(4, seed=0)``, on at most 1000 training rows). The paper's
    Iris default (unscaled; ranges 2.4 to 5.9, about 3% of units saturated)
    does not warn.
    """
    notes = []
    p = m.problem()
    if not m.scale:
        note = _feature_range_note(p.X)
        if note:
            notes.append(note)
    frac = _saturated_fraction(m)
    if frac > SATURATED_UNITS_WARN:
        notes.append(f"{frac:.0%} of the hidden units are saturated at the initial state (their "
                     f"activation's derivative is below {SATURATED_DERIVATIVE:g} of its maximum on at least "
                     f"{SATURATED_ROWS:.0%} of the training rows), so the gradient barely moves them")
    if notes:
        warnings.warn(
            f"{type(m).__name__}(dataset={_dataset_label(m.dataset)}): " + "; ".join(notes)
            + ". Standardise the inputs with scale=True (tabular data), or draw smaller initial "
            "weights (init='glorot', or a smaller init_std)",
            RuntimeWarning, stacklevel=_outside_dynnet(),
        )


def _outside_dynnet() -> int:
    """The ``stacklevel`` of the first caller outside the dynnet package (the user's line)."""
    import sys

    root = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(root + os.sep):
        frame, level = frame.f_back, level + 1
    return level


def _dataset_label(dataset: Any) -> str:
    return repr(dataset) if isinstance(dataset, str) else "(X, y)"
