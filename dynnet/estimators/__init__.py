"""Estimators: exponents, spectra, null models, graphs, intermittency.

One module per family; each module lists its public classes in ``__all__``.
Every estimator is fitted with ``fit(data, *, map=None, steps=None)``
(see :class:`~dynnet.Estimator`).
"""

from . import chaos01 as _chaos01
from . import clv as _clv
from . import gd as _gd
from . import graphs as _graphs
from . import intermittency as _intermittency
from . import lyapunov as _lyapunov
from . import spectrum as _spectrum
from . import timeseries as _timeseries
from .base import Estimator, Needs
from .chaos01 import *  # noqa: F401,F403
from .clv import *  # noqa: F401,F403
from .gd import *  # noqa: F401,F403
from .graphs import *  # noqa: F401,F403
from .intermittency import *  # noqa: F401,F403
from .lyapunov import *  # noqa: F401,F403
from .spectrum import *  # noqa: F401,F403
from .timeseries import *  # noqa: F401,F403

__all__ = (["Estimator", "Needs"] + list(_lyapunov.__all__) + list(_spectrum.__all__)
           + list(_timeseries.__all__) + list(_graphs.__all__) + list(_intermittency.__all__)
           + list(_gd.__all__) + list(_clv.__all__)
           + list(_chaos01.__all__))
