"""A sweep expects values with no exponent: it reports them (kept fraction 0), it does not warn."""

import warnings

import numpy as np
import pytest

import dynnet as dn
from dynnet.estimators import NoExponentWarning
from dynnet.studies._sweep import sweep_fits


def _flat_distances():
    # distances that never grow: no window has a positive slope, so no fit is kept
    return np.full((60, 4, 3), 1e-8) * np.exp(-0.01 * np.arange(60))[:, None, None]


def test_a_lone_fit_with_no_kept_window_warns_and_a_sweep_fit_does_not():
    with pytest.warns(NoExponentWarning):
        f = dn.FiniteLyapunov(starts=(0, 10), lengths=(20, 30)).fit(_flat_distances())
    assert np.isnan(f.mle_) and f.kept_fraction_ == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with sweep_fits():
            g = dn.FiniteLyapunov(starts=(0, 10), lengths=(20, 30)).fit(_flat_distances())
    assert np.isnan(g.mle_) and g.kept_fraction_ == 0.0


def test_other_warnings_pass_through_a_sweep_fit():
    with pytest.warns(UserWarning, match="still shown"):
        with sweep_fits():
            warnings.warn("still shown", UserWarning, stacklevel=1)
