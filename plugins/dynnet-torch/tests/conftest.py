"""Test configuration: hypothesis profiles as in dynnet's own suite (derandomised in CI)."""

import os

import matplotlib
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")

settings.register_profile("dev", deadline=None, print_blob=True, max_examples=10,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", deadline=None, print_blob=True, max_examples=10, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
_in_ci = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if _in_ci else "dev"))
