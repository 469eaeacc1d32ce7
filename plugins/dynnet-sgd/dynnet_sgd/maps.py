"""Mini-batch SGD, heavy-ball momentum and Adam as dynnet Maps.

All three train a network and differ in the update rule and in what the
state holds. By default the network is the MLP of
:class:`dynnet.GradientDescentMap` (same data, split, layout and
initialisation); ``model=`` gives any other network map instead (a
``dynnet_torch.TorchMap``, a GradientDescentMap of one's own). The update
rules reach the network only through its public methods ``gradient(W,
rows=)``, ``hessian(W, rows=)``, ``loss``, ``data``, ``sample_state``,
``observables``, ``coordinate_groups`` and ``dim`` (:data:`NETWORK_METHODS`).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

import dynnet as dn
from dynnet.base import check_int, check_scalar, stream

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["SGDMap", "MomentumMap", "AdamMap", "network_gradient", "NETWORK_PARAMS",
           "NETWORK_METHODS"]

# the parameters of dynnet.GradientDescentMap that these maps share (their network)
NETWORK_PARAMS = ("eta", "hidden", "dataset", "test_size", "split_seed", "stratify", "scale",
                  "init_std")
#: what a ``model=`` network must offer (the update rules call nothing else of it)
NETWORK_METHODS = ("gradient", "hessian", "loss", "data", "sample_state", "observables",
                   "coordinate_groups")


def network_gradient(net: dn.Map, W: np.ndarray,
                     rows: ArrayLike | None = None) -> np.ndarray:
    """Gradient of a network's loss for each row of ``W``; diverged rows give NaN.

    Parameters
    ----------
    net : dynnet.Map
        The network and its data: any map with ``gradient(W, rows=None)``
        (a :class:`dynnet.GradientDescentMap`, a ``dynnet_torch.TorchMap``).
    W : ndarray, shape (E, P)
        Network parameters; rows that are not finite (diverged members) are
        skipped and give NaN.
    rows : array_like of int, optional
        Training rows of a mini-batch (rows of ``net.data("train")``); None
        (the default) means all of them.

    Returns
    -------
    ndarray, shape (E, P)
        The gradients (all-NaN rows for the skipped members).
    """
    g = np.full_like(W, np.nan)
    ok = np.all(np.isfinite(W), axis=1)
    if ok.any():
        g[ok] = net.gradient(W[ok], rows=rows)
    return g


def _same(a: Any, b: Any) -> bool:
    """Whether two parameter values are the same (arrays only by identity)."""
    if a is b:
        return True
    try:
        return type(a) is type(b) and bool(a == b)
    except (TypeError, ValueError):  # arrays compare element-wise: not the same object
        return False


class _MLPMap(dn.Map):
    """Shared machinery: the network of a GradientDescentMap with the same data parameters."""

    def network(self) -> dn.Map:
        """The network this map trains: ``model``, or the GradientDescentMap of the data parameters.

        Without ``model`` it is the :class:`~dynnet.GradientDescentMap` built
        from this map's ``eta, hidden, dataset, test_size, split_seed,
        stratify, scale, init_std``, reused while they stay the same objects
        (the GradientDescentMap itself notices edits of the data arrays: its
        cache is keyed by content).

        Returns
        -------
        dynnet.Map
            The network.

        Raises
        ------
        TypeError
            If ``model`` is not a dynnet Map with the methods of :data:`NETWORK_METHODS`.
        ValueError
            If ``model`` is given together with a data parameter that is not
            at its default (the model brings its own data and layout).
        """
        model = getattr(self, "model", None)
        if model is not None:
            return self._checked_model(model)
        params = {k: getattr(self, k) for k in NETWORK_PARAMS}
        net = self.__dict__.get("_network")
        if net is None or not all(_same(v, getattr(net, k)) for k, v in params.items()):
            net = dn.GradientDescentMap(**params)
            self.__dict__["_network"] = net
        return net

    def _checked_model(self, model: Any) -> dn.Map:
        name = type(self).__name__
        missing = [k for k in NETWORK_METHODS if not callable(getattr(model, k, None))]
        if not isinstance(model, dn.Map) or missing:
            raise TypeError(f"{name}: parameter model={type(model).__name__} must be a dynnet Map with "
                            f"{', '.join(NETWORK_METHODS)}" + (f" (it lacks {', '.join(missing)})"
                                                               if missing else ""))
        defaults = inspect.signature(type(self).__init__).parameters
        set_too = [k for k in NETWORK_PARAMS if k != "eta" and k in defaults
                   and not _same(getattr(self, k), defaults[k].default)]
        if set_too:
            raise ValueError(f"{name}: model= brings its own data and layout; leave "
                             f"{', '.join(set_too)} at their defaults (set them on the model)")
        return model

    def _p(self) -> int:
        return self.network().dim

    def _learning_rate(self) -> float:
        return check_scalar(self, "eta", self.eta, low=0.0)

    def weights(self, states: ArrayLike) -> np.ndarray:
        """The network parameters W of each state.

        Parameters
        ----------
        states : array_like, shape (E, dim) or (dim,)
            States of this map.

        Returns
        -------
        ndarray, shape (E, P) (or (P,))
            A view of the first ``P`` coordinates.
        """
        x = np.asarray(states, dtype=np.float64)
        return x[..., : self._p()]

    def loss(self, states: ArrayLike, split: str = "train") -> np.ndarray:
        """The network's full-batch loss at the W part of each state (what the studies and
        estimators that read a map's loss use, as for a GradientDescentMap).

        Parameters
        ----------
        states : array_like, shape (E, dim) or (dim,)
            States of this map.
        split : {"train", "test"}, default "train"
            The data the loss is taken over.

        Returns
        -------
        ndarray, shape (E,) (or a float for one state)
            The loss of each state's network parameters.
        """
        return self.network().loss(self.weights(states), split=split)

    def observables(self, states: np.ndarray) -> dict[str, np.ndarray]:
        """The network's observables of the W part of each state.

        Parameters
        ----------
        states : ndarray, shape (E, dim)
            States of this map.

        Returns
        -------
        dict of str to ndarray of shape (E,)
            ``"loss"`` (full training set) and ``"weight_norm"`` of W.
        """
        return self.network().observables(states[:, : self._p()])

    def _groups(self, extra: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        groups = {k: v for k, v in self.network().coordinate_groups().items() if k != "all"}
        groups["params"] = np.arange(self._p())
        groups.update(extra)
        groups["all"] = np.arange(self.dim)
        return groups


class SGDMap(_MLPMap):
    r"""Mini-batch SGD with seeded batches, as an autonomous map on (W, t).

    .. math::

        (W_{t+1},\, t + 1) = \big(W_t - \eta\,\nabla L_{B(s, t)}(W_t),\; t + 1\big)

    where :math:`L_B` is the mean cross-entropy over the batch :math:`B(s, t)`.
    Batches come from random reshuffling: epoch :math:`e = \lfloor t / n_b \rfloor`
    (with :math:`n_b = \lfloor N / |B| \rfloor` batches per epoch; the remainder
    of each shuffled epoch is dropped) permutes the N training samples with
    the generator ``dynnet.base.stream(batch_seed, e)``, and step ``t`` takes
    its slice ``t mod n_b``. So the batch is a function of
    ``(batch_seed, t)`` only.

    **Convention: the state carries the step counter.** A state is
    ``[W (P coordinates), t]`` (``dim = P + 1``; 84 for the 4-10-3 network),
    with ``t`` a float holding a whole number (exact up to 2**53). The batch
    uses ``round(t)``, so the map is deterministic and autonomous: the same
    state always gives the same next state, ``iterate(x, n)`` equals ``n``
    steps, and batch members do not interact. The counter is a neutral
    direction (its Lyapunov exponent is 0); perturb only the network
    (``on="weights"``, the default of dynnet's perturbers, or ``"params"``), not
    ``"all"``, or the copies see the same batches anyway.

    Parameters
    ----------
    eta : float, default 1.0
        Learning rate, >= 0.
    batch_size : int, default 20
        Samples per batch, in [1, N] (Iris: N = 120, so 6 batches per epoch).
    batch_seed : int, default 0
        Seed of the batch sequence, >= 0.
    hidden : int or tuple of int, default (10,)
        Hidden layer widths of the network.
    dataset : {"iris", "digits"} or tuple (X, y), default "iris"
        The training data, as for :class:`dynnet.GradientDescentMap`.
    test_size : int or float, default 30
        Held-out samples (int) or fraction (float in [0, 1)).
    split_seed : int, default 0
        Seed of the train/test split.
    stratify : bool, default False
        False: the training set is the first ``N - test_size`` samples of a
        seeded shuffle (the paper's split, GradientDescentMap's default); True:
        a stratified split.
    scale : bool, default False
        Standardise the features with the training mean and std.
    init_std : float, default 1.0
        Standard deviation of the initial weights (biases start at 0).
    model : dynnet.Map, optional
        The network to train instead of the GradientDescentMap MLP: any map
        with the methods of :data:`NETWORK_METHODS`, e.g. a
        ``dynnet_torch.TorchMap`` (its own ``eta`` is not used). It brings
        its data, layout and initialisation, so ``hidden``, ``dataset``,
        ``test_size``, ``split_seed``, ``stratify``, ``scale`` and
        ``init_std`` must stay at their defaults. None (the default) trains
        the GradientDescentMap of those parameters.

    Notes
    -----
    Jacobian (away from the measure-zero set where ``round(t)`` jumps):
    :math:`\begin{pmatrix} I - \eta H_B(W) & 0 \\ 0 & 1\end{pmatrix}` with the
    exact batch Hessian :math:`H_B` of the network (``network().hessian(W, rows=batch)``,
    Pearlmutter's R-operator). With ``batch_size = N`` it is full-batch GD (up to the
    order of the samples in each sum).

    References
    ----------
    H. Robbins, S. Monro, "A stochastic approximation method", Ann. Math.
    Stat. 22, 400 (1951). L. Ziyin, B. Li, J. B. Simon, M. Ueda, "SGD with a
    constant large learning rate can converge to local maxima", ICLR (2022).
    """

    def __init__(self, eta: float = 1.0, batch_size: int = 20, batch_seed: int = 0,
                 hidden: int | Sequence[int] = (10,),
                 dataset: str | tuple[ArrayLike, ArrayLike] = "iris", test_size: int | float = 30,
                 split_seed: int = 0, stratify: bool = False, scale: bool = False,
                 init_std: float = 1.0, model: dn.Map | None = None) -> None:
        self.eta = eta
        self.batch_size = batch_size
        self.batch_seed = batch_seed
        self.hidden = hidden
        self.dataset = dataset
        self.test_size = test_size
        self.split_seed = split_seed
        self.stratify = stratify
        self.scale = scale
        self.init_std = init_std
        self.model = model

    @property
    def dim(self) -> int:  # type: ignore[override]
        """Length of a state: ``P + 1`` (the network parameters and the step counter)."""
        return self._p() + 1

    def batch(self, t: int) -> np.ndarray:
        """Training-sample indices (sorted) of the batch at step ``t``.

        Parameters
        ----------
        t : int
            The step, >= 0.

        Returns
        -------
        ndarray of int, shape (batch_size,)
            Slice ``t mod n_b`` of the permutation of epoch ``t // n_b``
            (``n_b = N // batch_size``), sorted; rows of ``data("train")``.

        Raises
        ------
        ValueError
            If ``t < 0``, ``batch_size`` is outside ``[1, N]`` or
            ``batch_seed < 0``.
        """
        t = check_int(self, "t", t, low=0)
        N = self.network().data("train")[0].shape[0]
        B = check_int(self, "batch_size", self.batch_size, low=1, high=N)
        seed = check_int(self, "batch_seed", self.batch_seed, low=0)
        epoch, k = divmod(t, N // B)
        perm = stream(seed, epoch).permutation(N)
        return np.sort(perm[k * B:(k + 1) * B])

    def step(self, states: np.ndarray) -> np.ndarray:
        r"""One SGD step of each member: :math:`(W, t) \mapsto (W - \eta\nabla L_{B(s,t)}(W), t + 1)`.

        Members with the same counter share one batched gradient call.

        Parameters
        ----------
        states : ndarray, shape (E, P + 1)
            Validated states ``[W, t]``.

        Returns
        -------
        ndarray, shape (E, P + 1)
            The next states; a member whose W is not finite, or whose
            counter is not finite or rounds below 0, gives an all-NaN row.
        """
        eta = self._learning_rate()
        P = self._p()
        W, t = states[:, :P], states[:, P]
        out = np.full_like(states, np.nan)
        tr = np.rint(t)
        ok = np.isfinite(tr) & (tr >= 0) & np.all(np.isfinite(W), axis=1)
        for tv in np.unique(tr[ok]):  # one pass per distinct counter (usually one)
            sel = ok & (tr == tv)
            Ws = W[sel]
            g = network_gradient(self.network(), Ws, self.batch(int(tv)))
            out[sel, :P] = Ws - eta * g
            out[sel, P] = t[sel] + 1.0
        return out

    def jacobian(self, state: ArrayLike) -> np.ndarray:
        r"""Jacobian of one step: :math:`\mathrm{diag}(I - \eta H_B(W), 1)`.

        Parameters
        ----------
        state : array_like, shape (P + 1,)
            One finite state ``[W, t]``; the batch is that of ``round(t)``.

        Returns
        -------
        ndarray, shape (P + 1, P + 1)
            The Jacobian, with the exact Hessian of the batch loss.
        """
        x = self.check_state(state)
        P = self._p()
        t = int(np.rint(x[P]))
        J = np.zeros((P + 1, P + 1))
        J[:P, :P] = np.eye(P) - self._learning_rate() * self.network().hessian(x[:P], rows=self.batch(t))
        J[P, P] = 1.0
        return J

    def sample_state(self, rng: np.random.Generator) -> np.ndarray:
        """One initial state: the network's initialisation and ``t = 0``.

        Parameters
        ----------
        rng : numpy.random.Generator
            The member's own stream.

        Returns
        -------
        ndarray, shape (P + 1,)
            ``[W0, 0.0]``.
        """
        return np.append(self.network().sample_state(rng), 0.0)

    def coordinate_groups(self) -> dict[str, np.ndarray]:
        """Named index sets of the coordinates.

        Returns
        -------
        dict of str to ndarray of int
            The network's groups (``"W1"``, ..., ``"weights"``, ``"biases"``),
            ``"params"`` (all of W), ``"step"`` (the counter) and ``"all"``.
        """
        P = self._p()
        return self._groups({"step": np.array([P])})


class MomentumMap(_MLPMap):
    r"""Full-batch heavy-ball momentum, as a map on (W, v).

    .. math::

        v_{t+1} = \beta v_t - \eta \nabla L(W_t), \qquad W_{t+1} = W_t + v_{t+1}

    A state is ``[W, v]``, ``dim = 2P`` (166 for the 4-10-3 network);
    initial states are the GD initialisation with ``v = 0``.

    Parameters
    ----------
    eta : float, default 1.0
        Learning rate, >= 0.
    beta : float, default 0.9
        Momentum, in [0, 1).
    hidden : int or tuple of int, default (10,)
        Hidden layer widths of the network.
    dataset : {"iris", "digits"} or tuple (X, y), default "iris"
        The training data, as for :class:`dynnet.GradientDescentMap`.
    test_size : int or float, default 30
        Held-out samples (int) or fraction (float in [0, 1)).
    split_seed : int, default 0
        Seed of the train/test split.
    stratify : bool, default False
        False: the training set is the first ``N - test_size`` samples of a
        seeded shuffle (the paper's split, GradientDescentMap's default); True:
        a stratified split.
    scale : bool, default False
        Standardise the features with the training mean and std.
    init_std : float, default 1.0
        Standard deviation of the initial weights (biases start at 0).
    model : dynnet.Map, optional
        The network to train instead of the GradientDescentMap MLP: any map
        with the methods of :data:`NETWORK_METHODS`, e.g. a
        ``dynnet_torch.TorchMap`` (its own ``eta`` is not used). It brings
        its data, layout and initialisation, so ``hidden``, ``dataset``,
        ``test_size``, ``split_seed``, ``stratify``, ``scale`` and
        ``init_std`` must stay at their defaults. None (the default) trains
        the GradientDescentMap of those parameters.

    Notes
    -----
    Jacobian, with the exact Hessian :math:`H` of
    :meth:`dynnet.GradientDescentMap.hessian`:

    .. math::

        \begin{pmatrix} I - \eta H & \beta I \\ -\eta H & \beta I \end{pmatrix}

    ``beta = 0`` is gradient descent on W (v is then just the last step).

    References
    ----------
    B. T. Polyak, "Some methods of speeding up the convergence of iteration
    methods", USSR Comput. Math. Math. Phys. 4, 1 (1964).
    """

    def __init__(self, eta: float = 1.0, beta: float = 0.9, hidden: int | Sequence[int] = (10,),
                 dataset: str | tuple[ArrayLike, ArrayLike] = "iris", test_size: int | float = 30,
                 split_seed: int = 0, stratify: bool = False, scale: bool = False,
                 init_std: float = 1.0, model: dn.Map | None = None) -> None:
        self.eta = eta
        self.beta = beta
        self.hidden = hidden
        self.dataset = dataset
        self.test_size = test_size
        self.split_seed = split_seed
        self.stratify = stratify
        self.scale = scale
        self.init_std = init_std
        self.model = model

    @property
    def dim(self) -> int:  # type: ignore[override]
        """Length of a state: ``2 P`` (the network parameters and the velocity)."""
        return 2 * self._p()

    def _beta(self) -> float:
        return check_scalar(self, "beta", self.beta, low=0.0, high=1.0, high_open=True)

    def step(self, states: np.ndarray) -> np.ndarray:
        r"""One heavy-ball step of each member: :math:`v' = \beta v - \eta\nabla L(W)`, :math:`W' = W + v'`.

        Parameters
        ----------
        states : ndarray, shape (E, 2 P)
            Validated states ``[W, v]``.

        Returns
        -------
        ndarray, shape (E, 2 P)
            The next states ``[W', v']``; a member whose W is not finite gives NaN.
        """
        eta, beta, P = self._learning_rate(), self._beta(), self._p()
        W, v = states[:, :P], states[:, P:]
        g = network_gradient(self.network(), W)
        v_new = beta * v - eta * g
        return np.concatenate([W + v_new, v_new], axis=1)

    def jacobian(self, state: ArrayLike) -> np.ndarray:
        """Jacobian of one step (the block matrix of the Notes).

        Parameters
        ----------
        state : array_like, shape (2 P,)
            One finite state ``[W, v]``.

        Returns
        -------
        ndarray, shape (2 P, 2 P)
            The Jacobian, with the exact Hessian at W.
        """
        x = self.check_state(state)
        eta, beta, P = self._learning_rate(), self._beta(), self._p()
        H = self.network().hessian(x[:P])
        eye = np.eye(P)
        return np.block([[eye - eta * H, beta * eye], [-eta * H, beta * eye]])

    def sample_state(self, rng: np.random.Generator) -> np.ndarray:
        """One initial state: the network's initialisation and ``v = 0``.

        Parameters
        ----------
        rng : numpy.random.Generator
            The member's own stream.

        Returns
        -------
        ndarray, shape (2 P,)
            ``[W0, 0]``.
        """
        return np.concatenate([self.network().sample_state(rng), np.zeros(self._p())])

    def coordinate_groups(self) -> dict[str, np.ndarray]:
        """Named index sets of the coordinates.

        Returns
        -------
        dict of str to ndarray of int
            The network's groups for W, ``"params"`` (W), ``"velocity"`` (v)
            and ``"all"``.
        """
        P = self._p()
        return self._groups({"velocity": np.arange(P, 2 * P)})


class AdamMap(_MLPMap):
    r"""Full-batch Adam, as a map on (W, m, v, t).

    .. math::

        g = \nabla L(W),\quad m' = \beta_1 m + (1-\beta_1) g,\quad
        v' = \beta_2 v + (1-\beta_2) g^2,\quad t' = t + 1,

        W' = W - \eta\,\frac{m'/(1-\beta_1^{t'})}{\sqrt{v'/(1-\beta_2^{t'})} + \epsilon}

    A state is ``[W, m, v, t]``, ``dim = 3P + 1`` (250 for the 4-10-3
    network); initial states are the GD initialisation with ``m = v = 0``,
    ``t = 0``. The bias corrections use ``t`` as a real number, so the map is
    smooth in every coordinate.

    Parameters
    ----------
    eta : float, default 0.01
        Learning rate, >= 0.
    beta1 : float, default 0.9
        Decay of the first moment, in (0, 1).
    beta2 : float, default 0.999
        Decay of the second moment, in (0, 1).
    epsilon : float, default 1e-8
        Added to the denominator, > 0.
    hidden : int or tuple of int, default (10,)
        Hidden layer widths of the network.
    dataset : {"iris", "digits"} or tuple (X, y), default "iris"
        The training data, as for :class:`dynnet.GradientDescentMap`.
    test_size : int or float, default 30
        Held-out samples (int) or fraction (float in [0, 1)).
    split_seed : int, default 0
        Seed of the train/test split.
    stratify : bool, default False
        False: the training set is the first ``N - test_size`` samples of a
        seeded shuffle (the paper's split, GradientDescentMap's default); True:
        a stratified split.
    scale : bool, default False
        Standardise the features with the training mean and std.
    init_std : float, default 1.0
        Standard deviation of the initial weights (biases start at 0).
    model : dynnet.Map, optional
        The network to train instead of the GradientDescentMap MLP: any map
        with the methods of :data:`NETWORK_METHODS`, e.g. a
        ``dynnet_torch.TorchMap`` (its own ``eta`` is not used). It brings
        its data, layout and initialisation, so ``hidden``, ``dataset``,
        ``test_size``, ``split_seed``, ``stratify``, ``scale`` and
        ``init_std`` must stay at their defaults. None (the default) trains
        the GradientDescentMap of those parameters.

    Notes
    -----
    The Jacobian is exact (chain rule through the update, with the exact
    Hessian of :meth:`dynnet.GradientDescentMap.hessian`); it needs
    :math:`v' > 0` in every coordinate (true unless a gradient coordinate
    and its second moment are exactly 0).

    References
    ----------
    D. P. Kingma, J. Ba, "Adam: a method for stochastic optimization", ICLR (2015).
    """

    def __init__(self, eta: float = 0.01, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-8, hidden: int | Sequence[int] = (10,),
                 dataset: str | tuple[ArrayLike, ArrayLike] = "iris", test_size: int | float = 30,
                 split_seed: int = 0, stratify: bool = False, scale: bool = False,
                 init_std: float = 1.0, model: dn.Map | None = None) -> None:
        self.eta = eta
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.hidden = hidden
        self.dataset = dataset
        self.test_size = test_size
        self.split_seed = split_seed
        self.stratify = stratify
        self.scale = scale
        self.init_std = init_std
        self.model = model

    @property
    def dim(self) -> int:  # type: ignore[override]
        """Length of a state: ``3 P + 1`` (W, the two moments and the step counter)."""
        return 3 * self._p() + 1

    def _consts(self) -> tuple[float, float, float, float]:
        b1 = check_scalar(self, "beta1", self.beta1, low=0.0, high=1.0, low_open=True, high_open=True)
        b2 = check_scalar(self, "beta2", self.beta2, low=0.0, high=1.0, low_open=True, high_open=True)
        eps = check_scalar(self, "epsilon", self.epsilon, low=0.0, low_open=True)
        return self._learning_rate(), b1, b2, eps

    def _split(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        P = self._p()
        return x[..., :P], x[..., P:2 * P], x[..., 2 * P:3 * P], x[..., 3 * P]

    def step(self, states: np.ndarray) -> np.ndarray:
        """One Adam step of each member (the update of the class docstring).

        Parameters
        ----------
        states : ndarray, shape (E, 3 P + 1)
            Validated states ``[W, m, v, t]``.

        Returns
        -------
        ndarray, shape (E, 3 P + 1)
            The next states ``[W', m', v', t + 1]``; a member whose W is not
            finite gives NaN in W, m and v.

        Raises
        ------
        ValueError
            If a member's second moment ``v`` is negative (outside the map's
            domain: a perturber with ``on="all"`` moves the optimiser's state
            too; perturb the parameters only, ``on="params"``).
        """
        eta, b1, b2, eps = self._consts()
        W, m, v, t = self._split(states)
        neg = np.any(v < 0.0, axis=1)
        if neg.any():
            raise ValueError(
                f"{type(self).__name__}: the second moment v is negative in {int(neg.sum())} of {neg.size} "
                "states (it is a running mean of squared gradients, >= 0); a perturber with on='all' "
                "moves the optimiser's state too: perturb the parameters only (on='params')")
        g = network_gradient(self.network(), W)
        m1 = b1 * m + (1.0 - b1) * g
        v1 = b2 * v + (1.0 - b2) * g * g
        t1 = t + 1.0
        c1 = 1.0 - b1 ** t1[:, None]
        c2 = 1.0 - b2 ** t1[:, None]
        W1 = W - eta * (m1 / c1) / (np.sqrt(v1 / c2) + eps)
        return np.concatenate([W1, m1, v1, t1[:, None]], axis=1)

    def jacobian(self, state: ArrayLike) -> np.ndarray:
        """Exact Jacobian of one step (chain rule through the update; see Notes).

        Parameters
        ----------
        state : array_like, shape (3 P + 1,)
            One finite state ``[W, m, v, t]``.

        Returns
        -------
        ndarray, shape (3 P + 1, 3 P + 1)
            The Jacobian; where :math:`v' = 0` the (infinite) derivative
            with respect to ``v`` is set to 0.
        """
        x = self.check_state(state)
        eta, b1, b2, eps = self._consts()
        P = self._p()
        W, m, v, t = self._split(x)
        g = network_gradient(self.network(), W[None])[0]
        H = self.network().hessian(W)
        m1 = b1 * m + (1.0 - b1) * g
        v1 = b2 * v + (1.0 - b2) * g * g
        t1 = t + 1.0
        c1, c2 = 1.0 - b1 ** t1, 1.0 - b2 ** t1
        dc1, dc2 = -(b1 ** t1) * np.log(b1), -(b2 ** t1) * np.log(b2)   # d c / d t
        mh = m1 / c1
        s = np.sqrt(v1 / c2)
        D = s + eps
        du_dm1 = 1.0 / (c1 * D)
        with np.errstate(divide="ignore", invalid="ignore"):
            du_dv1 = np.where(s > 0, -mh / (D * D * 2.0 * s * c2), 0.0)
        du_dt = (-m1 / c1 ** 2 * dc1) / D + mh / (D * D) * s / (2.0 * c2) * dc2
        dm1_dW = (1.0 - b1) * H
        dv1_dW = 2.0 * (1.0 - b2) * g[:, None] * H
        J = np.zeros((3 * P + 1, 3 * P + 1))
        eye = np.eye(P)
        J[:P, :P] = eye - eta * (du_dm1[:, None] * dm1_dW + du_dv1[:, None] * dv1_dW)
        J[:P, P:2 * P] = -eta * b1 * np.diag(du_dm1)
        J[:P, 2 * P:3 * P] = -eta * b2 * np.diag(du_dv1)
        J[:P, 3 * P] = -eta * du_dt
        J[P:2 * P, :P] = dm1_dW
        J[P:2 * P, P:2 * P] = b1 * eye
        J[2 * P:3 * P, :P] = dv1_dW
        J[2 * P:3 * P, 2 * P:3 * P] = b2 * eye
        J[3 * P, 3 * P] = 1.0
        return J

    def sample_state(self, rng: np.random.Generator) -> np.ndarray:
        """One initial state: the network's initialisation, ``m = v = 0`` and ``t = 0``.

        Parameters
        ----------
        rng : numpy.random.Generator
            The member's own stream.

        Returns
        -------
        ndarray, shape (3 P + 1,)
            ``[W0, 0, 0, 0.0]``.
        """
        P = self._p()
        return np.concatenate([self.network().sample_state(rng), np.zeros(2 * P + 1)])

    def _check_states(self, n: int, seed: int) -> np.ndarray:
        """States inside the domain (v > 0) for dynnet.testing: the initial states have
        v = 0 on the domain's boundary, where finite differences step outside."""
        P = self._p()
        rng = stream(seed, 0)
        x = self.initial_state(n, seed=seed)
        x[:, P:2 * P] = 0.1 * rng.standard_normal((n, P))
        x[:, 2 * P:3 * P] = rng.uniform(0.01, 0.1, size=(n, P))
        x[:, 3 * P] = rng.integers(0, 20, size=n)
        return x

    def coordinate_groups(self) -> dict[str, np.ndarray]:
        """Named index sets of the coordinates.

        Returns
        -------
        dict of str to ndarray of int
            The network's groups for W, ``"params"`` (W), ``"m"``, ``"v"``,
            ``"step"`` and ``"all"``.
        """
        P = self._p()
        return self._groups({"m": np.arange(P, 2 * P), "v": np.arange(2 * P, 3 * P),
                             "step": np.array([3 * P])})
