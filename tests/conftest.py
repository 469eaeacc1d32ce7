"""Shared test configuration: the matplotlib backend and the hypothesis profiles.

Profiles (chosen with ``HYPOTHESIS_PROFILE``; the default is ``ci`` when the
environment variable ``CI`` is set, as ``.ci/run`` runs, else ``dev``):

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
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
