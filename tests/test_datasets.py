"""dynnet.datasets: the named datasets, the user's arrays, subsampling, caching, no downloads."""

import os
import random
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import dynnet as dn
from dynnet import datasets


@pytest.fixture(autouse=True)
def _fresh_cache():
    datasets.clear_cache()
    yield
    datasets.clear_cache()


# ---- the bundled scikit-learn datasets -----------------------------------------------

@pytest.mark.parametrize("name,shape,counts", [
    ("iris", (150, 4), [50, 50, 50]),
    ("wine", (178, 13), [59, 71, 48]),
    ("breast_cancer", (569, 30), [212, 357]),
    ("digits", (1797, 64), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]),
])
def test_bundled_datasets_shape_classes_and_table(name, shape, counts):
    X, y = datasets.load(name)
    assert X.shape == shape and X.dtype == np.float64
    assert y.shape == (shape[0],) and y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y), counts)
    info = datasets.describe(name)
    assert (info["n_samples"], info["n_features"], info["n_classes"]) == (shape[0], shape[1], len(counts))
    assert not X.flags.writeable and not y.flags.writeable


def test_iris_is_sklearn_iris_in_order():
    from sklearn.datasets import load_iris

    X, y = datasets.load("iris")
    bunch = load_iris()
    np.testing.assert_array_equal(X, bunch.data)
    np.testing.assert_array_equal(y, bunch.target)


def test_available_lists_every_name_and_describe_refuses_others():
    assert datasets.available() == ("iris", "digits", "wine", "breast_cancer", "mnist1d", "mnist")
    with pytest.raises(ValueError, match=r"name='cifar' is not allowed"):
        datasets.describe("cifar")


def test_named_datasets_are_cached_read_only():
    X1, y1 = datasets.load("wine")
    X2, y2 = datasets.load("wine")
    assert X1 is X2 and y1 is y2
    with pytest.raises(ValueError):
        X1[0, 0] = 1.0
    datasets.clear_cache()
    X3, _ = datasets.load("wine")
    assert X3 is not X1
    np.testing.assert_array_equal(X3, X1)


def test_unknown_name_and_wrong_type_name_the_owner_and_the_value():
    owner = dn.GradientDescentMap()
    with pytest.raises(ValueError, match=r"^GradientDescentMap: parameter dataset='cifar' is not allowed"):
        datasets.load("cifar", owner=owner)
    with pytest.raises(ValueError, match=r"^dynnet.datasets.load: parameter dataset='cifar'"):
        datasets.load("cifar")
    with pytest.raises(TypeError, match=r"parameter dataset=42 is not allowed.*tuple \(X, y\)"):
        datasets.load(42, owner="MyStudy")
    with pytest.raises(TypeError, match=r"^MyStudy: parameter dataset=\(1, 2, 3\)"):
        datasets.load((1, 2, 3), owner="MyStudy")


# ---- the user's arrays ---------------------------------------------------------------

def _xy(n=12):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 3)), np.arange(n) % 3


def test_user_arrays_labels_map_to_sorted_class_indices():
    X, _ = _xy()
    y = np.array(["b", "c", "a"] * 4)
    Xo, yo = datasets.load((X, y))
    np.testing.assert_array_equal(Xo, X)
    np.testing.assert_array_equal(yo, np.array([1, 2, 0] * 4))
    assert yo.dtype == np.int64 and Xo.dtype == np.float64
    assert not Xo.flags.writeable
    assert X.flags.writeable  # the user's array is not touched
    _, yi = datasets.load((X.astype(np.float32), np.array([10, 30, 20] * 4)))
    np.testing.assert_array_equal(yi, np.array([0, 2, 1] * 4))


@pytest.mark.parametrize("case,exc,msg", [
    ("nan_label", ValueError, r"y contains 1 NaN or infinite labels"),
    ("none_label", ValueError, r"y contains 1 missing labels \(None or NaN\)"),
    ("mixed", TypeError, r"cannot be sorted into classes"),
    ("complex", TypeError, r"got complex numbers"),
    ("fractional", ValueError, r"y contains 12 fractional labels"),
    ("one_class", ValueError, r"needs at least 2 classes, got 1"),
    ("short_y", ValueError, r"needs y of shape \(12,\).*got \(11,\)"),
    ("y_2d", ValueError, r"needs y of shape \(12,\).*got \(12, 1\)"),
    ("x_1d", ValueError, r"X must have ndim 2 .*got shape \(12,\)"),
    ("x_nan", ValueError, r"X contains 1 NaN or infinite values"),
    ("x_text", TypeError, r"X must be a numeric array"),
    ("x_one_row", ValueError, r"at least 2 samples"),
])
def test_user_arrays_are_validated_with_clear_messages(case, exc, msg):
    X, y = _xy()
    X = X.copy()
    y = y.astype(np.float64)
    if case == "nan_label":
        y[-1] = np.nan
    elif case == "none_label":
        y = np.array([0, 1] * 5 + [1, None], dtype=object)
    elif case == "mixed":
        y = np.array([0, "a"] * 6, dtype=object)
    elif case == "complex":
        y = y + 1j
    elif case == "fractional":
        y = y + 0.5
    elif case == "one_class":
        y = np.zeros(12)
    elif case == "short_y":
        y = y[:-1]
    elif case == "y_2d":
        y = y[:, None]
    elif case == "x_1d":
        X = X[:, 0]
    elif case == "x_nan":
        X[3, 1] = np.inf
    elif case == "x_text":
        X = np.array([["a", "b"]] * 12)
    elif case == "x_one_row":
        X, y = X[:1], y[:1]
    with pytest.raises(exc, match=msg) as info:
        datasets.load((X, y), owner=dn.GradientDescentMap())
    assert str(info.value).startswith("GradientDescentMap: ")


# ---- n_samples ----------------------------------------------------------------------

def test_subsample_is_reproducible_stratified_and_a_subset():
    X, y = datasets.load("digits")
    Xa, ya = datasets.load("digits", n_samples=200, seed=3)
    Xb, yb = datasets.load("digits", n_samples=200, seed=3)
    Xc, _ = datasets.load("digits", n_samples=200, seed=4)
    np.testing.assert_array_equal(Xa, Xb)
    np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(Xa, Xc)
    quota = 200 * np.bincount(y) / y.size
    counts = np.bincount(ya, minlength=10)
    assert counts.sum() == 200
    assert np.all(counts >= np.floor(quota)) and np.all(counts <= np.floor(quota) + 1)
    # every row is a row of the dataset, each at most once, in the dataset's order
    rows = {r.tobytes(): i for i, r in enumerate(X)}
    idx = np.array([rows[r.tobytes()] for r in Xa])
    assert np.all(np.diff(idx) > 0)
    np.testing.assert_array_equal(y[idx], ya)


def test_subsample_of_user_arrays_and_full_size():
    X, y = _xy(30)
    Xs, ys = datasets.load((X, y), n_samples=30)
    np.testing.assert_array_equal(Xs, X)  # all rows, in order
    Xs, ys = datasets.load((X, y), n_samples=6, seed=1)
    np.testing.assert_array_equal(np.bincount(ys), [2, 2, 2])


@pytest.mark.parametrize("n,exc,msg", [
    (151, ValueError, r"n_samples=151 is larger than dataset='iris', which has 150 samples"),
    (2, ValueError, r"n_samples=2 is too small .* 3 classes"),
    (10.0, TypeError, r"n_samples=10.0 must be None or an int"),
    (True, TypeError, r"n_samples=True must be None or an int"),
])
def test_n_samples_out_of_range_is_refused(n, exc, msg):
    with pytest.raises(exc, match=msg):
        datasets.load("iris", n_samples=n, owner=dn.GradientDescentMap())


@given(counts=st.lists(st.integers(1, 30), min_size=2, max_size=6), data=st.data())
def test_subsample_property_counts(counts, data):
    y = np.repeat(np.arange(len(counts)), counts)
    X = np.arange(y.size, dtype=np.float64)[:, None]
    n = data.draw(st.integers(len(counts), y.size))
    seed = data.draw(st.integers(0, 2**32 - 1))
    Xs, ys = datasets.load((X, y), n_samples=n, seed=seed)
    got = np.bincount(ys, minlength=len(counts))
    assert got.sum() == n and ys.size == n
    assert np.all(got >= 1) and np.all(got <= counts)
    assert np.unique(Xs[:, 0]).size == n  # no row twice
    np.testing.assert_array_equal(y[Xs[:, 0].astype(int)], ys)
    quota = n * np.asarray(counts) / y.size
    if np.all(quota >= 1):
        assert np.all(got >= np.floor(quota)) and np.all(got <= np.floor(quota) + 1)


# ---- mnist1d (optional package) -------------------------------------------------------

def test_mnist1d_shape_split_order_and_no_side_effects(tmp_path, monkeypatch):
    mnist1d_data = pytest.importorskip("mnist1d.data")
    monkeypatch.chdir(tmp_path)
    np.random.seed(123)
    random.seed(123)
    before_np = np.random.random()
    before_py = random.random()
    np.random.seed(123)
    random.seed(123)
    X, y = datasets.load("mnist1d")
    assert np.random.random() == before_np and random.random() == before_py  # global RNGs untouched
    assert os.listdir(tmp_path) == []  # no pickle in the working directory
    assert X.shape == (5000, 40) and y.shape == (5000,)
    np.testing.assert_array_equal(np.bincount(y), [500] * 10)
    ref = mnist1d_data.make_dataset(mnist1d_data.get_dataset_args())
    np.testing.assert_array_equal(X[:4000], ref["x"])
    np.testing.assert_array_equal(X[4000:], ref["x_test"])
    np.testing.assert_array_equal(y[4000:], ref["y_test"])
    assert datasets.describe("mnist1d")["test_rows"] == 1000
    Xs, ys = datasets.load("mnist1d", n_samples=500, seed=0)
    np.testing.assert_array_equal(np.bincount(ys), [50] * 10)


def test_mnist1d_missing_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mnist1d", None)
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)
    with pytest.raises(ImportError, match=r'pip install "dynnet\[mnist1d\]"'):
        datasets.load("mnist1d", owner=dn.GradientDescentMap())


# ---- mnist through a replaced fetch (never downloads) ---------------------------------

def _fake_mnist(calls, n=40):
    from sklearn.utils import Bunch

    rng = np.random.default_rng(5)
    data = rng.integers(0, 256, size=(n, 784)).astype(np.float64)
    target = np.array([str(k % 10) for k in range(n)], dtype=object)

    def fetch(name, **kwargs):
        calls.append((name, kwargs))
        return Bunch(data=data, target=target)

    return fetch, data, target


def test_mnist_through_a_replaced_fetch(tmp_path, monkeypatch):
    import sklearn.datasets

    calls = []
    fetch, data, target = _fake_mnist(calls)
    monkeypatch.setattr(sklearn.datasets, "fetch_openml", fetch)
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "cache"
    X, y = datasets.load("mnist", data_home=home)
    assert len(calls) == 1
    name, kwargs = calls[0]
    assert name == "mnist_784" and kwargs["version"] == 1 and kwargs["as_frame"] is False
    assert kwargs["data_home"] == os.fspath(home)
    np.testing.assert_array_equal(X, data)
    np.testing.assert_array_equal(y, np.arange(40) % 10)  # "0".."9" -> 0..9
    datasets.load("mnist", data_home=home)
    assert len(calls) == 1  # cached in memory
    Xs, ys = datasets.load("mnist", data_home=home, n_samples=20, seed=2)
    np.testing.assert_array_equal(np.bincount(ys), [2] * 10)
    assert os.listdir(tmp_path) == []


def test_mnist_without_network_says_what_to_do(monkeypatch, tmp_path):
    from urllib.error import URLError

    import sklearn.datasets

    def offline(name, **kwargs):
        raise URLError("no network")

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", offline)
    with pytest.raises(OSError, match=r"dataset='mnist' is not in the local cache.*dataset='mnist1d'"):
        datasets.load("mnist", data_home=tmp_path, owner=dn.GradientDescentMap())
