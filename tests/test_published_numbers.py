"""Every published number is an output of `dynnet reproduce`, checked to its printed digits.

* ``docs/headline.csv`` is the headline table of the last paper-scale run of
  ``dynnet reproduce`` (its ``headline.csv``). docs/reproducing.rst renders it
  (``.. dynnet-headline::``), so the table itself cannot drift.
* Every number quoted in prose is tagged with the key of its row:
  ``:hl:`0.321 <edge.mle[eps=1e-14]>``` in reStructuredText,
  ``0.321<!--hl:edge.mle[eps=1e-14]-->`` in Markdown (a ``:verdict`` suffix
  quotes the verdict instead). The tests here check each against the CSV.
* CI runs ``dynnet reproduce`` afresh and then runs this file with
  ``DYNNET_HEADLINE_CSV`` pointing at its CSV: the committed table must equal it.
* The same holds for the answers to the paper's open questions:
  ``docs/beyond.csv`` is the ``beyond.csv`` of ``dynnet reproduce --beyond``
  (``DYNNET_BEYOND_CSV`` in CI), rendered in docs/beyond.rst; its keys are tagged
  the same way (``regularization.``, ``sharpening.``, ``window.``, ``grid.``).
"""

import os
import re
from pathlib import Path

import numpy as np
import pytest

from dynnet.reproduce import FIELDS, _verdict, read_csv

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "docs" / "headline.csv"
COMMITTED_BEYOND = ROOT / "docs" / "beyond.csv"
DOCS = [ROOT / "README.md", ROOT / "docs" / "reproducing.rst", ROOT / "docs" / "index.rst",
        ROOT / "docs" / "beyond.rst", ROOT / "docs" / "performance.rst",
        *sorted((ROOT / "docs" / "tutorials").glob("*.rst"))]
RST = re.compile(r":hl:`(?P<shown>[^`<]*?)\s*<(?P<key>[^`<>]+)>`")
MD = re.compile(r"(?P<shown>[\w.%+-]+(?: of \d+)?)<!--hl:(?P<key>[^>]+?)-->")


def tags(path):
    text = path.read_text()
    return [(m.group("shown").strip(), m.group("key").strip()) for rx in (RST, MD) for m in rx.finditer(text)]


def agrees(shown: str, row: dict) -> bool:
    """Does the quoted text equal the row's number (to the digits quoted) or text?"""
    if shown == row["dynnet"]:
        return True  # the table's own printed text (e.g. "1e-02", "never", "0.6-0.8")
    try:
        value = float(row["value"])
    except ValueError:
        return False
    text, scale = shown, 1.0
    if text.endswith("%"):
        text, scale = text[:-1].strip(), 100.0
    if not re.fullmatch(r"-?\d+(\.\d+)?", text):
        return False
    decimals = len(text.split(".")[1]) if "." in text else 0
    return f"{value * scale:.{decimals}f}" == text


@pytest.fixture(scope="module")
def table():
    rows = read_csv(COMMITTED)
    beyond = read_csv(COMMITTED_BEYOND)
    assert not set(rows) & set(beyond), "a key in both tables"
    return {**rows, **beyond}


def test_the_committed_table_has_every_column_and_the_headline_rows(table):
    assert list(next(iter(table.values()))) == FIELDS
    for key in ("edge.mle[eps=1e-14]", "edge.kept_fraction[eps=1e-14]", "orbital.loss_monotone_fraction"):
        assert key in table


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_tagged_number_is_the_tables(path, table):
    found = tags(path)
    if path.name in ("README.md", "reproducing.rst", "beyond.rst"):
        assert found, f"{path.name} quotes no tagged number"
    for shown, key in found:
        base, _, what = key.partition(":")
        assert base in table, f"{path.name}: {key!r} is not a row of docs/headline.csv or docs/beyond.csv"
        row = table[base]
        if what == "verdict":
            assert shown == row["verdict"], (
                f"{path.name}: verdict of {base} is {row['verdict']!r}, not {shown!r}")
        else:
            assert agrees(shown, row), f"{path.name}: {key} says {shown!r}, the table has {row['dynnet']!r}"


def test_agreement_is_to_the_printed_digits():
    row = {"value": repr(0.32149), "dynnet": "0.321"}
    assert agrees("0.321", row) and agrees("0.32", row) and agrees("32.1%", row) and agrees("32 %", row)
    assert not agrees("0.322", row) and not agrees("0.3214", row) and not agrees("33%", row)
    assert agrees("3 of 20", {"value": "3 of 20", "dynnet": "3 of 20"})
    assert agrees("1e-02", {"value": repr(0.01), "dynnet": "1e-02"})
    assert not agrees("1e-03", {"value": repr(0.01), "dynnet": "1e-02"})
    assert not agrees("empty", {"value": "0.6-0.8", "dynnet": "0.6-0.8"})


def test_verdicts_follow_their_rules():
    assert _verdict("edge.mle", 0.321, ci=(0.31, 0.335)) == "yes"
    assert _verdict("edge.mle", 0.321, ci=(0.31, 0.329)) == "no"
    assert _verdict("edge.kept_fraction", 0.851, None) == "yes"
    assert _verdict("edge.kept_fraction", 0.849, None) == "no"
    assert _verdict("orbital.loss_monotone_fraction", 1.0, None) == "yes"
    assert _verdict("orbital.loss_monotone_fraction", 0.9, None) == "no"
    assert _verdict("intermittency.laminar_fraction", 0.87, None) == "n/a"
    assert _verdict("edge.mle", float("nan"), ci=(0.0, 1.0)) == "no"


def _same_tables(fresh, committed):
    new, old = read_csv(fresh), read_csv(committed)
    assert sorted(new) == sorted(old), f"rows differ: {sorted(set(new) ^ set(old))}"
    for key in old:
        for col in ("dynnet", "verdict", "rule", "paper"):
            assert new[key][col] == old[key][col], (
                f"{key}.{col}: fresh {new[key][col]!r}, docs {old[key][col]!r}")
        a, b = new[key]["value"], old[key]["value"]
        try:
            assert np.isclose(float(a), float(b), rtol=1e-12, atol=0, equal_nan=True), key
        except ValueError:
            assert a == b, key


def test_the_committed_table_is_the_output_of_a_fresh_run():
    fresh = os.environ.get("DYNNET_HEADLINE_CSV")
    if not fresh:
        pytest.skip("CI runs this after `dynnet reproduce` (DYNNET_HEADLINE_CSV=its headline.csv)")
    _same_tables(fresh, COMMITTED)


def test_the_committed_answers_are_the_output_of_a_fresh_run():
    fresh = os.environ.get("DYNNET_BEYOND_CSV")
    if not fresh:
        pytest.skip("CI runs this after `dynnet reproduce --beyond` (DYNNET_BEYOND_CSV=its beyond.csv)")
    _same_tables(fresh, COMMITTED_BEYOND)


def test_the_answers_follow_their_rules():
    """Each verdict of docs/beyond.csv is what its rule gives on the numbers of the table."""
    from dynnet.interpretation import DEAD_TOL, HOLM_ALPHA, holm

    t = read_csv(COMMITTED_BEYOND)
    reg = t["regularization.lowers_mle"]
    kept = [float(r["value"]) for k, r in t.items() if k.startswith("regularization.kept_fraction[")]
    # Holm over the decays tried, at family-wise level Phi(-2), on the published p-values
    p = {k: float(r["value"]) for k, r in t.items() if k.startswith("regularization.mle_change_p[")}
    assert p and all(0 <= v <= 1 for v in p.values() if np.isfinite(v))
    rejected = holm(list(p.values()), HOLM_ALPHA)
    lowest = min((float(k.split("=")[1].rstrip("]")) for k, r in zip(p, rejected, strict=True) if r),
                 default=np.nan)
    expect = "yes" if rejected.any() else ("not clear" if np.mean(np.array(kept) >= 0.5) < 0.5 else "no")
    assert reg["verdict"] == expect
    assert np.isclose(float(reg["value"]), lowest, equal_nan=True)
    assert "Holm" in reg["rule"]

    def onset_rule(frac, onset):
        if not np.isfinite(onset):
            return "not clear"
        return "yes" if frac >= 0.5 else ("no" if frac == 0 else "not clear")

    sh = t["sharpening.reaches_2_over_eta"]
    onset = float(t["sharpening.lambda_onset_eta"]["value"])
    assert sh["verdict"] == onset_rule(float(sh["value"]), onset)
    if np.isfinite(onset):  # the t = 0 record does not count as reaching
        assert float(sh["value"]) == float(t[f"sharpening.reaches_after_start[eta={onset:g}]"]["value"])
    pr = t["sharpening.progressive_at_onset"]
    t_onset = float(t["sharpening.lambda_onset_eta_time"]["value"])
    assert pr["verdict"] == onset_rule(float(pr["value"]), t_onset)
    if np.isfinite(t_onset):
        assert float(pr["value"]) == float(t[f"sharpening.progressive[eta={t_onset:g}]"]["value"])
    for key, row in t.items():  # a dead grid cell: final loss at the prior entropy
        if key.startswith("grid.regime["):
            final, entropy = (float(x.split()[-1]) for x in row["note"].split(", "))
            if row["dynnet"] == "dead":
                assert abs(final - entropy) <= DEAD_TOL + 1e-4  # the note prints 4 decimals
            else:
                assert abs(final - entropy) > DEAD_TOL - 1e-4


def test_the_qualitative_claims_have_rules_that_can_say_no():
    assert _verdict("edge.mle_converges", -0.001, ci=(-0.004, 0.002)) == "yes"
    assert _verdict("edge.mle_converges", -0.007, ci=(-0.010, -0.004)) == "no"
    assert _verdict("intermittency.kantz_significant_fraction", 0.2, None) == "yes"
    assert _verdict("intermittency.kantz_significant_fraction", 0.0, None) == "no"
    assert _verdict("intermittency.kantz_significant_fraction", 0.8, None) == "no"
    assert _verdict("intermittency.kantz_significant_fraction_aperiodic", 0.2, None) == "yes"
    assert _verdict("intermittency.kantz_significant_fraction_aperiodic", 0.0, None) == "no"
    assert _verdict("post_learning.unit_eigenvalues_from_learning", 0.3, ci=0.8) == "yes"
    assert _verdict("post_learning.unit_eigenvalues_from_learning", 0.05, ci=0.8) == "no"
    assert _verdict("post_learning.unit_eigenvalues_from_learning", 0.3, ci=0.4) == "no"
    assert _verdict("post_learning.sharp_drop_fraction", 0.6, None) == "yes"
    assert _verdict("post_learning.sharp_drop_fraction", 0.4, None) == "no"


def _edge_like(slope, n_init=400, seed=1):
    import xarray as xr

    rng = np.random.default_rng(seed)
    eps = 10.0 ** np.arange(-14, -7, dtype=float)
    net = rng.normal(0.3, 0.05, n_init)  # each network's own exponent, shared by every eps
    lam = net[None, :] + slope * (np.log10(eps)[:, None] + 14) + rng.normal(0, 0.01, (eps.size, n_init))
    return xr.Dataset({"exponent": (("eps", "init"), lam),
                       "kept": (("eps", "init"), rng.random((eps.size, n_init)) < 0.9)},
                      coords={"eps": eps})


def test_the_eps_slope_finds_a_trend_and_a_plateau():
    from dynnet.reproduce import eps_slope

    s, lo, hi, k = eps_slope(_edge_like(-0.007))
    assert k == 4 and lo < s < hi and hi < 0           # a trend of -0.007 per decade is seen
    assert abs(s + 0.007) < 3 * (hi - lo)
    s, lo, hi, k = eps_slope(_edge_like(0.0))
    assert lo < 0 < hi                                  # a plateau is compatible with 0
    assert np.isnan(eps_slope(_edge_like(0.0), eps_max=1e-13)[0])  # fewer than 3 eps: no slope


def test_the_sharp_drop_rule_reads_the_distances():
    import xarray as xr

    from dynnet.reproduce import _sharp_drop_fraction

    step = np.arange(0, 201)
    sharp = np.where(step <= 10, np.exp(-0.2 * step), np.exp(-2.0 - 0.001 * (step - 10)))
    slow = np.exp(-0.01 * step)                         # one rate throughout: no sharp drop
    d = np.stack([sharp, slow], axis=-1)[None, :, :, None] * np.ones((2, 1, 1, 3))  # (eps, step, init, pert)
    ds = xr.Dataset({"distance": (("eps", "step", "init", "pert"), d)}, coords={"step": step})
    assert _sharp_drop_fraction(ds) == 0.5


# ---- the follow-up paper's protocol (docs/followup.csv, docs/followup.rst) ---------------------

COMMITTED_FOLLOWUP = ROOT / "docs" / "followup.csv"


def test_the_followup_table_is_the_output_of_a_fresh_run(tmp_path):
    """`dynnet reproduce --followup --quick` (the reduced preset CI runs) gives docs/followup.csv,
    every tagged number of docs/followup.rst is the table's, and each verdict follows its rule."""
    from dynnet.cli import main
    from dynnet.followup import RULE, fastest_rule

    fresh = os.environ.get("DYNNET_FOLLOWUP_CSV")
    if not fresh:  # rerun the command here (about a minute on 2 cores)
        out = tmp_path / "followup"
        assert main(["reproduce", "--followup", "--quick", "--out", str(out), "--quiet"]) == 0
        fresh = out / "followup.csv"
    _same_tables(fresh, COMMITTED_FOLLOWUP)
    t = read_csv(COMMITTED_FOLLOWUP)
    assert not set(t) & (set(read_csv(COMMITTED)) | set(read_csv(COMMITTED_BEYOND))), "a key in two tables"
    found = tags(ROOT / "docs" / "followup.rst")
    assert found, "followup.rst quotes no tagged number"
    for shown, key in found:
        base, _, what = key.partition(":")
        assert base in t, f"followup.rst: {key!r} is not a row of docs/followup.csv"
        if what == "verdict":
            assert shown == t[base]["verdict"], f"followup.rst: verdict of {base} is {t[base]['verdict']!r}"
        else:
            assert agrees(shown, t[base]), (
                f"followup.rst: {key} says {shown!r}, the table has {t[base]['dynnet']!r}")
    verdicts = [k for k in t if k.startswith("followup.fastest_is_chaotic[")]
    assert verdicts
    for key in verdicts:
        ds = key[len("followup.fastest_is_chaotic["):-1]
        etas = sorted(float(k.split("eta=")[1][:-1]) for k in t if k.startswith(f"followup.mle[{ds},"))

        def col(name, ds=ds, etas=etas):
            vals = [t[f"followup.{name}[{ds},eta={e:g}]"]["value"] for e in etas]
            return [np.inf if v == "never" else float(v) for v in vals]

        n_init = int(t[f"followup.preset[{ds}]"]["value"].split(" networks")[0].split(", ")[-1])
        r = fastest_rule(etas, col("median_time"), col("kept_fraction"), n_init, col("mle_ci_low"))
        assert t[key]["rule"] == RULE and t[key]["verdict"] == r["verdict"], key
