"""The prepared problem behind GradientDescentMap: data, split, scaling and the flat layout (private).

One job: turn a map's parameters into an immutable :class:`Problem` (the training and
test arrays, the layer sizes and the offsets of each layer in a flat state), cached on
the map by the content of its parameters, and the index sets that the layout defines.
The numpy reference (:mod:`._gd_reference`), the graph view (:mod:`._gd_graph`) and
both engines (:mod:`._gd_engine`, :mod:`._gd_blas`) read only a :class:`Problem`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from .. import _nn
from ..base import check_int, check_option, check_scalar

__all__ = ["INITS", "Problem", "coordinate_groups", "coordinate_names", "fingerprint", "layout",
           "prepared", "held_out_targets", "training_rows"]

#: the ``init`` schemes of GradientDescentMap
INITS = ("normal", "glorot", "he")


@dataclass(frozen=True)
class Problem:
    """The prepared, immutable numbers behind a GradientDescentMap.

    Built by :meth:`GradientDescentMap.problem` (a frozen dataclass; the
    arrays are read-only). Each parameter is kept as the attribute of the
    same name.

    Parameters
    ----------
    sizes : tuple of int
        Layer widths, input first, classes last, e.g. ``(4, 10, 3)``.
    X : ndarray, shape (N, d0)
        Training inputs (after any scaling).
    y : ndarray of int64, shape (N,)
        Training labels, class indices 0..C-1.
    Y : ndarray, shape (N, C)
        One-hot training labels.
    X_test : ndarray, shape (N_test, d0)
        Held-out inputs (possibly empty).
    y_test : ndarray of int64, shape (N_test,)
        Held-out labels (possibly empty).
    offsets : tuple of tuple of int
        ``(w_start, b_start, b_end)`` of each layer in the flat parameter
        vector: the weights are ``[w_start:b_start]`` (row-major
        ``(n_in, n_out)``), the biases ``[b_start:b_end]``.
    activation : str, default "sigmoid"
        The hidden layers' activation (see :class:`GradientDescentMap`).
    loss : str, default "cross-entropy"
        The data loss, ``"cross-entropy"`` or ``"mse"``.
    weight_decay : float, default 0.0
        The L2 coefficient on the weights (not the biases).
    """

    sizes: tuple[int, ...]
    X: np.ndarray
    y: np.ndarray
    Y: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    offsets: tuple[tuple[int, int, int], ...]
    activation: str = "sigmoid"
    loss: str = "cross-entropy"
    weight_decay: float = 0.0

    @property
    def dim(self) -> int:
        """The number of parameters (the length of a state)."""
        return self.offsets[-1][2]

    def unpack(self, params: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per-layer views of flat parameters.

        Parameters
        ----------
        params : ndarray, shape (..., dim)
            Flat parameter vectors (any leading axes).

        Returns
        -------
        list of (ndarray, ndarray)
            ``[(W_l, b_l), ...]`` with ``W_l`` ``(..., n_in, n_out)`` and
            ``b_l`` ``(..., n_out)``, views of ``params``.
        """
        lead = params.shape[:-1]
        out = []
        for (w0, b0, b1), n_in, n_out in zip(self.offsets, self.sizes[:-1], self.sizes[1:], strict=True):
            out.append((params[..., w0:b0].reshape(lead + (n_in, n_out)),
                        params[..., b0:b1]))
        return out


def layout(sizes) -> tuple[tuple[int, int, int], ...]:
    """``(w_start, b_start, b_end)`` of each layer of a network of layer widths ``sizes``.

    Layer by layer, the weights ``(n_in, n_out)`` row-major, then the biases (see
    :attr:`Problem.offsets`).
    """
    offsets = []
    pos = 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        w0 = pos
        b0 = w0 + n_in * n_out
        b1 = b0 + n_out
        offsets.append((w0, b0, b1))
        pos = b1
    return tuple(offsets)


def fingerprint(value):
    """A content key of an array-like: dtype, shape and a SHA-1 of the bytes.

    Editing an array in place changes its key (an ``id()`` would not).
    """
    arr = np.asarray(value)
    if arr.dtype.kind == "O":  # objects have no stable bytes: hash their repr
        digest = hashlib.sha1(repr(arr.tolist()).encode(), usedforsecurity=False).hexdigest()
    else:
        digest = hashlib.sha1(np.ascontiguousarray(arr).data, usedforsecurity=False).hexdigest()
    return ("array", arr.dtype.str, arr.shape, digest)


_PARAM_NAMES: dict = {}


def _param_names(cls) -> tuple:
    """The parameter names of a class (memoised: ``problem()`` is on the hot path)."""
    names = _PARAM_NAMES.get(cls)
    if names is None:
        names = _PARAM_NAMES[cls] = tuple(cls._param_names())
    return names


_IMMUTABLE = (int, float, complex, bool, str, bytes, type(None), np.number, np.bool_)


def _immutable(value) -> bool:
    """Whether ``value`` cannot change in place: a number, a string, None, or a tuple of them."""
    if type(value) is tuple:
        return all(_immutable(v) for v in value)
    return isinstance(value, _IMMUTABLE)


def _same(a, b) -> bool:
    """``a`` is ``b``, or both are scalars or strings of one type and equal."""
    return a is b or (type(a) is type(b) and isinstance(a, _SCALARS) and a == b)


_SCALARS = (int, float, complex, bool, str, np.number, np.bool_)


def prepared(gd_map) -> Problem:
    """The map's :class:`Problem`, rebuilt whenever a parameter or the data change.

    The cache key holds every parameter; arrays (``dataset=(X, y)``, an ``eta`` per
    member) enter it by content (:func:`fingerprint`), so editing an array in place
    after a first use is seen. When every parameter is immutable (numbers, strings, None,
    tuples of them) and each is the same as at the last call (the same object, or a
    scalar or string of the same type and value), the key is not rebuilt:
    the hot path of a step costs a few identity checks. Kept in the map's ``_cache`` (dropped by
    ``set_params`` and by pickling). A new problem is checked once for unprepared
    inputs (:func:`dynnet.datasets._warn_unprepared`).
    """
    cache = gd_map.__dict__.setdefault("_cache", {})  # dropped by set_params and pickling
    values = tuple(getattr(gd_map, name) for name in _param_names(type(gd_map)))
    entry = cache.get("problem")
    if entry is not None and entry[2] is not None and len(values) == len(entry[2]) and all(
            _same(a, b) for a, b in zip(values, entry[2], strict=True)):
        return entry[1]  # the same immutable values as at the last build (the hot path)
    key = []
    for name in _param_names(type(gd_map)):
        value = getattr(gd_map, name)
        if name == "dataset" and isinstance(value, (tuple, list)):
            value = tuple(fingerprint(a) for a in value)
        elif isinstance(value, np.ndarray):
            value = fingerprint(value)
        if isinstance(value, str):
            value = str(value)  # the loss parameter's value is bound to the map: key the text
        key.append((name, type(value), value))
    key = tuple(key)
    # identity is a valid key only for values that cannot change in place (no arrays, lists...)
    frozen = values if all(_immutable(v) for v in values) else None
    try:
        same = entry is not None and entry[0] == key
    except (TypeError, ValueError):  # a parameter with an odd __eq__: rebuild
        same = False
    if same:
        cache["problem"] = (entry[0], entry[1], frozen)
    else:
        entry = (key, build(gd_map), frozen)
        cache["problem"] = entry
        from ..datasets import _warn_unprepared  # unscaled features, saturated units: one warning

        _warn_unprepared(gd_map)
    return entry[1]


def build(gd_map) -> Problem:
    """A new :class:`Problem` from the map's parameters, each validated (errors name the map)."""
    hidden = gd_map.hidden
    if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
        hidden = (hidden,)
    if not isinstance(hidden, (tuple, list)):
        raise TypeError(
            f"GradientDescentMap: parameter hidden={gd_map.hidden!r} must be a tuple of "
            "positive ints, e.g. (10,) or (16, 8)"
        )
    hidden = tuple(check_int(gd_map, "hidden[i]", h, low=1) for h in hidden)
    activation = check_option(gd_map, "activation", gd_map.activation, list(_nn.ACTIVATIONS))
    loss = check_option(gd_map, "loss", gd_map.__dict__.get("_loss_param"), list(_nn.LOSSES))
    wd = check_scalar(gd_map, "weight_decay", gd_map.weight_decay, low=0.0)
    check_option(gd_map, "init", gd_map.init, list(INITS))
    from ..datasets import load

    seed = check_int(gd_map, "split_seed", gd_map.split_seed, low=0)
    n_samples = None if gd_map.n_samples is None else check_int(gd_map, "n_samples", gd_map.n_samples, low=2)
    X, y = load(gd_map.dataset, owner=gd_map, n_samples=n_samples, seed=seed)
    n = X.shape[0]
    ts = gd_map.test_size
    if isinstance(ts, (float, np.floating)):
        ts = check_scalar(gd_map, "test_size", ts, low=0.0, high=1.0, high_open=True)
        n_test = int(round(ts * n))
    else:
        n_test = check_int(gd_map, "test_size", ts, low=0)
    if n - n_test < 2:  # refused before anything trains on an empty (or one-row) training set
        where = f"with n_samples={n_samples}, " if n_samples is not None else ""
        raise ValueError(
            f"GradientDescentMap: parameter test_size={gd_map.test_size!r} is out of range: it leaves "
            f"{max(n - n_test, 0)} of the {n} samples for training (at least 2 are needed): {where}give "
            f"test_size <= {n - 2} "
            f"(e.g. {max(0, min(n - 2, int(round(0.2 * n))))}) or a fraction such as 0.2")
    for name in ("scale", "stratify"):
        if not isinstance(getattr(gd_map, name), (bool, np.bool_)):
            raise TypeError(
                f"GradientDescentMap: parameter {name}={getattr(gd_map, name)!r} must be a bool"
            )
    if n_test > 0 and gd_map.stratify:
        from sklearn.model_selection import train_test_split

        idx_tr, idx_te = train_test_split(np.arange(n), test_size=n_test, stratify=y,
                                          random_state=seed)
        idx_tr = np.sort(idx_tr)
        idx_te = np.sort(idx_te)
    elif n_test > 0:  # the first N - n_test of a seeded shuffle, in shuffled order
        perm = np.random.default_rng(seed).permutation(n)
        idx_tr, idx_te = perm[: n - n_test], perm[n - n_test:]
    else:
        idx_tr, idx_te = np.arange(n), np.arange(0)
    Xtr, ytr, Xte, yte = X[idx_tr], y[idx_tr], X[idx_te], y[idx_te]
    if gd_map.scale:
        mu = Xtr.mean(axis=0)
        sd = Xtr.std(axis=0)
        sd[sd == 0] = 1.0
        Xtr = (Xtr - mu) / sd
        Xte = (Xte - mu) / sd
    n_classes = int(y.max()) + 1
    sizes = (X.shape[1],) + hidden + (n_classes,)
    Y = np.zeros((Xtr.shape[0], n_classes))
    Y[np.arange(Xtr.shape[0]), ytr] = 1.0
    arrays = [np.ascontiguousarray(a) for a in (Xtr, ytr, Y, Xte, yte)]
    for a in arrays:
        a.setflags(write=False)
    return Problem(sizes, arrays[0], arrays[1], arrays[2], arrays[3], arrays[4],
                   layout(sizes), str(activation), str(loss), float(wd))


def training_rows(p: Problem, rows) -> tuple[np.ndarray, np.ndarray]:
    """Training inputs and one-hot targets of a mini-batch ``rows`` (all rows when None)."""
    if rows is None:
        return p.X, p.Y
    idx = np.asarray(rows)
    n = p.X.shape[0]
    if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer) or (
            idx.min() < 0 or idx.max() >= n):
        raise ValueError(
            f"GradientDescentMap: rows must be a non-empty 1-D array of training-sample "
            f"indices in [0, {n}), got {rows!r}"
        )
    return p.X[idx], p.Y[idx]


def held_out_targets(p: Problem) -> np.ndarray:
    """One-hot targets ``(N_test, C)`` of the test split."""
    Y = np.zeros((p.y_test.shape[0], p.sizes[-1]))
    Y[np.arange(p.y_test.shape[0]), p.y_test] = 1.0
    return Y


def coordinate_groups(p: Problem) -> dict[str, np.ndarray]:
    """``"W1"``, ``"b1"``, ..., ``"weights"``, ``"biases"`` and ``"all"``: index sets of the layout."""
    groups = {}
    ws, bs = [], []
    for lay, (w0, b0, b1) in enumerate(p.offsets, start=1):
        groups[f"W{lay}"] = np.arange(w0, b0)
        groups[f"b{lay}"] = np.arange(b0, b1)
        ws.append(groups[f"W{lay}"])
        bs.append(groups[f"b{lay}"])
    groups["weights"] = np.concatenate(ws)
    groups["biases"] = np.concatenate(bs)
    groups["all"] = np.arange(p.dim)
    return groups


def coordinate_names(p: Problem) -> list[str]:
    """``"W1[i,j]"`` (from neuron i to neuron j) and ``"b1[j]"``, one name per coordinate."""
    names = []
    for lay, (n_in, n_out) in enumerate(zip(p.sizes[:-1], p.sizes[1:], strict=True), start=1):
        names += [f"W{lay}[{i},{j}]" for i in range(n_in) for j in range(n_out)]
        names += [f"b{lay}[{j}]" for j in range(n_out)]
    return names
