"""The ``dynnet`` command: list, run, plot, reproduce."""

from __future__ import annotations

import argparse
import ast
import contextlib
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    import xarray as xr

    from .studies.base import Study

GROUPS = ("dynnet.studies", "dynnet.maps", "dynnet.perturbers", "dynnet.metrics", "dynnet.estimators")


class CLIError(Exception):
    """A usage error: printed as one line without a traceback, exit code 2."""


class SaveError(RuntimeError):
    """The result of a finished run could not be written: printed as one line, exit code 1."""


def _load_class(group: str, name: str):
    from . import plugins

    try:
        return plugins.load(group, name)
    except ImportError as exc:
        raise CLIError(str(exc)) from None


def parse_value(text: str) -> Any:
    """A ``--set`` value: a Python literal (never evaluated as code), else a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _component(key: str, value):
    """``--set map=sgd``: a plugin or built-in name becomes an instance of that class."""
    groups = {"map": "dynnet.maps", "perturber": "dynnet.perturbers", "metric": "dynnet.metrics",
              "estimators": "dynnet.estimators"}
    if key in groups and isinstance(value, str):
        value = _load_class(groups[key], value)()
        return [value] if key == "estimators" else value
    if key == "estimators" and isinstance(value, (list, tuple)):
        return [_load_class(groups[key], v)() if isinstance(v, str) else v for v in value]
    return value


def _load_toml(path) -> dict:
    """The TOML file at ``path`` as a dict (one-line errors for a missing or malformed file)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    p = Path(path)
    if not p.exists():
        raise CLIError(f"config file not found: {p}")
    if not p.is_file():
        raise CLIError(f"config file {p} is not a regular file")
    try:
        return tomllib.loads(p.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CLIError(f"config file {p} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise CLIError(f"cannot read config file {p}: {exc.strerror or exc}") from None


def _flatten(d: dict, prefix: str = "") -> dict:
    """Nested tables as ``outer__inner`` keys."""
    flat = {}
    for k, v in d.items():
        key = f"{prefix}__{k}" if prefix else k
        if isinstance(v, dict):
            flat.update(_flatten(v, key))
        else:
            flat[key] = v
    return flat


def _read_config(path) -> dict:
    data = _load_toml(path)
    if "grid" in data:
        raise CLIError(f"config file {path} has a [grid] table: a grid runs with "
                       f"`dynnet run grid --config {path}`")
    if "params" in data:
        extra = sorted(k for k in data if k != "params")
        if extra:
            raise CLIError(f"config file {path}: top-level key(s) {', '.join(map(repr, extra))} beside the "
                           "[params] table would be ignored; move them into [params] (or drop the "
                           "[params] header and give every parameter at the top level)")
        if not isinstance(data["params"], dict):
            raise CLIError(f"config file {path}: params must be a table ([params]), not "
                           f"{type(data['params']).__name__}")
    return _flatten(data.get("params", data))


#: the top-level keys of a grid config (`dynnet run grid --config sweep.toml`)
GRID_KEYS = ("study", "quick", "seed", "common_seed", "params", "grid")


def _as_tuples(value):
    """TOML arrays inside a grid value become tuples (``[[10], [20]]`` -> ``(10,)``, ``(20,)``)."""
    if isinstance(value, list):
        return tuple(_as_tuples(v) for v in value)
    return value


def build_grid(grid_class: type, path: str | Path, quick: bool = False) -> Study:
    """A GridStudy from a grid config: the study it sweeps (its name, ``quick``, ``[params]``),
    ``[grid]`` (parameter name to an array of values), and optionally ``seed`` and ``common_seed``.

    Parameters
    ----------
    grid_class : type
        The GridStudy class (as registered).
    path : str or Path
        The TOML file.
    quick : bool, default False
        Start the swept study from its quick preset (as ``quick = true`` in the file).

    Returns
    -------
    Study
        The GridStudy, not yet run.
    """
    data = _load_toml(path)
    unknown = sorted(set(data) - set(GRID_KEYS))
    if unknown:
        raise CLIError(f"config file {path}: unknown key(s) {unknown}; a grid config has study = \"NAME\", "
                       "quick, seed, common_seed, a [params] table and a [grid] table")
    name = data.get("study")
    if not isinstance(name, str) or not name:
        raise CLIError(f"config file {path}: a grid config needs study = \"NAME\" (a study of "
                       f"`dynnet list`), got {name!r}")
    inner_quick = data.get("quick", False)
    if not isinstance(inner_quick, bool):
        raise CLIError(f"config file {path}: quick = {inner_quick!r} must be true or false")
    params = data.get("params", {})
    grid = data.get("grid", {})
    for key, table in (("params", params), ("grid", grid)):
        if not isinstance(table, dict):
            raise CLIError(f"config file {path}: {key} must be a table [{key}], got {table!r}")
    if not grid:
        raise CLIError(f"config file {path}: the [grid] table is empty or missing; give each swept "
                       "parameter an array of values, e.g. map__eta = [0.5, 1.0]")
    values = {}
    for key, vals in _flatten(grid).items():
        if not isinstance(vals, list):
            raise CLIError(f"config file {path}: grid {key} = {vals!r} must be an array of values, "
                           f"e.g. [{vals!r}]")
        vals = [_as_tuples(v) for v in vals]
        if "__" not in key:  # parts given by name: map = ["gd", "henon"], estimators = [["kantz"]]
            vals = [_component(key, list(v) if key == "estimators" and isinstance(v, tuple) else v)
                    for v in vals]
        values[key] = vals
    study = build_study(name, quick=quick or inner_quick, settings=_flatten(params))
    grid_params = {"study": study, "grid": values}
    for key in ("seed", "common_seed"):
        if key in data:
            grid_params[key] = data[key]
    try:
        return grid_class().set_params(**grid_params)
    except (ValueError, TypeError) as exc:
        raise CLIError(str(exc)) from None


def build_study(name: str, quick: bool = False, settings: dict | None = None) -> Study:
    """The Study registered as ``name``, with the quick preset and ``settings`` applied."""
    cls = _load_class("dynnet.studies", name)
    study = cls.quick() if quick else cls()
    return _apply_settings(study, settings)


def _apply_settings(study: Study, settings: dict | None) -> Study:
    settings = dict(settings or {})
    parts = {k: v for k, v in settings.items() if "__" not in k}
    nested = {k: v for k, v in settings.items() if "__" in k}
    try:
        study.set_params(**{k: _component(k, v) for k, v in parts.items()})
        study.set_params(**nested)
    except (ValueError, TypeError) as exc:
        raise CLIError(str(exc)) from None
    return study


def _is_grid(cls: type) -> bool:
    from .studies.grid import GridStudy

    return isinstance(cls, type) and issubclass(cls, GridStudy)


def _fmt(v) -> str:
    if isinstance(v, (float,)) or (hasattr(v, "dtype") and getattr(v.dtype, "kind", "") == "f"):
        return f"{float(v):.6g}"
    return str(v.item() if hasattr(v, "item") else v)


def format_summary(summary: xr.Dataset) -> str:
    """A study's summary (an ``xarray.Dataset``) as text: scalars one per line, then one
    table per set of dimensions (eps, eta, ...; a grid's parameters), one row per point.

    Parameters
    ----------
    summary : xarray.Dataset
        What ``Study.summary()`` returns.

    Returns
    -------
    str
        Lines of aligned text (no trailing newline).
    """
    import itertools

    lines = []
    scalars = [k for k in summary.data_vars if summary[k].ndim == 0]
    width = max((len(str(k)) for k in scalars), default=0)
    for k in scalars:
        lines.append(f"  {str(k):<{width}}  {_fmt(summary[k].values)}")
    by_dims: dict = {}
    for k in summary.data_vars:
        if summary[k].ndim >= 1:
            by_dims.setdefault(summary[k].dims, []).append(k)
    for dims, names in by_dims.items():
        coords = [summary[d].values if d in summary.coords else range(summary.sizes[d]) for d in dims]
        header = [str(d) for d in dims] + [str(n) for n in names]
        values = [summary[n].values for n in names]
        rows = [[_fmt(c[i]) for c, i in zip(coords, ix, strict=True)] + [_fmt(v[ix]) for v in values]
                for ix in itertools.product(*(range(len(c)) for c in coords))]
        widths = [max(len(r[j]) for r in [header] + rows) for j in range(len(header))]
        lines.append("  " + "  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
        lines += ["  " + "  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def cmd_list(args: argparse.Namespace) -> int:
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


def _default_out(study_name: str, force: bool) -> Path:
    """``STUDY.nc``, or with that taken the first free ``STUDY-K.nc``: a repeated command never
    replaces an earlier result (``--force`` replaces ``STUDY.nc``)."""
    first = Path(f"{study_name}.nc")
    if force or not (first.exists() or first.is_symlink()):
        return first
    k = 2
    while True:
        cand = Path(f"{study_name}-{k}.nc")
        if not (cand.exists() or cand.is_symlink()):
            return cand
        k += 1


def _status(args: argparse.Namespace, text: str) -> None:
    """A one-line status message on stderr (none with --quiet)."""
    if not getattr(args, "quiet", False):
        print(f"dynnet: {text}", file=sys.stderr)


def _finish_command(args: argparse.Namespace, out: Path) -> str:
    """The command that finishes an interrupted or failed run: the same one, with --resume (and
    the output named, since the checkpoint is named after it)."""
    import shlex

    argv = list(getattr(args, "argv", None) or ["run", args.study])
    if not args.out:
        argv += ["--out", str(out)]
    if not args.resume:
        argv.append("--resume")
    return "dynnet " + shlex.join(argv)


def cmd_run(args: argparse.Namespace) -> int:
    from .checkpoint import discard, finished_chunks
    from .results import check_output_path

    sets = {}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CLIError(f"--set expects key=value, got {item!r}")
        sets[key.strip()] = parse_value(value.strip())
    cls = _load_class("dynnet.studies", args.study)
    if args.config and _is_grid(cls):  # a grid config names the study it sweeps
        study = _apply_settings(build_grid(cls, args.config, quick=args.quick), sets)
    else:
        settings = _read_config(args.config) if args.config else {}
        settings.update(sets)
        study = build_study(args.study, quick=args.quick, settings=settings)
    out = Path(args.out) if args.out else _default_out(args.study, args.force)
    check_output_path(out, overwrite=args.force)  # before any computing
    ckpt = out.with_name(out.name + ".ckpt")
    args.checkpoint_path = ckpt  # for the stop message
    n_done = finished_chunks(ckpt)
    if args.resume:  # one command that starts or continues (a resubmitted cluster job)
        _status(args, f"--resume: continuing from {n_done} finished chunk(s) in {ckpt}" if n_done else
                f"--resume: no checkpoint {ckpt} to continue; starting the run")
    elif n_done and args.force:
        discard(ckpt)
        _status(args, f"--force: discarded the {n_done} finished chunk(s) in {ckpt}; starting afresh")
    elif n_done:
        raise CLIError(f"checkpoint {ckpt} holds {n_done} finished chunk(s) of an earlier run; nothing was "
                       "deleted: --resume continues it (--force discards them and starts afresh)")
    t0 = time.perf_counter()
    jobs = args.jobs if args.jobs is not None else (-1 if args.scheduler else 1)
    with _scheduler(args.scheduler):
        # the checkpoint outlives the run: save() removes it once the result file is in place
        study.run(n_jobs=jobs, progress=not args.quiet, checkpoint=ckpt, resume=args.resume,
                  chunk_size=args.chunk_size, keep_checkpoint=True)
    wall = time.perf_counter() - t0
    try:
        study.save(out, overwrite=args.force)
    except Exception as exc:  # noqa: BLE001 - every failed save says how to finish it
        kept = finished_chunks(ckpt)
        how = ""
        if isinstance(exc, FileExistsError) and out.exists():
            how = f"move {out} away (or add --force to replace it), then "
        if kept:
            raise SaveError(
                f"cannot write {out}: {_one_line(exc)}. The finished run is kept in the checkpoint {ckpt} "
                f"({kept} chunk(s)): {how}`{_finish_command(args, out)}` writes the result without "
                "computing it again") from exc
        raise SaveError(f"cannot write {out}: {_one_line(exc)} (this study keeps no chunks in a "
                        "checkpoint; run it again)") from exc
    if not args.quiet or not args.out:
        print(f"{type(study).__name__}: {wall:.1f} s; result written to {out}")
    print(format_summary(study.summary()))
    return 0


def _scheduler(address):
    if address is None:
        return contextlib.nullcontext()
    if not address.strip():
        raise CLIError("--scheduler '' is not an address; give the dask scheduler's address, e.g. "
                       "tcp://host:8786, or leave --scheduler out to run here")
    from . import parallel

    if not hasattr(parallel, "scheduler"):  # pragma: no cover - defensive
        raise CLIError("--scheduler needs dask.distributed support, which this dynnet lacks")
    return parallel.scheduler(address)


def cmd_plot(args: argparse.Namespace) -> int:
    """Write a result's figures as PNG files: ``STEM-1.png``, ``STEM-2.png``... beside the
    result file (no folder is made), or in the folder ``--out`` (made if missing). Every
    path is checked before anything is written; an existing file is replaced only with
    ``--force``."""
    from . import load
    from ._files import save_figure
    from .results import check_output_path

    result = Path(args.result)
    study = load(result)
    if args.out:
        outdir = Path(args.out)
        if outdir.exists() and not outdir.is_dir():
            raise CLIError(f"--out {outdir} exists and is not a folder")
        if not outdir.exists() and not outdir.parent.is_dir():
            raise CLIError(f"cannot make {outdir}: folder {outdir.parent} does not exist")
    else:
        outdir = result.parent  # beside the result: nothing new in the current folder
    figs = study.plot()
    paths = [outdir / f"{result.stem}-{i + 1}.png" for i in range(len(figs))]
    if outdir.is_dir():
        for path in paths:  # decide before writing anything
            try:
                check_output_path(path, overwrite=args.force)
            except FileExistsError as exc:
                raise CLIError(str(exc).replace("overwrite=True", "--force")) from None
    if not figs:
        print(f"dynnet: {type(study).__name__} has no figures", file=sys.stderr)
        return 0
    outdir.mkdir(exist_ok=True)  # only the folder the user named with --out can be new
    for fig, path in zip(figs, paths, strict=True):
        save_figure(fig, path, overwrite=args.force, dpi=110)  # temporary file, then os.replace
        print(path)
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    if args.dataset is not None and not args.followup:
        raise CLIError("--dataset chooses the data of --followup; add --followup (the paper's own "
                       "reproduction and --beyond have their datasets fixed)")
    if args.followup and args.beyond:
        raise CLIError("--followup and --beyond are two different tables; run them one at a time")
    if args.followup:
        from .followup import followup

        datasets = ("digits", "mnist1d") if args.dataset is None else (args.dataset,)
        followup(Path(args.out), datasets=datasets, quick=args.quick, n_jobs=args.jobs,
                 progress=not args.quiet, overwrite=args.force)
        return 0
    from .reproduce import reproduce

    reproduce(Path(args.out), quick=args.quick, n_jobs=args.jobs, progress=not args.quiet,
              overwrite=args.force, beyond=args.beyond)
    return 0


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dynnet", description=(
        "Study neural-network training as a dynamical system (Danovski, Soriano & Lacasa 2024)."))
    from ._version import __version__

    p.add_argument("--version", action="version", version=f"dynnet {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="studies, maps, estimators and plugins")
    ls.add_argument("--check", action="store_true",
                    help="also import each entry and report the ones that do not load")
    ls.set_defaults(func=cmd_list)
    _add_debug(ls)
    r = sub.add_parser("run", help="run a study and save its result (netCDF)")
    r.add_argument("study", help="a study name (see `dynnet list`), e.g. edge-of-stability")
    r.add_argument("--quick", action="store_true", help="the small preset (seconds to a minute)")
    r.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="a parameter, e.g. n_init=100 or map__eta=2.0 or map=sgd (values are literals)")
    r.add_argument("--config", help="a TOML file of parameters ([params] table or top level)")
    r.add_argument("--out", help="the result file (default: STUDY.nc, or the first free STUDY-2.nc, ... "
                   "if it exists); an existing one only with --force")
    r.add_argument("--force", action="store_true", help="replace an existing result file")
    r.add_argument("--jobs", type=int, default=None,
                   help="parallel workers (-1: all cores; default 1, or every worker with --scheduler)")
    r.add_argument("--chunk-size", type=int, default=None, metavar="N",
                   help="initial conditions per batch (default: chosen to fit memory)")
    r.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the chunks on a dask.distributed cluster, e.g. tcp://host:8786")
    r.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from its checkpoint (OUT.ckpt), or start it if "
                   "there is none yet (one line says which)")
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    r.set_defaults(func=cmd_run)
    _add_debug(r)
    pl = sub.add_parser("plot", help="figures of a saved result")
    pl.add_argument("result", help="a result file written by `dynnet run` or Study.save (netCDF)")
    pl.add_argument("--out", help="a folder for the PNGs, made if missing (default: beside the result, as "
                    "RESULT-1.png, RESULT-2.png, ...)")
    pl.add_argument("--force", action="store_true", help="replace existing figure files")
    pl.set_defaults(func=cmd_plot)
    _add_debug(pl)
    rp = sub.add_parser("reproduce", help="every figure of the paper and a table of headline numbers")
    rp.add_argument("--quick", action="store_true",
                    help="the quick presets: checks the pipeline in seconds; numbers not comparable")
    rp.add_argument("--out", required=True,
                    help="output directory: results (*.nc), figures/ and headline.md / headline.csv")
    rp.add_argument("--jobs", type=int, default=1, help="parallel workers (-1: all cores)")
    rp.add_argument("--force", action="store_true", help="replace the files of an earlier reproduction")
    rp.add_argument("--beyond", action="store_true",
                    help="instead, the paper's open questions answered by rule (beyond.md / beyond.csv)")
    rp.add_argument("--followup", action="store_true",
                    help="instead, the protocol of the follow-up paper (arXiv:2506.08523): lambda_nMLE "
                    "and the time to a test-accuracy threshold at 16 learning rates (followup.md / "
                    "followup.csv); with --quick the reduced preset CI runs")
    rp.add_argument("--dataset", choices=("digits", "mnist1d", "mnist"), default=None,
                    help="with --followup: one dataset (default: digits and mnist1d, both offline; mnist is "
                    "fetched once into the user's cache, ~/.cache/dynnet)")
    rp.add_argument("--quiet", action="store_true", help="no progress bars")
    rp.set_defaults(func=cmd_reproduce)
    _add_debug(rp)
    return p


def _add_debug(parser):
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The ``dynnet`` command; returns the exit status.

    Errors are one line ``dynnet: error: ...`` on stderr: status 2 for usage
    (bad parameters, options or paths), 1 for failures at run time (disk,
    memory, a checkpoint in use); ``--debug`` shows the traceback.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
    """
    import matplotlib

    matplotlib.use("Agg")
    parser = make_parser()
    args = parser.parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    import signal

    from .parallel import Terminated
    from .results import ResultFileError

    def _sigterm(signum, frame):  # SIGTERM stops a run like Ctrl-C, with the same one line
        raise Terminated(signum)

    try:
        signal.signal(signal.SIGTERM, _sigterm)
    except ValueError:  # pragma: no cover - not the main thread
        pass
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        with _warnings_for(args):
            return args.func(args)
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", None)
        print(f"dynnet: {'stopped by SIGTERM' if signum else 'interrupted'}{_stop_hint(args)}",
              file=sys.stderr)
        return 128 + int(signum) if signum else 130
    except (CLIError, ValueError, TypeError, KeyError, FileExistsError, FileNotFoundError,
            NotADirectoryError, IsADirectoryError, ResultFileError) as exc:
        if debug:
            raise
        print(f"dynnet: error: {_cli_speak(_one_line(exc))}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line (the traceback: --debug)
        if debug:
            raise
        print(f"dynnet: error: {_cli_speak(_one_line(exc))}", file=sys.stderr)
        return 1


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as the command line says it: one line, without the internal file and line."""
    print(f"dynnet: warning: {' '.join(str(message).split())}", file=sys.stderr if file is None else file)


@contextlib.contextmanager
def _warnings_for(args: argparse.Namespace):
    """Warnings as one line each ``dynnet: warning: ...``; with ``--quiet`` none at all, in worker
    processes too (they inherit ``PYTHONWARNINGS``)."""
    import os
    import warnings

    quiet = bool(getattr(args, "quiet", False))
    old = os.environ.get("PYTHONWARNINGS")
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore")
            os.environ["PYTHONWARNINGS"] = "ignore"
            from . import _numba_cache

            _numba_cache.QUIET = True  # no "compiling the engine" line either
        else:
            warnings.showwarning = _show_warning
        try:
            yield
        finally:
            if quiet:
                if old is None:
                    os.environ.pop("PYTHONWARNINGS", None)
                else:
                    os.environ["PYTHONWARNINGS"] = old


def _stop_hint(args: argparse.Namespace) -> str:
    """What a stopped command leaves: "--resume continues" only where a checkpoint holds chunks."""
    from .checkpoint import finished_chunks

    ckpt = getattr(args, "checkpoint_path", None)
    if ckpt is None:  # not a run (reproduce, plot, list): nothing to resume
        return ""
    n = finished_chunks(ckpt)
    if n:
        return f"; {n} finished chunk(s) are in the checkpoint {ckpt} (--resume continues)"
    return "; no chunk had finished, so there is nothing to resume"


def _cli_speak(text: str) -> str:
    """Messages of the Python API, as the command line says them (``overwrite=True`` is ``--force``)."""
    for python, cli in (("overwrite=True", "--force"), ("resume=True", "--resume"),
                        ("dynnet.checkpoint.discard(path) starts afresh",
                         "--force without --resume starts afresh")):
        text = text.replace(python, cli)
    return text


def _one_line(exc: BaseException) -> str:
    text = str(exc) if not isinstance(exc, KeyError) else f"missing key {exc}"
    if isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    if isinstance(exc, MemoryError) and not str(exc):
        text = "out of memory; lower n_init, n_steps or the map's size"
    text = " ".join(text.split()) or type(exc).__name__
    while text.startswith("dynnet: "):  # messages of dynnet's own helpers already say who speaks
        text = text[len("dynnet: "):]
    return text if len(text) < 2000 else text[:2000] + " ..."


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
