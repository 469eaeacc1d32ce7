"""A run too large for memory is refused from its parameters, before any array of its size exists."""

import tracemalloc

import pytest

import dynnet as dn


@pytest.mark.parametrize("cls", [dn.EdgeOfStabilityStudy, dn.PerturbationStudy])
def test_a_huge_network_is_refused_before_it_is_allocated(cls):
    s = cls.quick().set_params(map__hidden=(3_000_000,))  # 24e6 parameters: one state is 192 MB
    tracemalloc.start()
    try:
        with pytest.raises(dn.MemoryBudgetError, match="the run needs about"):
            s.run(memory_budget=2 * 2**30)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # validation steps a state through the network (120 rows x 3e6 units: 2.9 GB of activations);
    # the refusal comes first, so far less than one state's activations was ever allocated
    assert peak < 1.0 * 2**30, f"{peak / 2**30:.2f} GiB allocated before the refusal"


def test_a_run_that_fits_is_not_refused_early():
    s = dn.PerturbationStudy.quick().set_params(n_init=2, n_steps=20)
    s.run()
    assert s.result_["distance"].shape[1] == 2
