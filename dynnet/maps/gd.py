"""Full-batch gradient descent on an MLP, viewed as a map in weight space.

:class:`GradientDescentMap` is the public class: its parameters, docstrings and the
methods of :class:`~dynnet.Map`. It is composed of modules of one job each:

* :mod:`._gd_problem`: the prepared problem (data, split, scaling, flat layout),
  :class:`Problem`, cached on the map by the content of its parameters;
* :mod:`._gd_reference`: the numpy reference (forward pass, loss, gradient,
  Pearlmutter's R-operator);
* :mod:`._gd_graph`: the graph view (``to_graph``, ``from_graph``);
* :mod:`._gd_dispatch`: the engine interface and the one place that selects an
  engine, :class:`._gd_engine.SimdEngine` or :class:`._gd_blas.BlasEngine`; both are
  built from the prepared problem and take the per-member eta with each call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np

from ..base import check_array, check_option, check_scalar
from . import _gd_dispatch, _gd_graph, _gd_problem, _gd_reference, _gd_rop
from ._gd_dispatch import BLAS_MIN_WORK  # noqa: F401 - read as dynnet.maps.gd.BLAS_MIN_WORK
from ._gd_problem import INITS, Problem
from .base import Map

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["GradientDescentMap", "Problem"]


class _LossName(str):
    """The ``loss`` parameter's value, which is also the :meth:`GradientDescentMap.loss` method.

    It is the string (``m.loss == "cross-entropy"``, saved, cloned and compared as
    one) and, called, the loss of states: ``m.loss(W)``. Copying or pickling it
    gives the plain string.
    """

    def __call__(self, states, rows=None, split="train"):
        return self.__dict__["_owner"]._loss_of(states, rows=rows, split=split)

    def __reduce__(self):
        return (str, (str(self),))

    def __copy__(self):
        return str(self)

    def __deepcopy__(self, memo):
        return str(self)


class _LossAttribute:
    """``GradientDescentMap.loss``: the parameter (a string) and the method, one name (api.md)."""

    def __init__(self, doc):
        self.__doc__ = doc

    def __get__(self, obj, cls=None):
        if obj is None:
            return self
        value = obj.__dict__.get("_loss_param", "cross-entropy")
        if type(value) is str:
            bound = _LossName(value)
            bound.__dict__["_owner"] = obj
            return bound
        return value

    def __set__(self, obj, value):
        obj.__dict__["_loss_param"] = str(value) if isinstance(value, str) else value


class GradientDescentMap(Map):
    r"""Full-batch gradient descent on an MLP classifier, as a map in weight space.

    .. math::

        W_{t+1} = g(W_t;\eta) = W_t - \eta\,\nabla L(W_t),\qquad
        L(W) = \frac{1}{N}\sum_{n=1}^{N}\ell\big(z_n(W), y_n\big)
               + \frac{\lambda}{2}\sum_{l}\lVert W_l\rVert_F^2

    where :math:`z(W)` are the logits (a linear output layer) of a fully
    connected network with hidden activation :math:`f`, :math:`\ell` is the
    per-sample loss and :math:`\lambda` the weight decay (on the weight
    matrices :math:`W_l`, not on the biases). The paper's network is the
    default: sigmoid hidden layers and the softmax cross-entropy
    :math:`\ell = \log\sum_c e^{z_{nc}} - z_{n y_n}` (computed with
    log-sum-exp, so it never overflows, at any :math:`\eta`), no weight decay.

    Parameters
    ----------
    eta : float or array_like of shape (E,), default 1.0
        Learning rate, >= 0 (``eta = 0`` is the identity map). Batchable
        (``batch_params = ("eta",)``): an array gives one learning rate per
        member of batches of ``E`` states (see :meth:`Map.batched`), each
        member with the bits of a run at its own ``eta``, on both engine
        paths and in :meth:`reference_step`.
    hidden : tuple of int, default (10,)
        Hidden layer widths, e.g. ``(10,)`` or ``(16, 8)``.
    activation : {"sigmoid", "tanh", "relu", "softplus"}, default "sigmoid"
        The hidden layers' activation :math:`f` (the paper: sigmoid). relu's
        Hessian is the one that holds almost everywhere (:math:`f'' = 0`, and
        :math:`f'(0) = 0`).
    loss : {"cross-entropy", "mse"}, default "cross-entropy"
        ``"cross-entropy"``: softmax cross-entropy (the paper). ``"mse"``: the
        squared error on one-hot targets, :math:`\ell = \tfrac12\lVert z_n -
        Y_n\rVert^2` (as in Cohen et al. 2021).
    weight_decay : float, default 0.0
        :math:`\lambda \ge 0`, the L2 term on the weights added to the loss
        (so :meth:`loss`, :meth:`gradient` and :meth:`hessian` include it).
    init : {"normal", "glorot", "he"}, default "normal"
        Initial weights: ``"normal"`` draws :math:`N(0, s^2)` with
        :math:`s` = ``init_std`` (the paper); ``"glorot"`` draws
        :math:`N(0, s^2\,2/(n_{in}+n_{out}))` and ``"he"``
        :math:`N(0, s^2\,2/n_{in})` per layer (``init_std`` is then a gain).
        Biases start at 0.
    dataset : str or tuple (X, y), default "iris"
        ``"iris"``, ``"digits"``, ``"wine"``, ``"breast_cancer"`` (inside
        scikit-learn), ``"mnist1d"`` (generated locally; the ``mnist1d`` extra),
        ``"mnist"`` (fetched once into the user's scikit-learn data cache; needs
        a network the first time), or the user's own arrays (labels may be any
        values; they are mapped to 0..C-1 in sorted order). See
        :func:`dynnet.datasets.load`.
    test_size : int or float, default 30
        Held-out samples (int) or fraction (float in [0, 1)), split off with
        seed ``split_seed``. Iris gives 120 train / 30 test.
    split_seed : int, default 0
        Seed of the train/test split.
    stratify : bool, default False
        False (the paper's procedure, as in the authors' scripts): the training
        set is the first ``N - test_size`` samples of a seeded shuffle, in
        shuffled order, with unequal class counts (Iris, ``split_seed=0``:
        42/38/40). True: a stratified split (Iris: 40/40/40 training samples per
        class). The choice matters at large eta: with balanced classes the loss
        is invariant under the class permutation of a period-3 weight cycle, so
        such a cycle shows as period 1 in the loss (see the IntermittencyStudy).
    scale : bool, default False
        Standardise features with the training mean and std (the paper does
        not scale).
    init_std : float, default 1.0
        Standard deviation of the ``"normal"`` initial weights (the gain of
        ``"glorot"`` and ``"he"``).
    n_samples : int, optional
        Use a seeded (``split_seed``), class-stratified subsample of ``n_samples``
        of the whole dataset, before the train/test split; None (the default)
        uses every sample.

    Notes
    -----
    **Flat parameter layout.** A state is the vector of all parameters, layer
    by layer; for each layer ``l`` (inputs ``n_in``, outputs ``n_out``) first
    the weight matrix ``W_l[i, j]`` (from neuron ``i`` to neuron ``j``) in
    row-major order, then the biases ``b_l[j]``. For the default 4-10-3 network:
    ``W1 = [0:40]``, ``b1 = [40:50]``, ``W2 = [50:80]``, ``b2 = [80:83]``, so
    ``dim = 83``. :meth:`coordinate_groups` names these index sets (``"W1"``,
    ``"b1"``, ..., ``"weights"``, ``"biases"``, ``"all"``) and
    :meth:`mask` turns one into a boolean mask.

    **Graph view.** :meth:`to_graph` returns the network as a
    ``networkx.DiGraph``: nodes ``(layer, index)`` with attributes ``layer``,
    ``index``, ``role`` and ``bias``; edges with attribute ``weight``.
    :meth:`from_graph` is its exact inverse. Training is then a graph
    dynamical system: the map rewrites edge and node weights.

    **Derivatives.** :meth:`gradient` is batched back-propagation;
    :meth:`hessian` is exact (forward-over-reverse, Pearlmutter's R-operator,
    with all ``dim`` directions in one batched pass, not finite differences);
    :meth:`jacobian` is :math:`I - \eta H`.

    References
    ----------
    M. Danovski, M. C. Soriano, L. Lacasa, "Dynamical stability and chaos in
    artificial neural network trajectories along training", Front. Complex
    Syst. 2:1367957 (2024).
    B. A. Pearlmutter, "Fast exact multiplication by the Hessian",
    Neural Computation 6, 147 (1994).
    """

    batch_params = ("eta",)

    def __init__(self, eta: float = 1.0, hidden: int | Sequence[int] = (10,),
                 activation: str = "sigmoid", loss: str = "cross-entropy",
                 weight_decay: float = 0.0, init: str = "normal",
                 dataset: str | tuple[ArrayLike, ArrayLike] = "iris", test_size: int | float = 30,
                 split_seed: int = 0, stratify: bool = False, scale: bool = False,
                 init_std: float = 1.0, n_samples: int | None = None) -> None:
        self.eta = eta
        self.hidden = hidden
        self.activation = activation
        self.loss = loss
        self.weight_decay = weight_decay
        self.init = init
        self.dataset = dataset
        self.test_size = test_size
        self.split_seed = split_seed
        self.stratify = stratify
        self.scale = scale
        self.init_std = init_std
        self.n_samples = n_samples

    # ---- prepared data ----------------------------------------------------
    def problem(self) -> Problem:
        """The prepared data and layout, rebuilt whenever a parameter or the data change.

        The cache key holds every parameter; arrays (``dataset=(X, y)``) enter it
        by content (dtype, shape and a SHA-1 of their bytes), so editing ``X`` in
        place after a first use is seen. The arrays of the returned problem are
        read-only copies.

        Returns
        -------
        Problem
            Layer sizes, the training and test arrays and the flat layout.
        """
        return _gd_problem.prepared(self)

    @property
    def dim(self) -> int:  # type: ignore[override]
        """The number of parameters of the network (83 for 4-10-3)."""
        return self.problem().dim

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer widths, input first: ``(4, 10, 3)`` by default."""
        return self.problem().sizes

    def data(self, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
        """The arrays of a split, as the map uses them (after the split and any scaling).

        Parameters
        ----------
        split : {"train", "test"}, default "train"
            ``"train"``: what gradient descent trains on (the rows that
            ``loss(..., rows=)`` and ``gradient(..., rows=)`` index);
            ``"test"``: the held-out samples.

        Returns
        -------
        X : ndarray, shape (N, n_features)
            Inputs, float64, read-only.
        y : ndarray, shape (N,)
            Class indices 0..C-1, int64, read-only.
        """
        check_option(self, "split", split, ["train", "test"])
        p = self.problem()
        return (p.X, p.y) if split == "train" else (p.X_test, p.y_test)

    def _eta(self) -> float:
        """The single learning rate, for operations of one state (the dense :meth:`jacobian`).

        Read like every other value of ``eta``, through :meth:`Map.member_param`; an eta
        per member is refused.
        """
        if np.ndim(self.eta) != 0:
            raise ValueError(
                f"GradientDescentMap: eta holds {np.size(self.eta)} values (one per member); this "
                "operation needs a single learning rate (set eta to a number)"
            )
        return self.member_param("eta", 1, low=0.0)

    def _etas(self, n_members: int):
        """``eta`` for a batch of ``n_members`` states: a float, or a ``(E, 1)`` column."""
        return self.member_param("eta", n_members, low=0.0)

    # ---- layout -----------------------------------------------------------
    def coordinate_groups(self) -> dict[str, np.ndarray]:
        """Named index sets of the flat layout.

        Returns
        -------
        dict of str to ndarray of int
            ``"W1"``, ``"b1"``, ..., ``"weights"``, ``"biases"`` and ``"all"``.
        """
        return _gd_problem.coordinate_groups(self.problem())

    def coordinate_names(self) -> list[str]:
        """A name per coordinate, in the flat layout.

        Returns
        -------
        list of str
            ``"W1[i,j]"`` (from neuron i to neuron j) and ``"b1[j]"``, ``dim`` names.
        """
        return _gd_problem.coordinate_names(self.problem())

    def mask(self, which: str = "weights") -> np.ndarray:
        """Boolean mask of a coordinate group.

        Parameters
        ----------
        which : str, default "weights"
            A key of :meth:`coordinate_groups` (``"weights"``, ``"biases"``, ``"W1"``, ...).

        Returns
        -------
        ndarray of bool, shape (dim,)
            True on the group's coordinates.
        """
        groups = self.coordinate_groups()
        check_option(self, "which", which, list(groups))
        m = np.zeros(self.dim, dtype=bool)
        m[groups[which]] = True
        return m

    def sample_state(self, rng: np.random.Generator) -> np.ndarray:
        """One initial network: weights by the ``init`` scheme, biases 0.

        Parameters
        ----------
        rng : numpy.random.Generator
            The member's own stream.

        Returns
        -------
        ndarray, shape (dim,)
            The flat parameters. Layer by layer, the weights are one draw of
            ``rng.normal(0, std_l, size=n_in * n_out)`` with ``std_l`` the
            scheme's standard deviation (for ``"normal"`` one draw for all
            weights, as in v0, so the paper's initial states are unchanged).
        """
        std = check_scalar(self, "init_std", self.init_std, low=0.0)
        init = check_option(self, "init", self.init, list(INITS))
        p = self.problem()
        x = np.zeros(p.dim)
        with np.errstate(over="ignore"):
            if init == "normal":
                w = self.mask("weights")
                x[w] = rng.normal(0.0, std, size=int(w.sum()))
            else:
                for (w0, b0, _), n_in, n_out in zip(p.offsets, p.sizes[:-1], p.sizes[1:], strict=True):
                    fan = (n_in + n_out) / 2.0 if init == "glorot" else n_in / 2.0
                    x[w0:b0] = rng.normal(0.0, std / np.sqrt(fan), size=b0 - w0)
        if not np.isfinite(x).all():
            raise ValueError(f"GradientDescentMap: parameter init_std={self.init_std!r} draws weights "
                             "that overflow float64; give a smaller init_std")
        return x

    # ---- the numpy reference (dynnet.maps._gd_reference) -------------------
    def _forward(self, params, X):
        """Layers, the activations (inputs first), the hidden pre-activations and the logits."""
        return _gd_reference.forward(self.problem(), params, X)

    def _rows(self, rows):
        """Training inputs and one-hot targets of a mini-batch (all rows when None)."""
        return _gd_problem.training_rows(self.problem(), rows)

    def _loss_grad(self, params, want_grad=True, rows=None):
        """The objective and (``want_grad``) its gradient on the training set or a mini-batch."""
        X, Y = self._rows(rows)
        return _gd_reference.loss_grad(self.problem(), params, X, Y, want_grad)

    loss = _LossAttribute("""The loss: the ``loss`` parameter (a string) and, called, its value on states.

        ``m.loss`` is the parameter (``"cross-entropy"`` or ``"mse"``; it compares,
        saves and clones as that string); ``m.loss(states, rows=None,
        split="train")`` is the objective gradient descent descends: the mean
        data loss over the training set (or a mini-batch of it, ``rows``), or
        over the test set (``split="test"``), plus the weight-decay term
        :math:`\\frac{\\lambda}{2}\\sum_l\\lVert W_l\\rVert^2`. Returns an
        ``(E,)`` array (a float for one state); NaN rows give NaN.
        """)

    def _loss_of(self, states, rows=None, split="train"):
        """``m.loss(states, rows=None, split="train")``: see :attr:`loss`."""
        single = np.ndim(states) == 1
        x = self.check_states(states, finite=False)
        check_option(self, "split", split, ["train", "test"])
        if split == "test":
            if rows is not None:
                raise ValueError("GradientDescentMap: rows index training samples; not with split='test'")
            p = self.problem()
            if p.X_test.shape[0] == 0:
                raise ValueError("GradientDescentMap: the test split is empty (test_size=0)")
            out = _gd_reference.loss_grad(p, x, p.X_test, _gd_problem.held_out_targets(p),
                                          want_grad=False)[0]
        else:
            out = self._loss_grad(x, want_grad=False, rows=rows)[0]
        return out[0] if single else out

    def predict(self, states: ArrayLike, split: str = "train") -> np.ndarray:
        """The class each network predicts for each sample of a split (the argmax of its output).

        Parameters
        ----------
        states : array_like, shape (E, dim) or (dim,)
            Network parameters; a non-finite row predicts -1 everywhere.
        split : {"train", "test"}, default "train"
            Which samples.

        Returns
        -------
        ndarray of int64, shape (E, N) (or (N,) for one state)
            Predicted class indices.
        """
        single = np.ndim(states) == 1
        x = self.check_states(states, finite=False)
        X, _ = self.data(split)
        out = self._forward(x, X)[3].argmax(axis=-1).astype(np.int64)
        out[~np.all(np.isfinite(x), axis=-1)] = -1
        return out[0] if single else out

    def accuracy(self, states: ArrayLike, split: str = "train") -> np.ndarray:
        """Fraction of correctly classified samples of a split.

        Parameters
        ----------
        states : array_like, shape (E, dim) or (dim,)
            Network parameters (NaN rows give NaN).
        split : {"train", "test"}, default "train"
            Which samples.

        Returns
        -------
        ndarray, shape (E,)
            Accuracy in [0, 1] of each member (a float for one state).
        """
        single = np.ndim(states) == 1
        x = self.check_states(states, finite=False)
        X, y = self.data(split)
        if X.shape[0] == 0:
            raise ValueError("GradientDescentMap: the test split is empty (test_size=0)")
        _, _, _, z = self._forward(x, X)
        out = (z.argmax(axis=-1) == y).mean(axis=-1)
        out[~np.all(np.isfinite(x), axis=-1)] = np.nan
        return out[0] if single else out

    def gradient(self, states: ArrayLike, rows: ArrayLike | None = None) -> np.ndarray:
        r"""Gradient :math:`\nabla L(W)` of the loss, batched (back-propagation).

        Parameters
        ----------
        states : array_like, shape (E, dim) or (dim,)
            Network parameters (all-NaN rows allowed: they give NaN).
        rows : array_like of int, optional
            Indices of training samples (a mini-batch, e.g. for SGD); None (the
            default) means all of them.

        Returns
        -------
        ndarray, shape (E, dim) (or (dim,) for one state)
            The gradients.
        """
        single = np.ndim(states) == 1
        x = self.check_states(states)
        g = self._loss_grad(x, rows=rows)[1]
        return g[0] if single else g

    def observables(self, states: np.ndarray) -> dict[str, np.ndarray]:
        """The loss and the L1 norm of the parameters of each member.

        Parameters
        ----------
        states : ndarray, shape (E, dim)
            Validated states.

        Returns
        -------
        dict of str to ndarray of shape (E,)
            ``"loss"`` (the training objective, :attr:`loss`) and
            ``"weight_norm"`` (sum of ``|w|`` over all parameters).
        """
        return {"loss": self._engine().loss(states), "weight_norm": np.abs(states).sum(axis=-1)}

    def observable_names(self) -> tuple[str, ...]:
        """``("loss", "weight_norm")``, the keys of :meth:`observables`, without evaluating a network.

        Returns
        -------
        tuple of str
            The observables' names.
        """
        return ("loss", "weight_norm")

    def engine_path(self) -> str:
        """Which engine advances this map's orbits: ``"simd"`` or ``"blas"``.

        ``"simd"`` is the compiled kernel with the ensemble in the vector lanes
        (small networks; the activations, losses and weight decay it supports);
        ``"blas"`` runs every layer of every member as matrix products in
        fixed-size sample blocks (wide networks, and everything the kernel does not
        support). The choice is by the work of one member's step, the number of
        training samples times the number of parameters: ``"simd"`` below
        ``BLAS_MIN_WORK`` = 700,000 (the measured crossover; the paper's Iris map
        is 120 x 83), never by the size of the batch, so a member's bits do not
        depend on its batch. Within a path, results do not depend on the batch,
        the chunking or the number of threads; the two paths agree to about 1e-15
        relative per step. The environment variable ``DYNNET_GD_PATH=simd|blas`` forces a path
        (for benchmarks and tests). The rule is :func:`dynnet.maps._gd_dispatch.select_path`,
        the one place that selects an engine.

        Returns
        -------
        str
            ``"simd"`` or ``"blas"``.
        """
        return _gd_dispatch.select_path(self.problem())

    def _engine(self) -> _gd_dispatch.Engine:
        """The selected engine (:func:`dynnet.maps._gd_dispatch.engine_for`), built once per problem."""
        return _gd_dispatch.engine_for(self)

    def step(self, states: ArrayLike) -> np.ndarray:
        r"""One GD step :math:`W - \eta \nabla L(W)` of a batch, through the engine (:meth:`engine_path`).

        Bitwise equal to one step of :meth:`iterate`; within about 1e-15
        relative of :meth:`reference_step`. Members that become non-finite
        are returned as all-NaN rows.

        Parameters
        ----------
        states : array_like, shape (E, dim) or (dim,)
            Network parameters.

        Returns
        -------
        ndarray, shape (E, dim) (or (dim,) for one state)
            The next parameters.
        """
        single = np.ndim(states) == 1
        out = self._advance(self.check_states(states), 1)
        return out[0] if single else out

    def reference_step(self, states: ArrayLike) -> np.ndarray:
        r"""One GD step in plain numpy, :math:`W - \eta \nabla L(W)` (the reference).

        The compiled engine behind :meth:`step` and :meth:`iterate` is tested
        against this implementation.

        Parameters
        ----------
        states : array_like, shape (E, dim) or (dim,)
            Network parameters.

        Returns
        -------
        ndarray, shape (E, dim)
            The next parameters (non-finite values are not flagged).
        """
        x = self.check_states(states, finite=False)
        eta = self._etas(x.shape[0])
        if not np.any(eta):
            return x.copy()
        with np.errstate(over="ignore", invalid="ignore"):
            out = x - eta * self._loss_grad(x)[1]
        return out if np.ndim(eta) == 0 else np.where(eta == 0.0, x, out)

    def _advance(self, states, n_steps):
        return self._engine().advance(states, n_steps, self._etas(states.shape[0]))

    def _advance_tangent(self, states, vectors, n_steps, eps):
        """The tangent loop of :meth:`Map._advance_tangent`, fused in the SIMD engine.

        With the SIMD engine (:meth:`engine_path`) and a companion orbit (``eps > 0``) the
        whole loop is one compiled call (:meth:`dynnet.maps._gd_engine.SimdEngine.tangent`);
        otherwise the generic loop.
        """
        engine = self._engine()
        if engine.path == "simd" and float(eps) > 0.0:
            return engine.tangent(states, vectors, n_steps, self._etas(states.shape[0]), eps)
        return super()._advance_tangent(states, vectors, n_steps, eps)

    def _stream(self, states, n_steps, every, group, metric):
        """Fused streaming for the L1/L2/LInf metrics (see :meth:`Map._stream`).

        Distances, the references' loss (free from the forward pass of the
        next step) and ``weight_norm`` are computed inside the compiled loop;
        only the records are stored. Other metrics, an engine without a fused loop
        (the BLAS path), or a subclass that changes the observables, use the generic path.
        """
        fused = getattr(metric, "fused_norm", None)
        kind = fused() if callable(fused) else None
        if kind is None or group < 1 or type(self).observables is not GradientDescentMap.observables:
            return super()._stream(states, n_steps, every, group, metric)
        engine = self._engine()
        if not engine.fused:
            return super()._stream(states, n_steps, every, group, metric)
        return engine.stream(states, n_steps, every, group, kind, self._etas(states.shape[0]))

    def _observe(self, states, n_steps, every, vectors):
        """Fused :meth:`Map._observe`: loss, weight_norm and projections in the compiled loop.

        An engine without a fused loop, or a subclass that changes the observables, uses
        the generic path.
        """
        if type(self).observables is not GradientDescentMap.observables:
            return super()._observe(states, n_steps, every, vectors)
        engine = self._engine()
        if not engine.fused:
            return super()._observe(states, n_steps, every, vectors)
        return engine.observe(states, n_steps, every, vectors, self._etas(states.shape[0]))

    # ---- second order -----------------------------------------------------
    def hvp(self, states: ArrayLike, V: ArrayLike, rows: ArrayLike | None = None) -> np.ndarray:
        r"""Exact Hessian-vector products :math:`H(W_e) v_{ek}`, batched.

        Parameters
        ----------
        states : array_like, shape (E, dim)
            Network parameters.
        V : array_like, shape (E, K, dim)
            ``K`` vectors per member.
        rows : array_like of int, optional
            Training-sample indices of a mini-batch (the Hessian of its loss);
            None (the default) means all of them.

        Returns
        -------
        ndarray, shape (E, K, dim)
            The products.
        """
        x = self.check_states(states)
        V = check_array(self, "V", V, ndim=3)
        if V.shape[0] != x.shape[0] or V.shape[2] != x.shape[1]:
            raise ValueError(f"GradientDescentMap: V must have shape (E, K, {x.shape[1]}), got {V.shape}")
        return self._hvp(x, V, rows)

    def _hvp(self, params, V, rows=None):
        """Pearlmutter's R-operator: one forward and one backward pass for all ``(E, K)`` vectors."""
        X, Y = self._rows(rows)
        return _gd_rop.hvp(self.problem(), params, V, X, Y)

    def jvp(self, states: ArrayLike, V: ArrayLike) -> np.ndarray:
        r"""The Jacobian of one step on tangent vectors, :math:`J v = v - \eta H(W) v`, matrix-free.

        One batched Hessian-vector product (Pearlmutter's R-operator: one forward
        and one backward pass for all members and vectors); the Hessian is never
        formed, so memory is that of ``V`` and of the network's activations.

        Parameters
        ----------
        states : array_like, shape (E, dim) or (dim,)
            Network parameters.
        V : array_like, shape (E, K, dim) (or (K, dim) for one state)
            ``K`` tangent vectors per member.

        Returns
        -------
        ndarray, shape (E, K, dim) (or (K, dim) for one state)
            :math:`J(W_e)\,v_{ek}`.
        """
        x, W, single = self._check_tangent(states, V)
        eta = self._etas(x.shape[0])
        out = W - (eta if np.ndim(eta) == 0 else eta[:, :, None]) * self._hvp(x, W)
        return out[0] if single else out

    def hessian(self, state: ArrayLike, rows: ArrayLike | None = None) -> np.ndarray:
        """The exact Hessian of the loss at one state (Pearlmutter's R-operator).

        Parameters
        ----------
        state : array_like, shape (dim,)
            Network parameters.
        rows : array_like of int, optional
            Indices of training samples (a mini-batch); None (the default) means all.

        Returns
        -------
        ndarray, shape (dim, dim)
            The Hessian, symmetric.
        """
        x = self.check_state(state)
        P = x.shape[0]
        H = self._hvp(x[None, :], np.eye(P)[None], rows)[0]
        return 0.5 * (H + H.T)

    def jacobian(self, state: ArrayLike) -> np.ndarray:
        r"""Jacobian of one GD step, :math:`I - \eta H(W)`.

        Parameters
        ----------
        state : array_like, shape (dim,)
            Network parameters.

        Returns
        -------
        ndarray, shape (dim, dim)
            The Jacobian (symmetric).
        """
        H = self.hessian(state)
        return np.eye(H.shape[0]) - self._eta() * H

    # ---- graph view -------------------------------------------------------
    def to_graph(self, state: ArrayLike) -> nx.DiGraph:
        """The network at ``state`` as a weighted ``networkx.DiGraph``.

        Nodes are ``(layer, index)`` with attributes ``layer`` (0 = input),
        ``index``, ``role`` (``"input"``, ``"hidden"``, ``"output"``),
        ``bias`` (0.0 for inputs) and ``activation`` (the map's activation on
        hidden neurons, ``"identity"`` on inputs and outputs: the outputs are
        logits); each connection is an edge with ``weight``.
        ``G.graph["sizes"]`` holds the layer widths, ``G.graph["activation"]``
        the hidden activation and ``G.graph["loss"]`` the loss.

        Parameters
        ----------
        state : array_like, shape (dim,)
            Network parameters.

        Returns
        -------
        networkx.DiGraph
            The network.
        """
        return _gd_graph.to_graph(self.problem(), self.check_state(state))

    def from_graph(self, G: nx.DiGraph, weight: str = "weight") -> np.ndarray:
        """The flat state ``(dim,)`` of a graph made by :meth:`to_graph` (exact inverse).

        A missing edge reads as weight 0 (a pruned connection); a missing node is an error.

        Parameters
        ----------
        G : networkx.DiGraph
            A graph with the nodes of :meth:`to_graph`.
        weight : str, default "weight"
            The edge attribute that holds the weights.

        Returns
        -------
        ndarray, shape (dim,)
            The flat parameters.
        """
        return _gd_graph.from_graph(self.problem(), G, weight)
