"""The dask how-to, tested: studies on a distributed.LocalCluster give the bits of n_jobs=1."""

import socket

import joblib
import numpy as np
import pytest

import dynnet as dn
from dynnet import parallel
from dynnet.parallel import map_chunks

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as c:
        yield c


@pytest.fixture
def client(cluster):
    with distributed.Client(cluster, set_as_default=False) as c:
        yield c


def _on_which_worker(i):
    import os

    from distributed import get_worker

    return i, get_worker().address, os.environ.get("DYNNET_NUM_THREADS")


@pytest.mark.parametrize("n_jobs", [2, -1])
def test_map_chunks_goes_through_an_active_dask_backend(cluster, client, n_jobs):
    workers = set(cluster.scheduler_info["workers"])
    with joblib.parallel_config(backend="dask", client=client):
        out = map_chunks(_on_which_worker, [(i,) for i in range(6)], n_jobs=n_jobs)
    assert [i for i, _, _ in out] == list(range(6))  # in order
    assert {addr for _, addr, _ in out} <= workers  # every chunk ran on a dask worker
    assert {env for _, _, env in out} == {"1"}  # one engine thread per task


def test_n_jobs_1_stays_local_under_dask(client):
    with joblib.parallel_config(backend="dask", client=client):
        with pytest.raises(ValueError):  # get_worker() outside a worker
            map_chunks(_on_which_worker, [(0,), (1,)], n_jobs=1)


def _study():
    return dn.PerturbationStudy(map=dn.GradientDescentMap(hidden=(4,)), n_init=6, n_steps=30,
                                seed=11, perturber=dn.UniformPerturber(eps=1e-6, n=3))


def _assert_bitwise_equal(a, b):
    assert set(a.data_vars) == set(b.data_vars)
    for name in a.data_vars:
        x, y = np.asarray(a[name].values), np.asarray(b[name].values)
        assert x.dtype == y.dtype and x.shape == y.shape, name
        assert x.tobytes() == y.tobytes(), f"{name} differs between n_jobs=1 and dask"


def test_study_on_a_cluster_is_bitwise_equal_to_n_jobs_1(cluster):
    ref = _study().run(n_jobs=1)
    with parallel.scheduler(cluster.scheduler_address, timeout=30) as client:
        assert type(joblib.parallel.get_active_backend()[0]).__name__ == "DaskDistributedBackend"
        with distributed.get_task_stream(client=client) as ts:
            on_dask = _study().run(n_jobs=2, chunk_size=2)
        assert len(ts.data) >= 3  # the three chunks (at least) ran as dask tasks
    assert client.status == "closed"
    assert type(joblib.parallel.get_active_backend()[0]).__name__ == "LokyBackend"
    assert not np.all(ref.result_["distance"].values == 0)
    _assert_bitwise_equal(ref.result_, on_dask.result_)


def test_unreachable_scheduler_is_one_clear_error():
    with socket.socket() as s:  # a port on this machine where nobody listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    with pytest.raises(ConnectionError) as exc:
        with parallel.scheduler(address, timeout=1):
            pass  # pragma: no cover
    msg = str(exc.value)
    assert address in msg and "cannot connect to the dask scheduler" in msg and "\n" not in msg
