"""Run the notebooks and render one self-contained HTML report (orchestration, no analysis).

The report embeds plotly.js once (readable offline, sent by mail or put on an intranet), draws
every figure from its JSON output, starts with a table of contents and ends with a footer naming
sources, licences and the run. A run that fails leaves the previous report untouched and names the
notebook and the cell that failed.
"""

from __future__ import annotations

import copy
import html
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from regionstats import config

PLOTLY_MIME = "application/vnd.plotly.v1+json"
REPORT_NAME = "regionstats-report.html"
NOTEBOOK_PATTERN = re.compile(r"^\d{2}_[A-Za-z0-9_]+\.ipynb$")


class ReportError(RuntimeError):
    """A notebook failed, or the report could not be written; the previous report is kept."""


@dataclass
class NotebookRun:
    """One executed notebook."""

    path: Path
    notebook: Any
    seconds: float
    parameters: dict[str, Any] = field(default_factory=dict)


def find_notebooks(folder: str | Path | None = None) -> list[Path]:
    """The numbered notebooks (``NN_name.ipynb``) of ``folder`` in order.

    Default folder: ``notebooks/`` in the current directory or the project root.
    """
    if folder is None:
        candidates = [Path.cwd() / "notebooks", config.PROJECT_ROOT / "notebooks"]
        folder = next((c for c in candidates if c.is_dir()), candidates[0])
    folder = Path(folder)
    if not folder.is_dir():
        raise ReportError(f"notebook folder {folder} does not exist")
    found = sorted(p for p in folder.iterdir() if NOTEBOOK_PATTERN.match(p.name))
    if not found:
        raise ReportError(f"no numbered notebooks (NN_name.ipynb) in {folder}")
    return found


def execute_notebook(
    path: Path,
    *,
    parameters: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: int = 900,
) -> NotebookRun:
    """Execute one notebook with **papermill** in a fresh kernel, its folder as working
    directory: ``parameters`` are injected after the cell tagged ``parameters`` exactly as
    ``papermill NOTEBOOK OUT -p name value`` does. Only parameters the notebook declares are
    passed (others would be ignored with a warning by papermill)."""
    import logging

    import papermill
    from papermill.exceptions import PapermillExecutionError

    declared = parameter_names(path)
    params = {k: v for k, v in dict(parameters or {}).items() if k in declared}
    started = time.perf_counter()
    saved = dict(os.environ)
    logging.getLogger("papermill").setLevel(logging.WARNING)
    try:
        os.environ.update(env or {})
        nb = papermill.execute_notebook(
            str(path),
            None,
            parameters=params,
            kernel_name="python3",
            progress_bar=False,
            cwd=str(path.parent),
            execution_timeout=timeout,
        )
    except PapermillExecutionError as exc:
        detail = f"{exc.ename}: {exc.evalue}".strip().splitlines()[0]
        raise ReportError(
            f"notebook {path.name} failed in cell {_code_cell(path, exc.source)}: {detail}"
        ) from exc
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return NotebookRun(path, nb, time.perf_counter() - started, params)


def _code_cell(path: Path, source: str) -> str:
    """``#k (code cell), starting ...`` for the code cell of ``path`` with this ``source``."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    for k, cell in enumerate(code, start=1):
        if cell.source.strip() == (source or "").strip():
            first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
            return f"#{k} (code cell), starting {first!r}"
    return "?"


def _plotly_html(figure_json: Mapping[str, Any], div_id: str) -> str:
    spec = json.dumps(
        {
            "data": figure_json.get("data", []),
            "layout": figure_json.get("layout", {}),
            "config": {"responsive": True, "displaylogo": False, **figure_json.get("config", {})},
        }
    ).replace("</", "<\\/")
    return (
        f'<div id="{div_id}" class="regionstats-figure" style="width:100%;height:480px"></div>'
        f'<script type="application/json" id="{div_id}-spec">{spec}</script>'
        f"<script>(function(){{var s=JSON.parse(document.getElementById('{div_id}-spec')"
        f".textContent);Plotly.newPlot('{div_id}',s.data,s.layout,s.config);}})();</script>"
    )


def _figures_to_html(nb: Any, prefix: str) -> int:
    """Replace plotly JSON outputs with HTML that draws them with the embedded plotly.js."""
    count = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if PLOTLY_MIME in data:
                count += 1
                out["data"] = {"text/html": _plotly_html(data[PLOTLY_MIME], f"{prefix}-fig{count}")}
    return count


def _slug(text: str) -> str:
    return re.sub(r"[^\w-]", "", re.sub(r"\s+", "-", text.strip()))


def _headings(nb: Any) -> list[tuple[int, str]]:
    found = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            m = re.match(r"^(#{1,2})\s+(.+?)\s*$", line)
            if m:
                found.append((len(m.group(1)), m.group(2)))
    return found


def render_report(
    runs: Sequence[NotebookRun],
    *,
    title: str = "regionstats report",
    footer_html: str = "",
    show_code: bool = False,
) -> tuple[str, int]:
    """One HTML document from executed notebooks; returns the HTML and the number of figures."""
    from nbconvert import HTMLExporter
    from plotly.offline import get_plotlyjs

    combined = nbformat.v4.new_notebook()
    combined.metadata = runs[0].notebook.metadata if runs else {}
    figures = 0
    for i, run in enumerate(runs, start=1):
        nb = copy.deepcopy(run.notebook)
        for j, cell in enumerate(nb.cells):
            cell["id"] = f"nb{i}-{j}"  # cell ids must stay unique in the combined notebook
        figures += _figures_to_html(nb, f"nb{i}")
        combined.cells.extend(nb.cells)
    toc = ["## Contents", ""]
    for level, text in _headings(combined):
        indent = "  " * (level - 1)
        toc.append(f"{indent}- [{text}](#{_slug(text)})")
    combined.cells.insert(0, nbformat.v4.new_markdown_cell("\n".join(toc)))
    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = not show_code
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(combined, resources={"metadata": {"name": title}})
    # require.js from a CDN is only for widgets; plotly.js is global here. Dropping it keeps the
    # report from asking the network for a script it does not need (MathJax stays: formulas).
    body = re.sub(r'<script src="[^"]*/require(?:\.min)?\.js"></script>\s*', "", body)
    # MathJax from a CDN would be the report's only network request; the notebooks write
    # formulas as plain text, so it is dropped too.
    body = re.sub(
        r"<!-- Load mathjax -->.*?init_mathjax\(\);\s*</script>", "", body, count=1, flags=re.S
    )
    plotly_js = f"<script>{get_plotlyjs()}</script>"
    body = body.replace("<head>", f"<head>\n{plotly_js}", 1)
    body = re.sub(r"<title>.*?</title>", f"<title>{html.escape(title)}</title>", body, count=1)
    footer = (
        '<footer id="regionstats-footer" style="margin:2em;font-size:0.85em">'
        f"{footer_html}</footer>"
    )
    body = body.replace("</body>", f"{footer}\n</body>", 1)
    return body, figures


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` via a temporary file and a rename: never half-written."""
    from regionstats.sources.processed import atomic_write_bytes

    atomic_write_bytes(Path(path), text.encode("utf-8"))


def default_footer(extra: str = "") -> str:
    from regionstats import __version__

    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return (
        f"<p>Generated {stamp} by regionstats {html.escape(__version__)}. "
        "Sources: Statistics Norway (SSB), statbank table 11713 and KLASS classifications "
        "128/131/104, "
        "licence CC BY 4.0 (Kilde: Statistisk sentralbyrå); Kartverket boundaries, CC BY 4.0. "
        "Figures by centrality class are estimates (see their method notes).</p>"
        f"{extra}"
    )


def run_notebooks(
    paths: Sequence[Path],
    *,
    parameters: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[NotebookRun]:
    """Execute ``paths`` in order (plotly figures as JSON outputs); stop at the first failure.

    Raises :class:`ReportError` naming the notebook and the cell that failed.
    """
    kernel_env = {"PLOTLY_RENDERER": "plotly_mimetype", **dict(env or {})}
    say = progress or (lambda _msg: None)
    runs: list[NotebookRun] = []
    for i, path in enumerate(paths, start=1):
        say(f"[{i}/{len(paths)}] running {path.name} ...")
        run = execute_notebook(path, parameters=parameters, env=kernel_env)
        say(f"[{i}/{len(paths)}] {path.name} done in {run.seconds:.1f} s")
        runs.append(run)
    return runs


def parameter_names(path: Path) -> set[str]:
    """Names assigned in the ``parameters``-tagged cell(s) of a notebook (empty if none)."""
    import ast

    nb = nbformat.read(path, as_version=4)
    names: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type != "code" or "parameters" not in cell.get("metadata", {}).get("tags", []):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError as exc:
            raise ReportError(
                f"notebook {path.name}: parameters cell is not valid Python: {exc}"
            ) from None
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
    return names


def prepare_inputs(
    paths: Sequence[Path],
    folder: Path,
    parameters: Mapping[str, Any] | None,
    *,
    offline: bool | None = None,
    snapshot: str | Path | None = None,
    data_dir: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> Any:
    """Load every input once (:func:`regionstats.load_inputs`) and save it to ``folder`` for
    the notebooks that declare an ``inputs_from`` parameter; ``None`` if none does."""
    if not any("inputs_from" in parameter_names(p) for p in paths):
        return None
    from regionstats.sources.inputs import load_inputs, save_inputs

    say = progress or (lambda _msg: None)
    say("loading the inputs (live API, stored vintages, snapshot or embedded default) ...")
    inputs = load_inputs(parameters, offline=offline, snapshot=snapshot, data_dir=data_dir)
    for line in inputs.describe().splitlines():
        say(f"  {line}")
    save_inputs(inputs, folder)
    return inputs


def build_report(
    out_dir: str | Path = "reports",
    *,
    notebooks: str | Path | None = None,
    parameters: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    show_code: bool = False,
    footer_html: str | None = None,
    progress: Callable[[str], None] | None = None,
    offline: bool | None = None,
    snapshot: str | Path | None = None,
) -> Path:
    """Execute every numbered notebook and write ``out_dir/regionstats-report.html``.

    The inputs are loaded once and saved in ``out_dir/inputs/`` (every notebook reads them
    through its ``inputs_from`` parameter); the executed notebooks are saved in
    ``out_dir/notebooks/``. On failure the previous report is kept and :class:`ReportError`
    names the notebook and cell.
    """
    from regionstats.sources.inputs import InputUnavailable

    out = Path(out_dir)
    paths = find_notebooks(notebooks)
    say = progress or (lambda _msg: None)
    params = dict(parameters or {})
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".inputs-", dir=out))
    try:
        try:
            inputs = prepare_inputs(
                paths, staging, params, offline=offline, snapshot=snapshot, progress=say
            )
        except InputUnavailable as exc:
            raise ReportError(str(exc)) from exc
        if inputs is not None:
            params["inputs_from"] = str(staging.resolve())
        runs = run_notebooks(paths, parameters=params, env=env, progress=say)
        say("rendering the HTML report ...")
        footer = footer_html
        if footer is None:
            footer = default_footer(inputs_html(inputs) if inputs is not None else "")
        document, figures = render_report(runs, footer_html=footer, show_code=show_code)
        target = out / REPORT_NAME
        for run in runs:
            atomic_write_text(out / "notebooks" / run.path.name, nbformat.writes(run.notebook))
        atomic_write_text(target, document)
        if inputs is not None:
            final = out / "inputs"
            shutil.rmtree(final, ignore_errors=True)
            staging.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    say(f"wrote {target} ({len(document) / 1e6:.1f} MB, {figures} figures)")
    return target


def inputs_html(inputs: Any) -> str:
    """A small HTML table of which source served each input (for the footer)."""

    def cell(value: Any) -> str:
        return f"<td>{html.escape(str(value)) if isinstance(value, str) else ''}</td>"

    rows = "".join(
        "<tr>"
        + "".join(cell(v) for v in (r.input, r.source, r.location, r.vintage))
        + cell(r.sha256[:16] if isinstance(r.sha256, str) else None)
        + "</tr>"
        for r in inputs.sources.itertuples()
    )
    return (
        "<h3>Inputs of this run</h3><table><tr><th>input</th><th>source</th><th>from</th>"
        f"<th>vintage</th><th>sha256</th></tr>{rows}</table>"
    )
