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


def inject_parameters(nb: Any, parameters: Mapping[str, Any]) -> Any:
    """Insert a cell assigning ``parameters`` right after the cell tagged ``parameters``
    (papermill's convention), so the same notebooks run under papermill too."""
    if not parameters:
        return nb
    index = next(
        (
            i
            for i, c in enumerate(nb.cells)
            if "parameters" in c.get("metadata", {}).get("tags", [])
        ),
        None,
    )
    if index is None:
        return nb
    source = "# Parameters of this run\n" + "\n".join(f"{k} = {v!r}" for k, v in parameters.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(index + 1, cell)
    return nb


def execute_notebook(
    path: Path,
    *,
    parameters: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: int = 900,
) -> NotebookRun:
    """Execute one notebook in a fresh kernel with its folder as working directory."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    nb = inject_parameters(nb, dict(parameters or {}))
    started = time.perf_counter()
    saved = dict(os.environ)
    try:
        os.environ.update(env or {})
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        )
        client.execute()
    except CellExecutionError as exc:
        cell_no = _failed_cell(nb)
        first = str(exc).strip().splitlines()
        detail = next((ln for ln in reversed(first) if ln.strip()), "error")
        raise ReportError(f"notebook {path.name} failed in cell {cell_no}: {detail}") from exc
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return NotebookRun(path, nb, time.perf_counter() - started, dict(parameters or {}))


def _failed_cell(nb: Any) -> int | str:
    code_no = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        code_no += 1
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return f"#{code_no} (code cell), starting {cell.source.strip().splitlines()[0]!r}"
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


def build_report(
    out_dir: str | Path = "reports",
    *,
    notebooks: str | Path | None = None,
    parameters: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    show_code: bool = False,
    footer_html: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Execute every numbered notebook and write ``out_dir/regionstats-report.html``.

    The executed notebooks are saved beside it in ``out_dir/notebooks/``. On failure nothing in
    ``out_dir`` is replaced and :class:`ReportError` names the notebook and cell.
    """
    out = Path(out_dir)
    paths = find_notebooks(notebooks)
    say = progress or (lambda _msg: None)
    runs = run_notebooks(paths, parameters=parameters, env=env, progress=say)
    say("rendering the HTML report ...")
    document, figures = render_report(
        runs,
        footer_html=default_footer() if footer_html is None else footer_html,
        show_code=show_code,
    )
    target = out / REPORT_NAME
    for run in runs:
        atomic_write_text(out / "notebooks" / run.path.name, nbformat.writes(run.notebook))
    atomic_write_text(target, document)
    say(f"wrote {target} ({len(document) / 1e6:.1f} MB, {figures} figures)")
    return target
