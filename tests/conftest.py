"""Shared test configuration: the matplotlib backend and the hypothesis profiles.

Profiles (chosen with ``HYPOTHESIS_PROFILE``; the default is ``ci`` when the
environment variable ``CI`` is ``true`` (or ``1``, ``yes``), as in ``.ci/run``, else ``dev``):

- ``dev``: random examples, no deadline, failing examples printed as a blob to
  reproduce with ``@reproduce_failure``;
- ``ci``: the same, derandomised, so that a CI run is repeatable.
"""

import os

import matplotlib
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")

settings.register_profile("dev", deadline=None, print_blob=True, max_examples=50,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", deadline=None, print_blob=True, max_examples=50, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
_in_ci = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if _in_ci else "dev"))
