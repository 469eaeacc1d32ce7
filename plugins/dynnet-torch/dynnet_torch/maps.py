"""Full-batch gradient descent on any PyTorch module, as a dynnet Map."""

from __future__ import annotations

import contextvars
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.func import functional_call, grad, vmap

import dynnet as dn
from dynnet.base import check_option, check_scalar

from ._module import ModuleParam, architecture

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["TorchMap", "attach", "load"]

_LOSSES = ("cross_entropy", "mse")
_INITS = ("normal", "module")
_DTYPES = {"float64": torch.float64, "float32": torch.float32}
#: the parameters that choose and prepare the data, with GradientDescentMap's meaning
DATA_PARAMS = ("dataset", "test_size", "split_seed", "stratify", "scale", "n_samples")


# ---------------------------------------------------------------------------
# the loss parameter, which is also the loss of states (as GradientDescentMap.loss)
# ---------------------------------------------------------------------------

class _LossText(str):
    """The ``loss`` parameter given as text; called, the loss of states (``m.loss(W)``)."""

    def __call__(self, states, rows=None, split="train"):
        return self.__dict__["_owner"]._loss_of(states, rows=rows, split=split)

    def __reduce__(self):
        return (str, (str(self),))

    def __copy__(self):
        return str(self)

    def __deepcopy__(self, memo):
        return str(self)


class _LossFunction:
    """The ``loss`` parameter given as a callable ``fn(output, target) -> scalar``.

    It keeps the user's function as ``fn``; called, it is the loss of states
    (``m.loss(W)``), like the text form. Copies give the plain function.
    """

    def __init__(self, fn):
        self.fn = fn
        self._owner = None

    def __call__(self, states, rows=None, split="train"):
        return self._owner._loss_of(states, rows=rows, split=split)

    def __eq__(self, other):
        other = other.fn if isinstance(other, _LossFunction) else other
        if other is self.fn:
            return True
        return type(other) is type(self.fn) and repr(other) == repr(self.fn)

    __hash__ = object.__hash__

    def __repr__(self):
        return repr(self.fn)

    def __reduce__(self):
        return (_LossFunction, (self.fn,))

    def __deepcopy__(self, memo):
        import copy

        return _LossFunction(copy.deepcopy(self.fn, memo))


class _LossAttribute:
    """``TorchMap.loss``: the parameter and the method, one name (as in GradientDescentMap)."""

    def __init__(self, doc):
        self.__doc__ = doc

    def __get__(self, obj, cls=None):
        if obj is None:
            return self
        value = obj.__dict__.get("_loss_param", "cross_entropy")
        if isinstance(value, str):
            bound = _LossText(value)
            bound.__dict__["_owner"] = obj
            return bound
        if isinstance(value, _LossFunction):
            value._owner = obj
        return value

    def __set__(self, obj, value):
        if isinstance(value, str):
            value = str(value)
        elif callable(value) and not isinstance(value, _LossFunction):
            value = _LossFunction(value)
        obj.__dict__["_loss_param"] = value


# ---------------------------------------------------------------------------
# prepared numbers
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Layout:
    """Where each named parameter tensor lives in the flat state.

    Parameters
    ----------
    names : tuple of str
        ``named_parameters()`` names, in their order.
    shapes : tuple of tuple of int
        The shape of each tensor.
    offsets : tuple of int
        ``len(names) + 1`` offsets: tensor ``i`` is ``state[offsets[i]:offsets[i + 1]]``,
        C-ordered.
    """

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    offsets: tuple[int, ...]

    @property
    def dim(self) -> int:
        """The number of parameters."""
        return self.offsets[-1]


@dataclass(frozen=True)
class _Prepared:
    layout: Layout
    module: torch.nn.Module
    dtype: torch.dtype
    device: torch.device
    X: torch.Tensor
    y: torch.Tensor
    Y: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    weight_mask: torch.Tensor
    loss: Any
    weight_decay: float
    n_classes: int


def _same(a, b) -> bool:
    if a is b:
        return True
    if isinstance(a, (np.ndarray, torch.Tensor, torch.nn.Module)) or isinstance(
            b, (np.ndarray, torch.Tensor, torch.nn.Module)):
        return False
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    try:
        return type(a) is type(b) and bool(a == b)
    except (TypeError, ValueError, RuntimeError):
        return False


class TorchMap(dn.Map):
    r"""Full-batch gradient descent on any PyTorch module, as a map in weight space.

    .. math::

        W_{t+1} = g(W_t;\eta) = W_t - \eta\,\nabla L(W_t),\qquad
        L(W) = \frac{1}{N}\sum_{n=1}^{N}\ell\big(f(x_n; W), y_n\big)
               + \frac{\lambda}{2}\sum_{w \in \text{weights}} w^2

    where :math:`f(\cdot; W)` is the module with its parameters replaced by
    the state :math:`W` (``torch.func.functional_call``), :math:`\ell` the
    per-sample loss and :math:`\lambda` the weight decay (on the ``"weights"``
    group: the tensors with two or more axes). A whole ensemble of states
    advances in one call: the gradient is ``torch.func.vmap`` of
    ``torch.func.grad`` over the members (no Python loop over them), and
    :meth:`iterate` keeps the ensemble in torch for all its steps (one copy
    from numpy and one back per call).

    Parameters
    ----------
    module : torch.nn.Module, optional
        The network. Its parameters (``named_parameters()``, in their order,
        each tensor C-ordered) make the state; their values in the module are
        not used (:meth:`state_of` reads them, :meth:`module_of` writes a copy).
        It must have at least one parameter, real floating-point parameters
        only, and no buffers (batch-norm running statistics would be state the
        map does not carry: use ``track_running_stats=False``). None (the
        default) is an error when the map runs.
    eta : float, default 1.0
        Learning rate, >= 0.
    dataset : str or tuple (X, y), default "iris"
        Any :func:`dynnet.datasets.load` name, or the user's arrays; prepared
        exactly as :class:`dynnet.GradientDescentMap` prepares it (the same
        function: split, scaling and subsample below have its meaning).
    loss : {"cross_entropy", "mse"} or callable, default "cross_entropy"
        ``"cross_entropy"``: the mean softmax cross-entropy of the logits
        (``"cross-entropy"`` is accepted too); ``"mse"``: the mean of
        :math:`\tfrac12\lVert f(x_n) - Y_n\rVert^2` with one-hot targets
        :math:`Y_n` (GradientDescentMap's ``"mse"``); a callable
        ``fn(output, target)`` of the module's output ``(N, ...)`` and the
        class indices ``(N,)`` (int64) returning a scalar tensor (the mean over
        the samples). A callable loss cannot be saved with a result.
    weight_decay : float, default 0.0
        :math:`\lambda \ge 0`.
    init : {"normal", "module"}, default "normal"
        Initial states: ``"normal"`` draws the weights (tensors with two or more
        axes) from :math:`N(0, s^2)`, :math:`s` = ``init_std``, in one draw over
        the flat weight coordinates, and sets every other parameter (biases) to
        0, as the papers do; ``"module"`` calls each submodule's
        ``reset_parameters()`` on a copy of the module, with torch's generator
        seeded from the member's dynnet stream (so a seed gives the same bits).
    init_std : float, default 1.0
        The standard deviation :math:`s` of ``"normal"``.
    test_size : int or float, default 30
        Held-out samples (int) or fraction (float in [0, 1)), as for
        GradientDescentMap.
    split_seed : int, default 0
        Seed of the train/test split (and of the subsample).
    stratify : bool, default False
        False: the authors' split (the first samples of a seeded shuffle);
        True: a stratified split.
    scale : bool, default False
        Standardise features with the training mean and std.
    n_samples : int, optional
        A seeded, class-stratified subsample of the dataset before the split;
        None (the default) uses every sample.
    input_shape : tuple of int, optional
        The shape one sample has when it enters the module, e.g. ``(1, 8, 8)``
        for a ``Conv2d`` on the digits images (the datasets give flat rows);
        None (the default) passes the rows as they are.
    dtype : {"float64", "float32"}, default "float64"
        The precision of the arithmetic inside torch; states are float64
        numpy arrays either way.
    device : str, default "cpu"
        ``"cpu"`` or ``"cuda"`` (any ``torch.device`` text). On a GPU the
        results agree with the CPU's to rounding (not bitwise).

    Notes
    -----
    **Tangent dynamics.** :meth:`hvp` is forward-over-reverse
    (``torch.func.jvp`` of ``torch.func.grad``), batched over members and
    vectors; :meth:`jvp` is :math:`J v = v - \eta H v` with it, matrix-free,
    so :class:`~dynnet.LyapunovSpectrum` (``n_exponents=k``) and
    :class:`~dynnet.Sharpness` need no dense Hessian. :meth:`hessian`
    (``torch.func.jacrev`` of the gradient) and :meth:`jacobian` are dense, for small models.

    **Results.** In a saved study the module is recorded as its architecture
    (class, repr, parameter shapes and a SHA-256 of them: :class:`ModuleParam`);
    loading imports and runs nothing. Load such a file with
    :func:`dynnet_torch.load` ``(path, module)``, which gives the module back
    (``dn.load`` alone refuses it with a line that says so) and refuses, in
    one line, a module whose parameter names or shapes differ from the record.
    A loaded map knows its ``dim`` and coordinate groups from the record.

    **Refused** (one line each, before any computing): a module without
    parameters, integer or complex parameters, buffers, a loss that does not
    return a scalar, data whose shape does not fit the module (the first
    forward pass fails, or the output is not ``(N, classes)`` for a built-in
    loss). Layers that draw random numbers (dropout in training mode) are not
    supported by ``vmap``: put the module in ``eval()`` mode.

    References
    ----------
    M. Danovski, M. C. Soriano, L. Lacasa, "Dynamical stability and chaos in
    artificial neural network trajectories along training", Front. Complex
    Syst. 2:1367957 (2024).
    P. Jiménez-González, M. C. Soriano, L. Lacasa, "Leveraging chaotic
    transients in the training of artificial neural networks", arXiv:2506.08523
    (2025).
    B. A. Pearlmutter, "Fast exact multiplication by the Hessian", Neural
    Computation 6, 147 (1994).
    """

    def __init__(self, module: torch.nn.Module | None = None, eta: float = 1.0,
                 dataset: str | tuple[ArrayLike, ArrayLike] = "iris",
                 loss: str | Callable = "cross_entropy", weight_decay: float = 0.0,
                 init: str = "normal", init_std: float = 1.0, test_size: int | float = 30,
                 split_seed: int = 0, stratify: bool = False, scale: bool = False,
                 n_samples: int | None = None, input_shape: Sequence[int] | None = None,
                 dtype: str = "float64", device: str = "cpu") -> None:
        self.module = module
        self.eta = eta
        self.dataset = dataset
        self.loss = loss
        self.weight_decay = weight_decay
        self.init = init
        self.init_std = init_std
        self.test_size = test_size
        self.split_seed = split_seed
        self.stratify = stratify
        self.scale = scale
        self.n_samples = n_samples
        self.input_shape = input_shape
        self.dtype = dtype
        self.device = device

    loss = _LossAttribute("""The loss: the ``loss`` parameter and, called, its value on states.

        ``m.loss`` is the parameter (the text ``"cross_entropy"`` / ``"mse"``, or the
        user's callable); ``m.loss(states, rows=None, split="train")`` is the
        objective gradient descent descends (mean data loss over the training set,
        a mini-batch ``rows`` of it, or the test set, plus the weight-decay term),
        ``(E,)`` (a float for one state).
        """)

    # ---- parameters ---------------------------------------------------------
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters of this map, by name; the module as its :class:`ModuleParam`.

        Parameters
        ----------
        deep : bool, default True
            As :meth:`dynnet.base.ParamsObject.get_params`.

        Returns
        -------
        dict of str to object
            Each ``__init__`` parameter; ``"module"`` is a :class:`ModuleParam`
            (text: the architecture, so that a study saves it; ``.module``: the
            live module, which clones deep-copy).
        """
        out = super().get_params(deep=deep)
        if isinstance(out.get("module"), torch.nn.Module):
            out["module"] = ModuleParam(out["module"])
        return out

    def _module(self) -> torch.nn.Module:
        mod = self.module
        if isinstance(mod, ModuleParam):
            return mod.__dict__["module"]
        if isinstance(mod, torch.nn.Module):
            return mod
        if mod is None:
            raise ValueError("TorchMap: parameter module=None; give a torch.nn.Module")
        if isinstance(mod, str):
            desc = architecture(mod)
            given = _GIVEN.get()
            if given is not None:
                _check_against(given, desc)
                return given
            raise ValueError(
                f"TorchMap: this map comes from a result file, which records the module's "
                f"architecture only ({desc['class']}, {len(desc['parameters'])} parameter tensors); "
                "give the module back: dynnet_torch.load(path, module) or dynnet_torch.attach(study, module)")
        raise TypeError(f"TorchMap: parameter module={mod!r} must be a torch.nn.Module, "
                        f"got {type(mod).__name__}")

    def _store(self) -> dict:
        return self.__dict__.setdefault("_cache", {})  # dropped by set_params and pickling

    def layout(self) -> Layout:
        """The flat layout of the module's parameters (validated).

        Returns
        -------
        Layout
            Names, shapes and offsets of ``named_parameters()`` in the state.

        Raises
        ------
        ValueError
            If the module has no parameters, or has buffers.
        TypeError
            If a parameter is not real floating point.
        """
        if isinstance(self.module, str) and not isinstance(self.module, ModuleParam):
            return self._recorded_layout()
        mod = self._module()
        params = list(mod.named_parameters())
        key = (id(mod), tuple((n, tuple(p.shape), p.dtype) for n, p in params))
        entry = self._store().get("layout")
        if entry is not None and entry[0] == key and entry[1] is mod:
            return entry[2]
        if not params:
            raise ValueError(f"TorchMap: the module {type(mod).__name__} has no parameters; "
                             "there is nothing to train")
        for n, p in params:
            if not p.dtype.is_floating_point or p.dtype.is_complex:
                raise TypeError(f"TorchMap: parameter {n!r} of the module has dtype {p.dtype}; "
                                "only real floating-point parameters can be trained")
        buffers = [n for n, _ in mod.named_buffers()]
        if buffers:
            raise ValueError(
                f"TorchMap: the module has buffers {buffers[:4]}{'...' if len(buffers) > 4 else ''} "
                "(e.g. batch-norm running statistics), state the map would not carry; use a module "
                "without buffers (BatchNorm(track_running_stats=False))")
        offsets = [0]
        for _, p in params:
            offsets.append(offsets[-1] + p.numel())
        lay = Layout(tuple(n for n, _ in params), tuple(tuple(p.shape) for _, p in params),
                     tuple(offsets))
        self._store()["layout"] = (key, mod, lay)
        return lay

    def _recorded_layout(self) -> Layout:
        """The layout of a loaded map, from its architecture record (no module needed)."""
        text = str(self.module)
        entry = self._store().get("recorded")
        if entry is not None and entry[0] == text:
            return entry[1]
        rec = architecture(text)
        offsets = [0]
        for _, shape in rec["parameters"]:
            offsets.append(offsets[-1] + math.prod(shape))
        lay = Layout(tuple(n for n, _ in rec["parameters"]),
                     tuple(tuple(int(k) for k in s) for _, s in rec["parameters"]), tuple(offsets))
        self._store()["recorded"] = (text, lay)
        return lay

    @property
    def dim(self) -> int:  # type: ignore[override]
        """The number of parameters of the module."""
        return self.layout().dim

    def _eta(self) -> float:
        return check_scalar(self, "eta", self.eta, low=0.0)

    def _data_map(self) -> dn.GradientDescentMap:
        """A GradientDescentMap with no hidden layer on the same data: its data preparation."""
        params = {k: getattr(self, k) for k in DATA_PARAMS}
        gd = self._store().get("data_map")
        if gd is None or not all(_same(v, getattr(gd, k)) for k, v in params.items()):
            gd = dn.GradientDescentMap(hidden=(), **params)
            self._store()["data_map"] = gd
        return gd

    def _problem(self):
        try:
            return self._data_map().problem()
        except (TypeError, ValueError) as exc:
            raise type(exc)(str(exc).replace("GradientDescentMap", "TorchMap")) from None

    def _prepared(self) -> _Prepared:
        lay = self.layout()
        mod = self._module()
        prob = self._problem()
        loss = self.__dict__.get("_loss_param", "cross_entropy")
        key = (prob, loss, self.weight_decay, self.dtype, self.device, self.input_shape)
        entry = self._store().get("prepared")
        if (entry is not None and entry[1] is lay and entry[2] is mod
                and all(_same(a, b) for a, b in zip(entry[0], key, strict=True))):
            return entry[3]
        if isinstance(loss, str):
            name = "cross_entropy" if loss == "cross-entropy" else loss
            check_option(self, "loss", name, list(_LOSSES))
        elif not isinstance(loss, _LossFunction):
            raise TypeError(f"TorchMap: parameter loss={loss!r} must be 'cross_entropy', 'mse' "
                            "or a callable fn(output, target)")
        wd = check_scalar(self, "weight_decay", self.weight_decay, low=0.0)
        dtype = self.dtype
        if isinstance(dtype, torch.dtype):
            dtype = str(dtype).removeprefix("torch.")
        check_option(self, "dtype", dtype, list(_DTYPES))
        tdtype = _DTYPES[dtype]
        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(f"TorchMap: parameter device={self.device!r} is not a torch device "
                             f"({exc})") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("TorchMap: device='cuda' but torch finds no CUDA GPU "
                             "(install torch's CUDA build on a machine with one, or use 'cpu')")
        shape = self.input_shape
        if shape is not None:
            if not (isinstance(shape, (tuple, list)) and all(
                    isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0 for s in shape)):
                raise TypeError(f"TorchMap: parameter input_shape={shape!r} must be a tuple of "
                                "positive ints, e.g. (1, 8, 8)")
            shape = tuple(int(s) for s in shape)
            if math.prod(shape) != prob.X.shape[1]:
                raise ValueError(f"TorchMap: input_shape={shape} holds {math.prod(shape)} values "
                                 f"but a sample of the data has {prob.X.shape[1]}")
        else:
            shape = (prob.X.shape[1],)

        def tensor(a, dt=tdtype, sample_shape=None):
            t = torch.as_tensor(np.array(a), dtype=dt, device=device)
            return t.reshape((t.shape[0],) + sample_shape) if sample_shape is not None else t

        n_classes = prob.sizes[-1]
        X = tensor(prob.X, sample_shape=shape)
        y = tensor(prob.y, dt=torch.int64)
        Y = tensor(prob.Y)
        X_test = tensor(prob.X_test, sample_shape=shape)
        y_test = tensor(prob.y_test, dt=torch.int64)
        wmask = torch.zeros(lay.dim, dtype=tdtype, device=device)
        for i, s in enumerate(lay.shapes):
            if len(s) >= 2:
                wmask[lay.offsets[i]:lay.offsets[i + 1]] = 1.0
        prep = _Prepared(lay, mod, tdtype, device, X, y, Y, X_test, y_test, wmask,
                         loss if isinstance(loss, _LossFunction) else name, float(wd), n_classes)
        self._preflight(prep)
        self._store()["prepared"] = (key, lay, mod, prep)
        return prep

    def _preflight(self, p: _Prepared) -> None:
        """One forward pass and one loss on two samples: a bad module, data or loss fails here."""
        w = self._module_state(p)
        n = min(2, p.X.shape[0])
        try:
            with torch.no_grad():
                out = functional_call(p.module, self._unflat(p, w), (p.X[:n],))
        except Exception as exc:  # noqa: BLE001 - any failure of the user's forward pass is reported
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ValueError(
                f"TorchMap: the data does not fit the module: a batch of shape {tuple(p.X[:n].shape)} "
                f"fails in its forward pass ({type(exc).__name__}: {first}); give input_shape= "
                "(e.g. (1, 8, 8) for a Conv2d on digits) or a module for this data") from None
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"TorchMap: the module returns {type(out).__name__}, not a tensor")
        if not isinstance(p.loss, _LossFunction) and tuple(out.shape) != (n, p.n_classes):
            raise ValueError(
                f"TorchMap: the module's output has shape {tuple(out.shape)} for {n} samples; the "
                f"{p.loss!r} loss needs ({n}, {p.n_classes}) (one logit per class)")
        with torch.no_grad():
            val = self._data_loss(p, out, p.y[:n], p.Y[:n])
        if not isinstance(val, torch.Tensor) or val.ndim != 0:
            what = tuple(val.shape) if isinstance(val, torch.Tensor) else type(val).__name__
            raise ValueError(f"TorchMap: the loss must return a scalar tensor (the mean over the "
                             f"samples), got {what}")

    def _module_state(self, p: _Prepared) -> torch.Tensor:
        return torch.cat([t.detach().reshape(-1).to(dtype=p.dtype, device=p.device)
                          for _, t in p.module.named_parameters()])

    # ---- the functional core --------------------------------------------------
    @staticmethod
    def _unflat(p: _Prepared, w: torch.Tensor) -> dict[str, torch.Tensor]:
        lay = p.layout
        return {n: w[lay.offsets[i]:lay.offsets[i + 1]].view(lay.shapes[i])
                for i, n in enumerate(lay.names)}

    @staticmethod
    def _data_loss(p: _Prepared, out, y, Y):
        if isinstance(p.loss, _LossFunction):
            return p.loss.fn(out, y)
        if p.loss == "cross_entropy":
            return torch.nn.functional.cross_entropy(out, y)
        r = out - Y
        return 0.5 * (r * r).sum(dim=-1).mean()

    def _functions(self, p: _Prepared) -> dict[str, Callable]:
        """The batched functions of a prepared problem (built once per preparation)."""
        cache = self._store()
        entry = cache.get("functions")
        if entry is not None and entry[0] is p:
            return entry[1]
        unflat, data_loss = self._unflat, self._data_loss

        def forward(w, X):
            return functional_call(p.module, unflat(p, w), (X,))

        def objective(w, X, y, Y):
            val = data_loss(p, forward(w, X), y, Y)
            if p.weight_decay:
                val = val + 0.5 * p.weight_decay * (w * w * p.weight_mask).sum()
            return val

        g = grad(objective)

        def hvp(w, v, X, y, Y):
            return torch.func.jvp(lambda u: g(u, X, y, Y), (w,), (v,))[1]

        fns = {
            "forward": vmap(forward, in_dims=(0, None)),
            "objective": vmap(objective, in_dims=(0, None, None, None)),
            "grad": vmap(g, in_dims=(0, None, None, None)),
            "hvp": vmap(vmap(hvp, in_dims=(None, 0, None, None, None)), in_dims=(0, 0, None, None, None)),
            "hessian": torch.func.jacrev(g),  # reverse-over-reverse: faster than jacfwd here
        }
        cache["functions"] = (p, fns)
        return fns

    def _to_torch(self, p: _Prepared, a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(a), device=p.device).to(p.dtype)

    @staticmethod
    def _to_numpy(t: torch.Tensor) -> np.ndarray:
        return t.detach().to(device="cpu", dtype=torch.float64).numpy().copy()

    def _rows(self, p: _Prepared, rows):
        if rows is None:
            return p.X, p.y, p.Y
        idx = np.asarray(rows)
        n = p.X.shape[0]
        if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer) or (
                idx.min() < 0 or idx.max() >= n):
            raise ValueError(f"TorchMap: rows must be a non-empty 1-D array of training-sample "
                             f"indices in [0, {n}), got {rows!r}")
        t = torch.as_tensor(idx, device=p.device)
        return p.X[t], p.y[t], p.Y[t]

    # ---- the map ----------------------------------------------------------------
    def _advance(self, states: np.ndarray, n_steps: int) -> np.ndarray:
        """``n_steps`` GD steps of a validated ensemble: one copy into torch, one back."""
        p = self._prepared()
        eta = self._eta()
        if n_steps == 0:
            return np.array(states, copy=True)
        g = self._functions(p)["grad"]
        W = self._to_torch(p, states)
        if W.shape[0] and eta != 0.0:
            for _ in range(n_steps):
                W = W - eta * g(W, p.X, p.y, p.Y)
        return self._to_numpy(W)

    def step(self, states: ArrayLike) -> np.ndarray:
        r"""One GD step :math:`W - \eta\nabla L(W)` of every member, batched.

        Parameters
        ----------
        states : array_like, shape (E, dim) or (dim,)
            Flat parameters (all-NaN rows: diverged members).

        Returns
        -------
        ndarray, shape (E, dim) (or (dim,) for one state)
            The next parameters; members that become non-finite are all-NaN rows.
        """
        single = np.ndim(states) == 1
        out = self._advance(self.check_states(states), 1)
        out[~np.all(np.isfinite(out), axis=-1)] = np.nan
        return out[0] if single else out

    def gradient(self, states: ArrayLike, rows: ArrayLike | None = None) -> np.ndarray:
        r"""The gradient :math:`\nabla L(W)` of each member (``torch.func.grad``, batched).

        Parameters
        ----------
        states : array_like, shape (E, dim) or (dim,)
            Flat parameters.
        rows : array_like of int, optional
            Training-sample indices of a mini-batch; None (the default) means all.

        Returns
        -------
        ndarray, shape (E, dim) (or (dim,) for one state)
            The gradients.
        """
        single = np.ndim(states) == 1
        x = self.check_states(states)
        p = self._prepared()
        X, y, Y = self._rows(p, rows)
        out = self._to_numpy(self._functions(p)["grad"](self._to_torch(p, x), X, y, Y))
        return out[0] if single else out

    def _loss_of(self, states, rows=None, split="train"):
        single = np.ndim(states) == 1
        x = self.check_states(states, finite=False)
        check_option(self, "split", split, ["train", "test"])
        p = self._prepared()
        if split == "test":
            if rows is not None:
                raise ValueError("TorchMap: rows index training samples; not with split='test'")
            if p.X_test.shape[0] == 0:
                raise ValueError("TorchMap: the test split is empty (test_size=0)")
            Yt = torch.nn.functional.one_hot(p.y_test, p.n_classes).to(p.dtype)
            X, y, Y = p.X_test, p.y_test, Yt
        else:
            X, y, Y = self._rows(p, rows)
        with torch.no_grad():
            out = self._to_numpy(self._functions(p)["objective"](self._to_torch(p, x), X, y, Y))
        return out[0] if single else out

    def _logits(self, p: _Prepared, x: np.ndarray, split: str) -> torch.Tensor:
        X = p.X if split == "train" else p.X_test
        with torch.no_grad():
            return self._functions(p)["forward"](self._to_torch(p, x), X)

    def predict(self, states: ArrayLike, split: str = "train") -> np.ndarray:
        """The class each network predicts for each sample of a split (the argmax of its output).

        Parameters
        ----------
        states : array_like, shape (E, dim) or (dim,)
            Flat parameters; a non-finite row predicts -1 everywhere.
        split : {"train", "test"}, default "train"
            Which samples.

        Returns
        -------
        ndarray of int64, shape (E, N) (or (N,) for one state)
            Predicted class indices.
        """
        single = np.ndim(states) == 1
        x = self.check_states(states, finite=False)
        check_option(self, "split", split, ["train", "test"])
        p = self._prepared()
        z = self._logits(p, x, split)
        out = z.reshape(z.shape[0], z.shape[1], -1).argmax(dim=-1).cpu().numpy().astype(np.int64)
        out[~np.all(np.isfinite(x), axis=-1)] = -1
        return out[0] if single else out

    def accuracy(self, states: ArrayLike, split: str = "train") -> np.ndarray:
        """Fraction of correctly classified samples of a split.

        Parameters
        ----------
        states : array_like, shape (E, dim) or (dim,)
            Flat parameters (NaN rows give NaN).
        split : {"train", "test"}, default "train"
            Which samples.

        Returns
        -------
        ndarray, shape (E,)
            The accuracy of each member in [0, 1] (a float for one state).
        """
        single = np.ndim(states) == 1
        x = self.check_states(states, finite=False)
        check_option(self, "split", split, ["train", "test"])
        p = self._prepared()
        y = p.y if split == "train" else p.y_test
        if y.shape[0] == 0:
            raise ValueError("TorchMap: the test split is empty (test_size=0)")
        z = self._logits(p, x, split)
        pred = z.reshape(z.shape[0], z.shape[1], -1).argmax(dim=-1)
        out = (pred == y).to(torch.float64).mean(dim=-1).cpu().numpy().copy()
        out[~np.all(np.isfinite(x), axis=-1)] = np.nan
        return out[0] if single else out

    def observables(self, states: np.ndarray) -> dict[str, np.ndarray]:
        """The loss, the accuracies and the L1 norm of each member's parameters.

        Parameters
        ----------
        states : ndarray, shape (E, dim)
            Validated states.

        Returns
        -------
        dict of str to ndarray of shape (E,)
            ``"loss"`` (the training objective), ``"accuracy_train"``,
            ``"accuracy_test"`` (when the test split is not empty) and
            ``"weight_norm"`` (sum of ``|w|``). The accuracies are not named
            ``test_accuracy``: studies record that name themselves (of the
            trained references), and an observable of the same name would clash.
        """
        out = {"loss": self._loss_of(states), "accuracy_train": self.accuracy(states)}
        if self._prepared().X_test.shape[0]:
            out["accuracy_test"] = self.accuracy(states, split="test")
        out["weight_norm"] = np.abs(states).sum(axis=-1)
        return out

    # ---- second order -------------------------------------------------------------
    def hvp(self, states: ArrayLike, V: ArrayLike, rows: ArrayLike | None = None) -> np.ndarray:
        r"""Exact Hessian-vector products :math:`H(W_e)\,v_{ek}`, batched over members and vectors.

        Forward-over-reverse: ``torch.func.jvp`` of ``torch.func.grad``, under two
        ``vmap`` (members, vectors); the Hessian is never formed.

        Parameters
        ----------
        states : array_like, shape (E, dim)
            Flat parameters.
        V : array_like, shape (E, K, dim)
            ``K`` vectors per member.
        rows : array_like of int, optional
            Training-sample indices of a mini-batch; None (the default) means all.

        Returns
        -------
        ndarray, shape (E, K, dim)
            The products.
        """
        x = self.check_states(states)
        V = np.asarray(V, dtype=np.float64)
        if V.ndim != 3 or V.shape[0] != x.shape[0] or V.shape[2] != x.shape[1]:
            raise ValueError(f"TorchMap: V must have shape (E, K, {x.shape[1]}) with E = {x.shape[0]}, "
                             f"got {V.shape}")
        return self._hvp(x, V, rows)

    def _hvp(self, x: np.ndarray, V: np.ndarray, rows=None) -> np.ndarray:
        p = self._prepared()
        if V.shape[1] == 0 or x.shape[0] == 0:
            return np.zeros(V.shape)
        X, y, Y = self._rows(p, rows)
        fn = self._functions(p)["hvp"]
        return self._to_numpy(fn(self._to_torch(p, x), self._to_torch(p, V), X, y, Y))

    def jvp(self, states: ArrayLike, V: ArrayLike) -> np.ndarray:
        r"""The Jacobian of one step on tangent vectors, :math:`J v = v - \eta H(W) v`, matrix-free.

        Parameters
        ----------
        states : array_like, shape (E, dim) or (dim,)
            Flat parameters (all-NaN rows give all-NaN products).
        V : array_like, shape (E, K, dim) (or (K, dim) for one state)
            ``K`` tangent vectors per member.

        Returns
        -------
        ndarray, shape (E, K, dim) (or (K, dim) for one state)
            :math:`J(W_e)\,v_{ek}`.
        """
        x, W, single = self._check_tangent(states, V)
        out = W - self._eta() * self._hvp(x, W)
        return out[0] if single else out

    def hessian(self, state: ArrayLike, rows: ArrayLike | None = None) -> np.ndarray:
        """The exact Hessian of the loss at one state (``torch.func.jacrev`` of the gradient; small models).

        Parameters
        ----------
        state : array_like, shape (dim,)
            Flat parameters.
        rows : array_like of int, optional
            Training-sample indices of a mini-batch; None (the default) means all.

        Returns
        -------
        ndarray, shape (dim, dim)
            The Hessian, symmetrised.
        """
        x = self.check_state(state)
        p = self._prepared()
        X, y, Y = self._rows(p, rows)
        H = self._to_numpy(self._functions(p)["hessian"](self._to_torch(p, x), X, y, Y))
        return 0.5 * (H + H.T)

    def jacobian(self, state: ArrayLike) -> np.ndarray:
        r"""The Jacobian of one GD step, :math:`I - \eta H(W)` (dense; small models).

        Parameters
        ----------
        state : array_like, shape (dim,)
            Flat parameters.

        Returns
        -------
        ndarray, shape (dim, dim)
            The Jacobian (symmetric).
        """
        H = self.hessian(state)
        return np.eye(H.shape[0]) - self._eta() * H

    # ---- layout, data and initial states ------------------------------------------
    def coordinate_groups(self) -> dict[str, np.ndarray]:
        """Named index sets of the flat state, from the parameter names.

        Returns
        -------
        dict of str to ndarray of int
            One group per named tensor (``"0.weight"``, ``"0.bias"``, ...),
            ``"weights"`` (tensors with two or more axes), ``"biases"`` (the
            others) and ``"all"``.
        """
        lay = self.layout()
        groups: dict[str, np.ndarray] = {}
        ws, bs = [], []
        for i, (n, s) in enumerate(zip(lay.names, lay.shapes, strict=True)):
            idx = np.arange(lay.offsets[i], lay.offsets[i + 1])
            groups[n] = idx
            (ws if len(s) >= 2 else bs).append(idx)
        groups["weights"] = np.concatenate(ws) if ws else np.arange(0)
        groups["biases"] = np.concatenate(bs) if bs else np.arange(0)
        groups["all"] = np.arange(lay.dim)
        return groups

    def coordinate_names(self) -> list[str]:
        """A name per coordinate: the tensor's name and the C-ordered index, ``"0.weight[i,j]"``.

        Returns
        -------
        list of str
            ``dim`` names.
        """
        lay = self.layout()
        names = []
        for n, s in zip(lay.names, lay.shapes, strict=True):
            names += [f"{n}[{','.join(map(str, idx))}]" for idx in np.ndindex(*s)] if s else [f"{n}[]"]
        return names

    def data(self, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
        """The arrays of a split as the map uses them (flat rows, before ``input_shape``).

        Parameters
        ----------
        split : {"train", "test"}, default "train"
            Which samples.

        Returns
        -------
        X : ndarray, shape (N, n_features)
            Inputs, float64, read-only.
        y : ndarray, shape (N,)
            Class indices 0..C-1, int64, read-only.
        """
        check_option(self, "split", split, ["train", "test"])
        prob = self._problem()
        return (prob.X, prob.y) if split == "train" else (prob.X_test, prob.y_test)

    def sample_state(self, rng: np.random.Generator) -> np.ndarray:
        """One initial state by the ``init`` scheme.

        Parameters
        ----------
        rng : numpy.random.Generator
            The member's own stream.

        Returns
        -------
        ndarray, shape (dim,)
            ``"normal"``: ``rng.normal(0, init_std)`` on the ``"weights"``
            coordinates (one draw, in flat order), 0 elsewhere; ``"module"``:
            the parameters after ``reset_parameters()`` with torch seeded by
            ``rng.integers(2**63)``.
        """
        init = check_option(self, "init", self.init, list(_INITS))
        p = self._prepared()
        if init == "normal":
            std = check_scalar(self, "init_std", self.init_std, low=0.0)
            x = np.zeros(p.layout.dim)
            w = self.coordinate_groups()["weights"]
            x[w] = rng.normal(0.0, std, size=w.size)
            if not np.isfinite(x).all():
                raise ValueError(f"TorchMap: init_std={self.init_std!r} draws weights that overflow")
            return x
        seed = int(rng.integers(2**63))
        scratch = self._store().get("scratch")
        if scratch is None or scratch[0] is not p.module:
            scratch = (p.module, _copy_module(p.module))
            self._store()["scratch"] = scratch
        mod = scratch[1]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for sub in mod.modules():
                reset = getattr(sub, "reset_parameters", None)
                if callable(reset):
                    reset()
        return self.state_of(mod)

    def state_of(self, module: torch.nn.Module) -> np.ndarray:
        """The flat state of a module's parameters (C-ordered, ``named_parameters()`` order).

        Parameters
        ----------
        module : torch.nn.Module
            A module with this map's parameter names and shapes (the map's own
            module, or one like it).

        Returns
        -------
        ndarray, shape (dim,)
            float64.

        Raises
        ------
        ValueError
            If the module's parameter names or shapes differ from the map's.
        """
        lay = self.layout()
        got = tuple((n, tuple(t.shape)) for n, t in module.named_parameters())
        want = tuple(zip(lay.names, lay.shapes, strict=True))
        if got != want:
            raise ValueError(f"TorchMap.state_of: the module's parameters {got} are not the map's {want}")
        return np.concatenate([t.detach().to("cpu", torch.float64).reshape(-1).numpy()
                               for _, t in module.named_parameters()])

    def module_of(self, state: ArrayLike) -> torch.nn.Module:
        """A copy of the module holding a state's parameters (in the map's ``dtype``, on its device).

        Parameters
        ----------
        state : array_like, shape (dim,)
            Flat parameters.

        Returns
        -------
        torch.nn.Module
            A deep copy of the map's module with these parameters.
        """
        x = self.check_state(state)
        p = self._prepared()
        mod = _copy_module(p.module).to(dtype=p.dtype, device=p.device)
        values = self._unflat(p, self._to_torch(p, x))
        with torch.no_grad():
            for n, t in mod.named_parameters():
                t.copy_(values[n])
        return mod


def _copy_module(module: torch.nn.Module) -> torch.nn.Module:
    import copy

    return copy.deepcopy(module)


#: the module given to :func:`load` while dynnet rebuilds and validates the study
_GIVEN: contextvars.ContextVar[torch.nn.Module | None] = contextvars.ContextVar("dynnet_torch_given",
                                                                                 default=None)


def _check_against(module: torch.nn.Module, rec: dict) -> None:
    """Refuse (one line) a module whose parameter names and shapes are not the record's."""
    have = architecture(module)
    if [list(x) for x in rec["parameters"]] != [list(x) for x in have["parameters"]]:
        raise ValueError(f"the module's parameters {have['parameters']} are not the recorded "
                         f"{rec['parameters']}")
    if rec["repr"] != have["repr"]:
        warnings.warn(f"the module's repr differs from the recorded one ({rec['repr']!r}); its "
                      "parameter shapes match", UserWarning, stacklevel=3)


def load(path: Any, module: torch.nn.Module, classes: Sequence[type] = ()) -> Any:
    """Load a saved study whose map is a :class:`TorchMap`, giving its module back.

    A result file records the module as its architecture only (no code, no
    pickle), so ``dn.load`` alone cannot rebuild a TorchMap study: it refuses
    the file with a line that points here. This function runs ``dn.load``
    with ``module`` standing in for the record (its parameter names and
    shapes must match the record's; a different repr is a warning), then
    :func:`attach` es it, so the loaded study can run again.

    Parameters
    ----------
    path : str or Path
        The result file.
    module : torch.nn.Module
        The module of the saved map (its weights do not matter).
    classes : sequence of classes, default ()
        As for :func:`dynnet.load`.

    Returns
    -------
    Study
        The study, with ``result_``; its TorchMaps hold ``module``.

    Raises
    ------
    dynnet.results.ResultFileError
        For a file ``dn.load`` refuses, or a module whose parameters do not
        match the record (one line).
    """
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"load: module must be a torch.nn.Module, got {type(module).__name__}")
    token = _GIVEN.set(module)
    try:
        study = dn.load(path, classes=classes)
    finally:
        _GIVEN.reset(token)
    return attach(study, module)


def attach(obj: Any, module: torch.nn.Module) -> Any:
    """Give a module back to the TorchMaps of a loaded study (or to one loaded TorchMap).

    A result file records a TorchMap's module as its architecture only
    (:class:`ModuleParam`); ``dn.load`` runs nothing from the file, so a loaded
    study cannot step until the module is given back. ``attach`` checks the
    module against the record (parameter names and shapes must match; a
    different repr is a warning) and sets it.

    Parameters
    ----------
    obj : dynnet Study or TorchMap
        The loaded object; every TorchMap among its parameters (at any depth)
        whose module is a record gets ``module``.
    module : torch.nn.Module
        The module, with the recorded parameter names and shapes.

    Returns
    -------
    Study or TorchMap
        ``obj``, so that calls chain: ``attach(study, net).run()``.

    Raises
    ------
    ValueError
        If the module's parameters do not match the record, or ``obj`` holds
        no TorchMap waiting for a module.
    """
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"attach: module must be a torch.nn.Module, got {type(module).__name__}")
    found = []
    if isinstance(obj, TorchMap):
        found.append(obj)
    else:
        for v in obj.get_params(deep=True).values():
            if isinstance(v, TorchMap):
                found.append(v)
    waiting = [m for m in found if isinstance(m.module, str) and not isinstance(m.module, ModuleParam)]
    if not waiting:
        raise ValueError("attach: no TorchMap here waits for a module (none was loaded from a file)")
    for m in waiting:
        try:
            _check_against(module, architecture(m.module))
        except ValueError as exc:
            raise ValueError(f"attach: {exc}") from None
    for m in waiting:
        m.set_params(module=module)
    return obj
