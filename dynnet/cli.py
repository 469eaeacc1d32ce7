"""The ``dynnet`` command: list, run, plot, reproduce."""

from __future__ import annotations

import argparse
import ast
import shutil
import sys
import time
from pathlib import Path

STUDY_NAMES = {
    "perturbation": "PerturbationStudy",
    "orbital-stability": "OrbitalStabilityStudy",
    "post-learning": "PostLearningStudy",
    "edge-of-stability": "EdgeOfStabilityStudy",
    "intermittency": "IntermittencyStudy",
    "eta-scan": "EtaScanStudy",
}
GROUPS = ("dynnet.studies", "dynnet.maps", "dynnet.perturbers", "dynnet.metrics", "dynnet.estimators")


class CLIError(Exception):
    """A user error: printed without a traceback, exit code 2."""


def _load_class(group: str, name: str):
    from . import plugins

    try:
        return plugins.load(group, name)
    except ImportError as exc:
        raise CLIError(str(exc)) from None


def parse_value(text: str):
    """A ``--set`` value: a Python literal (never evaluated as code), else a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _component(key: str, value):
    """``--set map=sgd``: a plugin or built-in name becomes an instance of that class."""
    groups = {"map": "dynnet.maps", "perturber": "dynnet.perturbers", "metric": "dynnet.metrics",
              "estimator": "dynnet.estimators"}
    if key in groups and isinstance(value, str):
        return _load_class(groups[key], value)()
    return value


def _read_config(path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    p = Path(path)
    if not p.exists():
        raise CLIError(f"config file not found: {p}")
    try:
        data = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise CLIError(f"config file {p} is not valid TOML: {exc}") from None
    flat = {}

    def walk(prefix, d):
        for k, v in d.items():
            key = f"{prefix}__{k}" if prefix else k
            if isinstance(v, dict):
                walk(key, v)
            else:
                flat[key] = v

    walk("", data.get("params", data))
    return flat


def build_study(name: str, quick: bool = False, settings: dict | None = None):
    """The Study registered as ``name``, with the quick preset and ``settings`` applied."""
    cls = _load_class("dynnet.studies", name)
    study = cls.quick() if quick else cls()
    settings = dict(settings or {})
    parts = {k: v for k, v in settings.items() if "__" not in k}
    nested = {k: v for k, v in settings.items() if "__" in k}
    try:
        study.set_params(**{k: _component(k, v) for k, v in parts.items()})
        study.set_params(**nested)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    return study


def _print_summary(summary: dict, file=sys.stdout):
    width = max((len(k) for k in summary), default=0)
    for k, v in summary.items():
        if isinstance(v, float):
            v = f"{v:.6g}"
        print(f"  {k:<{width}}  {v}", file=file)


def cmd_list(args):
    """List what is registered; ``--check`` also imports each entry and says if it loads."""
    from . import plugins

    rows = plugins.describe()
    broken = 0
    for group in GROUPS:
        print(f"{group}:")
        for g, name, dist, value in rows:
            if g != group:
                continue
            status = ""
            if args.check:
                try:
                    plugins.load(group, name, distribution=dist)
                    status = "  ok"
                except ImportError as exc:
                    broken += 1
                    status = f"  BROKEN: {exc}"
            print(f"  {name:<20} {dist:<20} {value}{status}")
    return 1 if broken else 0


def cmd_run(args):
    settings = {}
    if args.config:
        settings.update(_read_config(args.config))
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CLIError(f"--set expects key=value, got {item!r}")
        settings[key.strip()] = parse_value(value.strip())
    study = build_study(args.study, quick=args.quick, settings=settings)
    out = Path(args.out or f"{args.study}.nc")
    ckpt = out.with_name(out.name + ".ckpt")
    extra = {"n_jobs": args.jobs, "progress": not args.quiet}
    names = study._param_names()
    if args.jobs != 1 and "n_jobs" not in names:
        raise CLIError(f"{type(study).__name__} runs in one process; --jobs does not apply to it")
    if "checkpoint" in names:
        extra.update(checkpoint=ckpt, resume=args.resume)
    elif args.resume:
        raise CLIError(f"{type(study).__name__} does not support --resume")
    study.set_params(**{k: v for k, v in extra.items() if k in names})
    t0 = time.perf_counter()
    study.run()
    wall = time.perf_counter() - t0
    study.save(out)
    shutil.rmtree(ckpt, ignore_errors=True)
    if not args.quiet:
        print(f"{type(study).__name__}: {wall:.1f} s; result written to {out}")
    _print_summary(study.summary())
    return 0


def cmd_plot(args):
    from . import load

    study = load(args.result)
    outdir = Path(args.out or Path(args.result).with_suffix(""))
    outdir.mkdir(parents=True, exist_ok=True)
    stem = Path(args.result).stem
    for i, fig in enumerate(study.plot()):
        path = outdir / f"{stem}-{i + 1}.png"
        fig.savefig(path, dpi=110)
        print(path)
    return 0


def cmd_reproduce(args):
    from .reproduce import reproduce

    reproduce(Path(args.out), quick=args.quick, n_jobs=args.jobs, progress=not args.quiet)
    return 0


def make_parser():
    p = argparse.ArgumentParser(prog="dynnet", description=(
        "Study neural-network training as a dynamical system (Danovski, Soriano & Lacasa 2024)."))
    from ._version import __version__

    p.add_argument("--version", action="version", version=f"dynnet {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="studies, maps, estimators and plugins")
    ls.add_argument("--check", action="store_true",
                    help="also import each entry and report the ones that do not load")
    ls.set_defaults(func=cmd_list)
    r = sub.add_parser("run", help="run a study and save its result (netCDF)")
    r.add_argument("study", help="a study name (see `dynnet list`), e.g. edge-of-stability")
    r.add_argument("--quick", action="store_true", help="the small preset (seconds to a minute)")
    r.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="a parameter, e.g. n_init=100 or map__eta=2.0 or map=sgd (values are literals)")
    r.add_argument("--config", help="a TOML file of parameters ([params] table or top level)")
    r.add_argument("--out", help="the result file (default: STUDY.nc)")
    r.add_argument("--jobs", type=int, default=1, help="parallel workers (-1: all cores)")
    r.add_argument("--resume", action="store_true", help="continue an interrupted run from its checkpoint")
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    r.set_defaults(func=cmd_run)
    pl = sub.add_parser("plot", help="figures of a saved result")
    pl.add_argument("result", help="a result file written by `dynnet run` or Study.save (netCDF)")
    pl.add_argument("--out", help="output directory for the PNGs (default: a folder named after the result)")
    pl.set_defaults(func=cmd_plot)
    rp = sub.add_parser("reproduce", help="every figure of the paper and a table of headline numbers")
    rp.add_argument("--quick", action="store_true",
                    help="the quick presets: checks the pipeline in seconds; numbers not comparable")
    rp.add_argument("--out", required=True,
                    help="output directory: results (*.nc), figures/ and headline.md / headline.csv")
    rp.add_argument("--jobs", type=int, default=1, help="parallel workers (-1: all cores)")
    rp.add_argument("--quiet", action="store_true", help="no progress bars")
    rp.set_defaults(func=cmd_reproduce)
    return p


def main(argv=None) -> int:
    import matplotlib

    matplotlib.use("Agg")
    args = make_parser().parse_args(argv)
    try:
        return args.func(args)
    except CLIError as exc:
        print(f"dynnet: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"dynnet: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
