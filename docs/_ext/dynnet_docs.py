"""Sphinx extension of the dynnet docs: run code at build time, show its figures.

``dynnet-run`` executes a block of Python when the page is read, shows the
code, what it printed, and the figures it made, saved as PNG files under
``docs/generated/figures`` (gitignored). The figures of the tutorials are
therefore made from the code on the page by the dynnet being documented;
nothing is checked in, nothing can go stale::

    .. dynnet-run:: edge-quick

       import dynnet as dn
       study = dn.EdgeOfStabilityStudy.quick().run()
       print(study.summary())

Options

``:figures:`` a Python expression evaluated after the code, giving a Figure or
    a list of Figures; the default is ``study.plot()`` when the code defines
    ``study``, else no figures; ``none`` for no figures.
``:hide-code:`` / ``:hide-output:`` do not show the code / what it printed.
``:width:`` width of the figures (default ``100%``).

Blocks of one page share a namespace and run, in order, in a temporary
working directory (so ``study.save("x.nc")`` writes nowhere in the checkout).
An exception is reported as a Sphinx warning at the block (an error under
``-W``), so a broken study breaks the docs build. Pages holding a block are
re-read on every build, so their output is always that of the current code.

``dynnet-cli-help`` shows the ``--help`` text of the ``dynnet`` command or one
of its sub-commands, taken from the parser itself::

    .. dynnet-cli-help:: run
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import tempfile
import time
import traceback
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

# per document: the shared namespace and working directory of its blocks
_PAGES: dict[str, dict] = {}


def _page(docname: str) -> dict:
    page = _PAGES.get(docname)
    if page is None:
        page = {"ns": {"__name__": "__main__"}, "tmp": tempfile.TemporaryDirectory(prefix="dynnet-docs-")}
        _PAGES[docname] = page
    return page


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "block"


class DynnetRun(SphinxDirective):
    has_content = True
    required_arguments = 1
    option_spec = {
        "figures": directives.unchanged,
        "hide-code": directives.flag,
        "hide-output": directives.flag,
        "width": directives.unchanged,
    }

    def run(self):
        env = self.env
        env.dynnet_run_docs.add(env.docname)
        name = _slug(self.arguments[0])
        code = "\n".join(self.content)
        page = _page(env.docname)
        ns = page["ns"]
        out: list[nodes.Node] = []
        if "hide-code" not in self.options:
            block = nodes.literal_block(code, code, language="python")
            out.append(block)
        stdout = io.StringIO()
        figs = []
        t0 = time.perf_counter()
        old = os.getcwd()
        try:
            os.chdir(page["tmp"].name)
            with contextlib.redirect_stdout(stdout):
                exec(compile(code, f"<{env.docname}: {name}>", "exec"), ns)
                expr = self.options.get("figures")
                if expr is None and "study" in ns:
                    expr = "study.plot()"
                if expr and expr.strip().lower() != "none":
                    value = eval(compile(expr, f"<{env.docname}: {name} figures>", "eval"), ns)
                    figs = value if isinstance(value, (list, tuple)) else [value]
        except Exception as exc:  # noqa: BLE001 - reported as a build warning
            tb = traceback.format_exc(limit=-3)
            logger.warning("dynnet-run %r failed: %s: %s\n%s", name, type(exc).__name__, exc, tb,
                           location=self.get_location())
            return out
        finally:
            os.chdir(old)
        wall = time.perf_counter() - t0
        logger.info("dynnet-run %s:%s: %.1f s, %d figure(s)", env.docname, name, wall, len(figs))
        text = stdout.getvalue().rstrip()
        if text and "hide-output" not in self.options:
            out.append(nodes.literal_block(text, text, language="none", classes=["dynnet-output"]))
        figdir = Path(env.srcdir) / env.config.dynnet_figure_dir
        figdir.mkdir(parents=True, exist_ok=True)
        stem = f"{_slug(env.docname)}-{name}"
        rst = []
        width = self.options.get("width", "100%")
        for k, fig in enumerate(figs, start=1):
            fname = f"{stem}-{k}.png"
            fig.savefig(figdir / fname, dpi=env.config.dynnet_figure_dpi)
            rst += [f".. figure:: /{env.config.dynnet_figure_dir}/{fname}", f"   :width: {width}",
                    f"   :alt: figure {k} of {name}", ""]
        if rst:
            container = nodes.container(classes=["dynnet-figures"])
            self.state.nested_parse(StringList(rst, source=env.docname), self.content_offset,
                                    container)
            out.append(container)
        return out


class DynnetCliHelp(SphinxDirective):
    has_content = False
    optional_arguments = 1

    def run(self):
        from dynnet.cli import make_parser

        old = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = "92"  # argparse wraps to the terminal width
        try:
            parser = make_parser()
            text = parser.format_help()
            sub_help = {name: p.format_help() for a in parser._actions
                        if isinstance(a, argparse._SubParsersAction)
                        for name, p in a.choices.items()}
        finally:
            if old is None:
                os.environ.pop("COLUMNS", None)
            else:
                os.environ["COLUMNS"] = old
        if self.arguments:
            sub = self.arguments[0]
            if sub not in sub_help:
                logger.warning("dynnet-cli-help: no sub-command %r (have %s)", sub, sorted(sub_help),
                               location=self.get_location())
                return []
            text = sub_help[sub]
        text = text.rstrip()
        return [nodes.literal_block(text, text, language="none")]


class DynnetHeadline(SphinxDirective):
    """``.. dynnet-headline:: headline.csv``: the headline table of a ``dynnet reproduce``
    run, rendered from its CSV (so the published table cannot drift from the output).

    Option ``:columns:`` lists the CSV columns to show (default: quantity, paper,
    dynnet, verdict, rule, note); ``:keys:`` a comma-separated prefix filter.
    """

    required_arguments = 1
    option_spec = {"columns": directives.unchanged, "keys": directives.unchanged}

    def run(self):
        import csv

        rel, path = self.env.relfn2path(self.arguments[0])
        self.env.note_dependency(rel)
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        default = "quantity,paper,dynnet,verdict,rule,note"
        cols = [c.strip() for c in self.options.get("columns", default).split(",")]
        prefixes = [k.strip() for k in self.options.get("keys", "").split(",") if k.strip()]
        if prefixes:
            rows = [r for r in rows if any(r["key"].startswith(p) for p in prefixes)]
        table = nodes.table()
        group = nodes.tgroup(cols=len(cols))
        table += group
        for _ in cols:
            group += nodes.colspec(colwidth=1)
        head = nodes.thead()
        group += head
        head += self._row(cols)
        body = nodes.tbody()
        group += body
        for r in rows:
            body += self._row([r.get(c, "") for c in cols])
        return [table]

    @staticmethod
    def _row(cells):
        row = nodes.row()
        for text in cells:
            entry = nodes.entry()
            entry += nodes.paragraph(text=text)
            row += entry
        return row


# ---- bookkeeping: re-read pages with blocks on every build --------------------

def _init_env(app, env, docnames):
    if not hasattr(env, "dynnet_run_docs"):
        env.dynnet_run_docs = set()


def _purge(app, env, docname):
    if hasattr(env, "dynnet_run_docs"):
        env.dynnet_run_docs.discard(docname)
    page = _PAGES.pop(docname, None)
    if page is not None:
        page["tmp"].cleanup()


def _outdated(app, env, added, changed, removed):
    return sorted(getattr(env, "dynnet_run_docs", set()) - set(removed))


def _merge(app, env, docnames, other):
    env.dynnet_run_docs |= getattr(other, "dynnet_run_docs", set())


def _doc_read(app, doctree):
    page = _PAGES.pop(app.env.docname, None)
    if page is not None:
        page["tmp"].cleanup()


#: ``:hl:`0.321 <edge.mle[eps=1e-14]>``` shows "0.321"; the key ties the number to a row of
#: the headline table that ``dynnet reproduce`` writes (tests/test_published_numbers.py checks it)
_HEADLINE = re.compile(r"^(?P<shown>.*?)\s*<(?P<key>[^<>]+)>$", re.S)


def _headline_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    m = _HEADLINE.match(text)
    if m is None:
        msg = inliner.reporter.error(f":hl: needs 'number <key>', got {text!r}", line=lineno)
        return [inliner.problematic(rawtext, rawtext, msg)], [msg]
    return [nodes.Text(m.group("shown"))], []


def setup(app):
    app.add_config_value("dynnet_figure_dir", "generated/figures", "env")
    app.add_config_value("dynnet_figure_dpi", 80, "env")
    app.add_directive("dynnet-run", DynnetRun)
    app.add_directive("dynnet-cli-help", DynnetCliHelp)
    app.add_role("hl", _headline_role)
    app.add_directive("dynnet-headline", DynnetHeadline)
    app.connect("env-before-read-docs", _init_env)
    app.connect("env-purge-doc", _purge)
    app.connect("env-get-outdated", _outdated)
    app.connect("env-merge-info", _merge)
    app.connect("doctree-read", _doc_read)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True,
            "env_version": 1}
