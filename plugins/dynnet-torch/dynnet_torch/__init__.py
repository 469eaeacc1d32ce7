"""dynnet-torch: any PyTorch module's full-batch training as a dynnet Map.

:class:`TorchMap` (entry point ``torch`` in the ``dynnet.maps`` group) turns
``torch.nn.Module`` training into a map in weight space, so that every dynnet
perturber, metric, estimator and study runs on the user's own model:

>>> import torch, dynnet as dn                                # doctest: +SKIP
>>> from dynnet_torch import TorchMap                          # doctest: +SKIP
>>> net = torch.nn.Sequential(torch.nn.Linear(4, 10), torch.nn.Sigmoid(),
...                           torch.nn.Linear(10, 3))          # doctest: +SKIP
>>> m = TorchMap(module=net, dataset="iris", eta=1.0)          # doctest: +SKIP
>>> m.iterate(m.initial_state(8, seed=0), 200).shape           # doctest: +SKIP
(8, 83)
"""

from ._module import ModuleParam, architecture
from ._version import __version__
from .maps import DATA_PARAMS, Layout, TorchMap, attach, load

__all__ = ["TorchMap", "attach", "load", "ModuleParam", "architecture", "Layout", "DATA_PARAMS",
           "__version__"]
