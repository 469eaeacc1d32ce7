"""Test configuration: hypothesis profiles as in dynnet's own suite (derandomised in CI)."""

import os

import matplotlib
import torch
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")
# one intra-op thread: the tests' models are tiny, and torch's thread pool on a shared CPU makes
# each small kernel wait for busy cores (a digits-CNN step measured 30x slower with 2 threads
# on a loaded 2-core machine); results are compared with tolerances, never timed
torch.set_num_threads(1)

settings.register_profile("dev", deadline=None, print_blob=True, max_examples=10,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", deadline=None, print_blob=True, max_examples=10, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
_in_ci = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if _in_ci else "dev"))
