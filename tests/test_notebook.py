"""Studies in a notebook (issue 23 item 11): a repr that says whether the study has run, a rich
``_repr_html_`` (parameters; after a run, the summary) and ``summary(as_frame=True)``."""

import numpy as np
import pandas as pd
import pytest

import dynnet as dn


def henon(**kw):
    params = dict(map=dn.HenonMap(), perturber=dn.UniformPerturber(eps=1e-10, n=3, on="all"),
                  n_init=4, n_steps=30, seed=0,
                  estimators=[dn.FiniteLyapunov(starts=range(0, 6), lengths=range(8, 15))])
    params.update(kw)
    return dn.PerturbationStudy(**params)


@pytest.fixture(scope="module")
def ran():
    return henon().run()


def test_repr_says_whether_the_study_has_run(ran, tmp_path):
    fresh = henon()
    assert repr(fresh).endswith("# not run")
    assert "n_init=4" in repr(fresh)
    assert "# run: result_ with" in repr(ran) and "1 fitted estimator" in repr(ran)
    assert "init: 4" in repr(ran)
    ran.save(tmp_path / "r.nc")
    loaded = dn.load(tmp_path / "r.nc")
    assert "# loaded:" in repr(loaded) and "refit()" in repr(loaded)
    assert "# run:" in repr(loaded.refit())


def test_the_repr_still_rebuilds_the_study(ran):
    ns = {k: getattr(dn, k) for k in dir(dn) if not k.startswith("_")}
    back = eval(repr(ran), ns)  # the run state is a comment
    assert back.get_params(deep=False).keys() == ran.get_params(deep=False).keys()
    assert back.n_init == 4 and isinstance(back.map, dn.HenonMap)


def test_a_nested_study_shows_parameters_only():
    g = dn.GridStudy(study=dn.EdgeOfStabilityStudy(n_init=3), grid={"map__eta": [0.5, 1.0]})
    text = repr(g)
    assert text.count("#") == 1 and text.endswith("# not run")
    assert "EdgeOfStabilityStudy(n_init=3)" in text


def test_repr_html_lists_the_parameters_before_a_run():
    s = henon(map=dn.GradientDescentMap(dataset="<b>iris</b>"))
    html = s._repr_html_()
    assert html.startswith("<div") and html.endswith("</div>")
    for name in ("n_init", "n_steps", "seed", "map__eta", "perturber__eps"):
        assert f">{name}<" in html
    assert "not run" in html and "summary()" not in html
    assert "<b>iris</b>" not in html and "&lt;b&gt;iris&lt;/b&gt;" in html  # values are escaped


def test_repr_html_shows_the_summary_after_a_run(ran):
    html = ran._repr_html_()
    assert "summary()" in html and "finitelyapunov.mle" in html
    mle = float(ran.summary()["finitelyapunov.mle"])
    assert np.isfinite(mle) and f"{mle:.4g}" in html


def test_summary_as_frame_is_flat_and_equal_to_the_dataset(ran):
    frame = ran.summary(as_frame=True)
    ds = ran.summary()
    assert isinstance(frame, pd.DataFrame) and frame.shape == (1, len(ds.data_vars))
    for k in ds.data_vars:
        np.testing.assert_equal(frame[k].iloc[0], ds[k].values.item())
    with pytest.raises(TypeError, match="as_frame"):
        ran.summary(as_frame="yes")


def test_summary_as_frame_has_one_row_per_combination_of_coordinates():
    s = dn.PostLearningStudy.quick().run()
    ds = s.summary()
    frame = s.summary(as_frame=True)
    assert set(ds.sizes) <= set(frame.columns)
    assert len(frame) == int(np.prod(list(ds.sizes.values()))) and len(frame) > ds.sizes["eps"]
    per_eps = next(k for k in ds.data_vars if ds[k].dims == ("eps",))
    for _, row in frame.iterrows():  # a number along fewer coordinates is repeated on its rows
        assert row[per_eps] == pytest.approx(float(ds[per_eps].sel(eps=row["eps"])), nan_ok=True)


def test_the_notebook_tutorial_runs(tmp_path, monkeypatch):
    """docs/tutorials/notebook.rst's cells, in order, in a temporary folder (as the docs build runs them)."""
    import re
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    text = (Path(__file__).parent.parent / "docs" / "tutorials" / "notebook.rst").read_text()
    blocks = re.findall(r"\.\. dynnet-run:: (\S+)\n(?:   :.*\n)*\n((?:   .*\n|\n)+)", text)
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)
    ns = {}
    for name, code in blocks:
        exec(compile("\n".join(line[3:] for line in code.splitlines()), name, "exec"), ns)
    assert "# run:" in repr(ns["loaded"]) and len(ns["table"]) == 3  # loaded, then refit()
    assert (tmp_path / "henon.nc").is_file()
