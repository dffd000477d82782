"""Run the notebooks and render one self-contained HTML report (orchestration, no analysis).

The report embeds plotly.js once (readable offline, sent by mail or put on an intranet): the
smallest well-kept bundle that draws every trace type of the report (:func:`plotly_js`). It draws
every figure from its JSON output, sends every polygon ring of the maps once however many panels
and maps draw it (:func:`share_rings`), starts with a table of contents and ends with a footer
naming sources, licences and the run. A run that fails leaves the previous report untouched and
names the notebook and the cell that failed.

Kernels run quietly: their own log (``Kernel is running over TCP without encryption`` and the
like) goes to a temporary file, quoted only when a kernel dies. :func:`kill_kernels` ends every
kernel still running (the command line calls it on Ctrl-C).
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import hashlib
import html
import json
import os
import re
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import nbformat

from regionstats import config

PLOTLY_MIME = "application/vnd.plotly.v1+json"
REPORT_NAME = "regionstats-report.html"
NOTEBOOK_PATTERN = re.compile(r"^\d{2}_[A-Za-z0-9_]+\.ipynb$")
FOOTER_START = '<footer id="regionstats-footer"'

#: plotly.js partial bundles shipped in ``regionstats/data`` (see ``data/PLOTLYJS.md``), smallest
#: first, with the trace types each one draws.
PLOTLY_BUNDLES: tuple[tuple[str, frozenset[str]], ...] = (
    ("basic", frozenset({"bar", "pie", "scatter"})),
    (
        "cartesian",
        frozenset(
            {
                "bar",
                "box",
                "contour",
                "heatmap",
                "histogram",
                "histogram2d",
                "histogram2dcontour",
                "image",
                "pie",
                "scatter",
                "scatterternary",
                "violin",
            }
        ),
    ),
)
#: A trace with at least this many points, in ``None``-separated rings, has its rings shared.
MIN_SHARED_POINTS = 100


class ReportError(RuntimeError):
    """A notebook failed, or the report could not be written; the previous report is kept."""


@dataclass
class NotebookRun:
    """One executed notebook."""

    path: Path
    notebook: Any
    seconds: float
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CellProgress:
    """A code cell starts (``done`` False) or a notebook has finished (``done`` True).

    ``position``/``notebooks``: the notebook's place in the run (1-based) and how many there
    are; ``cell``/``cells``: the code cell starting (1-based) and the notebook's code cells;
    ``source``: the cell's first non-empty line.
    """

    notebook: str
    position: int
    notebooks: int
    cell: int
    cells: int
    source: str = ""
    done: bool = False


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


#: Kernel processes started by :func:`execute_notebook` and not yet shut down.
_LIVE_KERNELS: list[Any] = []


#: Set when the kernels are being stopped on purpose (Ctrl-C, or another notebook of the run
#: failed): a kernel that dies then is not started again.
_STOPPING = threading.Event()


def kill_kernels() -> int:
    """Kill (SIGKILL, whole process group) every kernel this process started that still runs;
    return how many. Safe to call from a signal handler."""
    _STOPPING.set()
    killed = 0
    for process in list(_LIVE_KERNELS):
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                pass
    return killed


def _quiet_kernel_manager(
    log: IO[bytes],
    started: list[Any],
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
) -> type:
    """An ``AsyncKernelManager`` whose kernels write their own stdout/stderr to ``log`` (not the
    terminal), start in ``cwd`` with this process's environment updated by ``env`` (this
    process's own working directory and environment are left alone, so notebooks can run side
    by side) and are registered for :func:`kill_kernels`."""
    from jupyter_client import AsyncKernelManager

    kernel_env = {**os.environ, **dict(env or {})}

    class QuietKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            kw.setdefault("stdout", log)
            kw.setdefault("stderr", log)
            kw.setdefault("env", dict(kernel_env))
            if cwd is not None:
                kw.setdefault("cwd", str(cwd))
            await super().start_kernel(**kw)
            process = getattr(self.provisioner, "process", None)
            if process is not None:
                started.append(process)
                _LIVE_KERNELS.append(process)

    return QuietKernelManager


#: What a pooled kernel imports while it waits for its notebook: the package every notebook
#: imports first, and plotly's renderers (their first import probes optional packages: about
#: 1 s, paid at a notebook's first figure otherwise). The names are deleted again, so the
#: notebook's namespace is a fresh kernel's.
PRELOAD = (
    "import regionstats as _regionstats_preload, plotly.io._renderers as _renderers_preload; "
    "del _regionstats_preload, _renderers_preload"
)


@dataclass
class PooledKernel:
    """A started kernel waiting for a notebook: its manager, its log file and its process."""

    manager: Any
    log: IO[bytes]
    processes: list[Any]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None

    def discard(self) -> None:
        """Kill the kernel (if it still runs) and close its log."""
        _kill(self.processes)
        for process in self.processes:
            if process in _LIVE_KERNELS:
                _LIVE_KERNELS.remove(process)
        from jupyter_core.utils import run_sync

        with contextlib.suppress(Exception):  # the connection file, the control socket
            run_sync(self.manager.cleanup_resources)()
        self.log.close()


class KernelPool:
    """Kernels started ahead of the notebooks that will use them (a warm pool).

    A kernel boots (Python, ipykernel, ``import regionstats``: about 1.5 s on the development
    machine) while the run is still preparing its inputs or another notebook is running, so a
    notebook finds its kernel ready. Every notebook still gets a fresh kernel of its own, used
    once: same environment (``env`` over this process's), same working directory (``cwd``),
    an empty namespace (the preload binds no name), execution counts from 1.

    Use as a context manager (or call :meth:`close`): kernels never taken are killed.
    """

    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        preload: str | None = PRELOAD,
    ) -> None:
        import threading

        self.env = {"PLOTLY_RENDERER": "plotly_mimetype", **dict(env or {})}
        self.cwd = str(cwd) if cwd is not None else None
        self.preload = preload
        self._ready: list[PooledKernel] = []
        self._lock = threading.Lock()

    def __enter__(self) -> KernelPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def ready(self) -> int:
        """Kernels started and not yet taken."""
        with self._lock:
            return len(self._ready)

    def start(self, n: int = 1) -> None:
        """Start ``n`` kernels now (returns once their processes are launched, not booted)."""
        for _ in range(max(0, n)):
            kernel = self._launch()
            with self._lock:
                self._ready.append(kernel)

    def take(self) -> PooledKernel:
        """A started kernel (the oldest waiting, else a new one) that the caller now owns."""
        with self._lock:
            if self._ready:
                return self._ready.pop(0)
        return self._launch()

    def close(self) -> None:
        """Kill every kernel started and not taken."""
        with self._lock:
            ready, self._ready = self._ready, []
        for kernel in ready:
            kernel.discard()

    def _launch(self) -> PooledKernel:
        from jupyter_core.utils import run_sync

        log = tempfile.TemporaryFile(prefix="regionstats-kernel-")  # noqa: SIM115 - kept open
        processes: list[Any] = []
        manager = _quiet_kernel_manager(log, processes, self.env, self.cwd)(kernel_name="python3")
        extra = [f"--IPKernelApp.exec_lines={[self.preload]!r}"] if self.preload else []
        try:
            run_sync(manager.start_kernel)(extra_arguments=extra)
        except Exception as exc:
            log.close()
            raise ReportError(
                f"a notebook kernel did not start ({type(exc).__name__}: {exc})"
            ) from exc
        return PooledKernel(manager, log, processes, env=self.env, cwd=self.cwd)


def _engine() -> str:
    """Register (idempotently) and name the papermill engine that reports cell starts."""
    from papermill.engines import NBClientEngine, papermill_engines

    class ProgressEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> Any:
            hook = kwargs.pop("regionstats_on_cell", None)
            if hook is not None:
                original = nb_man.cell_start

                def cell_start(cell: Any, cell_index: int | None = None, **kw: Any) -> Any:
                    hook(cell_index if cell_index is not None else -1, cell)
                    return original(cell, cell_index, **kw)

                nb_man.cell_start = cell_start
            if kwargs.get("km") is None:
                return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
            # A pooled kernel: as papermill's NBClientEngine, but the client shuts the kernel
            # down at the end as it does a kernel it started itself (it does not by default
            # when it is handed the kernel manager).
            from papermill.clientwrap import PapermillNotebookClient
            from papermill.log import logger
            from papermill.utils import merge_kwargs, remove_args

            start_timeout = kwargs.pop("start_timeout", 60)
            execution_timeout = kwargs.pop("execution_timeout", None)
            kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
            final = merge_kwargs(
                kwargs,
                timeout=execution_timeout,
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=logger,
            )
            return PapermillNotebookClient(nb_man, **final).execute(cleanup_kc=True)

    papermill_engines.register("regionstats", ProgressEngine)
    return "regionstats"


def _first_line(source: str) -> str:
    return next((line.strip() for line in source.splitlines() if line.strip()), "")


def _tail(log: IO[bytes], lines: int = 5) -> str:
    try:
        log.seek(0)
        text = log.read().decode("utf-8", "replace")
    except (OSError, ValueError):
        return ""
    kept = [line for line in text.splitlines() if line.strip()][-lines:]
    return "\n".join(kept)


def execute_notebook(
    path: Path,
    *,
    parameters: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: int = 900,
    cwd: str | Path | None = None,
    on_cell: Callable[[int, int, str], None] | None = None,
    kernel: PooledKernel | None = None,
) -> NotebookRun:
    """Execute one notebook with **papermill** in a fresh kernel, its folder (or ``cwd``) as
    working directory: ``parameters`` are injected after the cell tagged ``parameters`` exactly
    as ``papermill NOTEBOOK OUT -p name value`` does. Only parameters the notebook declares are
    passed (others would be ignored with a warning by papermill).

    ``kernel``: a kernel taken from a :class:`KernelPool` (already started in its pool's
    ``cwd`` with its ``env``, which then replace ``env`` and ``cwd``); without one a kernel is
    started here. Either way the kernel is used for this notebook only and shut down after it.
    This process's working directory and environment are not touched, so notebooks can run in
    threads side by side.

    ``on_cell(k, n, first_line)`` is called as code cell ``k`` of ``n`` starts. The kernel's own
    log goes to a temporary file (quoted in the error when the kernel dies). The papermill
    metadata of the executed notebook names the notebook, not its absolute path.
    """
    import logging

    import nbformat as nbf

    path = Path(path).resolve()
    declared = parameter_names(path)
    params = {k: v for k, v in dict(parameters or {}).items() if k in declared}
    code_cells = sum(c.cell_type == "code" for c in nbf.read(path, as_version=4).cells)
    if params:
        code_cells += 1  # papermill's injected-parameters cell
    seen: list[int] = []

    def hook(_index: int, cell: Any) -> None:
        if on_cell is not None and cell.get("cell_type") == "code":
            seen.append(1)
            on_cell(len(seen), max(code_cells, len(seen)), _first_line(cell.get("source", "")))

    started = time.perf_counter()
    logging.getLogger("papermill").setLevel(logging.WARNING)
    if kernel is None:
        with KernelPool(env=env, cwd=cwd if cwd is not None else path.parent) as pool:
            kernel = pool.take()
    try:
        nb = _papermill(path, params, timeout, kernel, hook)
    except _KernelStartFailed as failed:  # once more in a fresh kernel: a start-up hiccup
        kernel = KernelPool(env=kernel.env, cwd=kernel.cwd).take()
        try:
            nb = _papermill(path, params, timeout, kernel, hook)
        except _KernelStartFailed as again:
            raise ReportError(
                f"notebook {path.name}: the kernel failed twice before its first cell "
                f"({failed}; then {again})"
            ) from again.__cause__
    meta = nb.metadata.get("papermill")
    if isinstance(meta, dict):
        meta["input_path"] = path.name
        meta["output_path"] = None
    return NotebookRun(path, nb, time.perf_counter() - started, params)


class _KernelStartFailed(Exception):
    """A kernel died or did not answer before the notebook's first cell started."""


def _papermill(
    path: Path,
    params: Mapping[str, Any],
    timeout: int,
    kernel: PooledKernel,
    hook: Callable[[int, Any], None],
) -> Any:
    """The notebook executed by papermill in ``kernel`` (shut down or killed afterwards).

    Raises :class:`ReportError` for a failing cell or a kernel that failed during the run,
    :class:`_KernelStartFailed` when the kernel failed before any cell started (and the
    kernels are not being stopped on purpose)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    started: list[int] = []

    def on_cell(index: int, cell: Any) -> None:
        started.append(index)
        hook(index, cell)

    log = kernel.log
    try:
        return papermill.execute_notebook(
            str(path),
            None,
            parameters=params,
            engine_name=_engine(),
            kernel_name="python3",
            progress_bar=False,
            execution_timeout=timeout,
            km=kernel.manager,
            regionstats_on_cell=on_cell,
        )
    except PapermillExecutionError as exc:
        detail = f"{exc.ename}: {exc.evalue}".strip().splitlines()[0]
        raise ReportError(
            f"notebook {path.name} failed in cell {_code_cell(path, exc.source)}: {detail}"
        ) from exc
    except Exception as exc:  # a kernel that died or did not start, a timeout
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        tail = _tail(log)
        what = f"{type(exc).__name__}: {detail}" + (
            f"; its last log lines:\n{tail}" if tail else ""
        )
        if not started and not _STOPPING.is_set():
            raise _KernelStartFailed(what) from exc
        raise ReportError(f"notebook {path.name}: the kernel failed ({what})") from exc
    finally:
        kernel.discard()  # shut down by the client already; killed here if not (interrupted)


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
        },
        separators=(",", ":"),
    ).replace("</", "<\\/")
    height = (figure_json.get("layout") or {}).get("height")
    px = int(height) if isinstance(height, int | float) and height > 0 else 480
    return (
        f'<div id="{div_id}" class="regionstats-figure" style="width:100%;height:{px}px"></div>'
        f'<script type="application/json" id="{div_id}-spec">{spec}</script>'
        f"<script>regionstatsDraw('{div_id}');</script>"
    )


#: Draws a figure from its JSON spec, first putting back the rings :func:`share_rings` took out.
DRAW_JS = """<script>
function regionstatsDraw(id) {
  var s = JSON.parse(document.getElementById(id + '-spec').textContent);
  var table = document.getElementById('regionstats-rings');
  if (table && !window.regionstatsRings) window.regionstatsRings = JSON.parse(table.textContent);
  s.data.forEach(function (t) {
    if (!t.regionstatsRings) return;
    var x = [], y = [];
    t.regionstatsRings.forEach(function (k, i) {
      if (i) { x.push(null); y.push(null); }
      var r = window.regionstatsRings[k];
      for (var j = 0; j < r[0].length; j++) { x.push(r[0][j]); y.push(r[1][j]); }
    });
    t.x = x; t.y = y; delete t.regionstatsRings;
  });
  Plotly.newPlot(id, s.data, s.layout, s.config);
}
</script>"""


def share_rings(
    traces: Sequence[dict[str, Any]], rings: list[list[Any]], index: dict[str, int]
) -> int:
    """Move the ``None``-separated rings of polygon traces into the shared table ``rings``.

    A scatter trace with at least :data:`MIN_SHARED_POINTS` points whose ``x`` and ``y`` are
    lists with ``None`` at the same places is cut at the ``None``; each piece goes into
    ``rings`` once (``index`` maps a piece's JSON to its place) and the trace keeps
    ``regionstatsRings``, the places of its pieces in order (:data:`DRAW_JS` joins them with
    ``None`` again). A map whose panels, or maps on the same boundaries, draw a region again
    send its coordinates once. Returns the number of traces changed.

    >>> ring = [0, 1, 1, 0, 0]
    >>> traces = [{"x": [*ring, None] * 30, "y": [*ring, None] * 30, "fill": "toself"}]
    >>> table, index = [], {}
    >>> share_rings(traces, table, index), len(table), traces[0]["regionstatsRings"][:3]
    (1, 2, [0, 0, 0])
    >>> "x" in traces[0], table[1]
    (False, [[], []])
    """
    changed = 0
    for trace in traces:
        x, y = trace.get("x"), trace.get("y")
        if trace.get("type", "scatter") != "scatter" or not isinstance(x, list):
            continue
        if not isinstance(y, list) or len(x) != len(y) or len(x) < MIN_SHARED_POINTS:
            continue
        gaps = [i for i, v in enumerate(x) if v is None]
        if not gaps or gaps != [i for i, v in enumerate(y) if v is None]:
            continue
        ids: list[int] = []
        start = 0
        for end in [*gaps, len(x)]:
            piece = [x[start:end], y[start:end]]
            key = json.dumps(piece, separators=(",", ":"))
            if key not in index:
                index[key] = len(rings)
                rings.append(piece)
            ids.append(index[key])
            start = end + 1
        del trace["x"], trace["y"]
        trace["regionstatsRings"] = ids
        changed += 1
    return changed


def _figures_to_html(
    nb: Any, prefix: str, rings: list[list[Any]], index: dict[str, int], types: set[str]
) -> int:
    """Replace plotly JSON outputs with HTML that draws them with the embedded plotly.js."""
    count = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if PLOTLY_MIME in data:
                count += 1
                figure = copy.deepcopy(data[PLOTLY_MIME])
                traces = figure.get("data", [])
                types.update(str(t.get("type", "scatter")) for t in traces)
                share_rings(traces, rings, index)
                out["data"] = {"text/html": _plotly_html(figure, f"{prefix}-fig{count}")}
    return count


def smallest_bundle(trace_types: Iterable[str]) -> str:
    """Name of the smallest bundle of :data:`PLOTLY_BUNDLES` drawing every type, else ``"full"``.

    >>> smallest_bundle(["scatter", "bar"]), smallest_bundle({"heatmap"})
    ('basic', 'cartesian')
    >>> smallest_bundle(["scattergeo"])
    'full'
    """
    needed = set(trace_types)
    return next((name for name, types in PLOTLY_BUNDLES if needed <= types), "full")


def _bundle_file(name: str) -> bytes | None:
    from importlib.resources import files

    try:
        packed = (files("regionstats") / "data" / f"plotly-{name}.min.js.gz").read_bytes()
    except (FileNotFoundError, OSError):
        return None
    return gzip.decompress(packed)


def plotly_js(trace_types: Iterable[str]) -> tuple[str, str]:
    """``(bundle name, javascript)``: the smallest plotly.js that draws ``trace_types``.

    A partial bundle of ``regionstats/data`` (:func:`smallest_bundle`) when it is there and is
    the plotly.js version plotly.py ships (its first line names the version), else plotly.py's
    full bundle (``"full"``): a figure is never left to a plotly.js it was not made for.
    """
    from plotly.offline import get_plotlyjs, get_plotlyjs_version

    name = smallest_bundle(trace_types)
    if name != "full":
        raw = _bundle_file(name)
        if raw is not None:
            js = raw.decode("utf-8")
            found = re.search(r"plotly\.js \([^)]*\) v(\d+\.\d+\.\d+)", js[:500])
            if found and found.group(1) == get_plotlyjs_version():
                return name, js
    return "full", get_plotlyjs()


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
    sources: Any | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> tuple[str, int]:
    """One HTML document from executed notebooks; returns the HTML and the number of figures.

    plotly.js is embedded once (:func:`plotly_js`: the smallest bundle for the report's trace
    types) and map rings once (:func:`share_rings`).
    """
    from nbconvert import HTMLExporter

    combined = nbformat.v4.new_notebook()
    combined.metadata = runs[0].notebook.metadata if runs else {}
    figures = 0
    rings: list[list[Any]] = []
    index: dict[str, int] = {}
    types: set[str] = set()
    for i, run in enumerate(runs, start=1):
        nb = copy.deepcopy(run.notebook)
        for j, cell in enumerate(nb.cells):
            cell["id"] = f"nb{i}-{j}"  # cell ids must stay unique in the combined notebook
        figures += _figures_to_html(nb, f"nb{i}", rings, index, types)
        combined.cells.extend(nb.cells)
    toc = ["## Contents", ""]
    for level, text in _headings(combined):
        indent = "  " * (level - 1)
        toc.append(f"{indent}- [{text}](#{_slug(text)})")
    combined.cells.insert(0, nbformat.v4.new_markdown_cell("\n".join(toc)))
    # the first screen: title, date, vintages and the key findings the notebooks generated
    from regionstats.frontpage import front_html

    front = front_html(
        [run.notebook for run in runs],
        run_date=time.strftime("%Y-%m-%d", time.gmtime()),
        sources=sources,
        parameters=dict(parameters) if parameters else None,
    )
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
    bundle, js = plotly_js(types or {"scatter"})
    table = json.dumps(rings, separators=(",", ":")).replace("</", "<\\/")
    head = (
        f"<!-- plotly.js: {bundle} bundle -->\n<script>{js}</script>\n"
        f'<script type="application/json" id="regionstats-rings">{table}</script>\n{DRAW_JS}'
    )
    body = body.replace("<head>", f"<head>\n{head}", 1)
    title_tag = f"<title>{html.escape(title)}</title>"
    body = re.sub(r"<title>.*?</title>", lambda _m: title_tag, body, count=1)
    body = re.sub(r"(<body[^>]*>\s*<main>)", lambda m: m.group(1) + "\n" + front, body, count=1)
    body = body.replace("</body>", f"{_footer(footer_html)}\n</body>", 1)
    return body, figures


def _footer(footer_html: str) -> str:
    return f'{FOOTER_START} style="margin:2em;font-size:0.85em">{footer_html}</footer>'


def report_body(document: str) -> str:
    """The report without its footer (what the notebooks made; the footer names the run)."""
    at = document.rfind(FOOTER_START)
    return document if at < 0 else document[:at]


def body_sha256(document: str) -> str:
    """sha256 of :func:`report_body` (UTF-8): equal for two reports drawn from the same
    executed notebooks, whatever their footers say.

    >>> body_sha256("<p>x</p>" + _footer("run 1")) == body_sha256("<p>x</p>" + _footer("run 2"))
    True
    """
    return hashlib.sha256(report_body(document).encode("utf-8")).hexdigest()


def replace_footer(document: str, footer_html: str) -> str:
    """``document`` with its footer replaced by one holding ``footer_html``.

    >>> replace_footer("<body>x" + _footer("old") + "\\n</body>", "new").count("new")
    1
    """
    at = document.rfind(FOOTER_START)
    if at < 0:
        return document.replace("</body>", f"{_footer(footer_html)}\n</body>", 1)
    end = document.index("</footer>", at) + len("</footer>")
    return document[:at] + _footer(footer_html) + document[end:]


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` via a temporary file and a rename: never half-written."""
    from regionstats.sources.processed import atomic_write_bytes

    atomic_write_bytes(Path(path), text.encode("utf-8"))


#: The publisher and licence of each kind of input, for the footer's sources line.
_SSB_LICENCE = "licence CC BY 4.0 (Kilde: Statistisk sentralbyrå)"


def sources_sentence(labels: Iterable[str]) -> str:
    """The footer's sources line from the inputs' labels (``"... (SSB 11713)"``, ``"...
    (KLASS 128)"``, ``"... (Kartverket)"``, ``"... (FHI)"``): every table and classification
    the run read, and their licences.

    >>> line = sources_sentence(["regional accounts (SSB 11713)", "population (SSB 07459)",
    ...                          "centrality (KLASS 128)", "county boundaries (Kartverket)"])
    >>> line.split(", licence")[0]
    'Sources: Statistics Norway (SSB), statbank tables 07459 and 11713 and KLASS classification 128'
    >>> line.endswith("Kartverket boundaries, CC BY 4.0.")
    True
    """
    text = " ".join(labels)
    tables = sorted(set(re.findall(r"\bSSB (\d{5})\b", text)))
    klass = sorted(set(re.findall(r"\bKLASS (\d+)\b", text)), key=int)
    parts = []
    if tables:
        noun = "table" if len(tables) == 1 else "tables"
        parts.append(f"statbank {noun} {_and(tables)}")
    if klass:
        noun = "classification" if len(klass) == 1 else "classifications"
        parts.append(f"KLASS {noun} {_and(klass)}")
    out = []
    if parts:
        out.append(f"Statistics Norway (SSB), {' and '.join(parts)}, {_SSB_LICENCE}")
    if "Kartverket" in text:
        out.append("Kartverket boundaries, CC BY 4.0")
    if "FHI" in text:
        out.append("split weights of the 2020 municipality reform from FHI (fhidata)")
    return "Sources: " + "; ".join(out) + "." if out else ""


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def default_footer(extra: str = "", *, sources: Iterable[str] | None = None) -> str:
    """The footer: when and by which version the report was made, its sources
    (:func:`sources_sentence` of the inputs' labels ``sources``; without them the tables every
    report reads) and ``extra`` (the run manifest, the inputs table)."""
    from regionstats import __version__

    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    line = sources_sentence(sources or ())
    if not line:
        line = (
            "Sources: Statistics Norway (SSB), statbank table 11713 and KLASS classifications "
            f"128/131, {_SSB_LICENCE}; Kartverket boundaries, CC BY 4.0."
        )
    return (
        f"<p>Generated {stamp} by regionstats {html.escape(__version__)}. {html.escape(line)} "
        "Figures by centrality class are estimates (see their method notes).</p>"
        f"{extra}"
    )


def notebook_jobs(jobs: int | None = None, notebooks: int | None = None) -> int:
    """How many notebooks run side by side: ``jobs``, else ``REGIONSTATS_JOBS``, else the CPUs
    this process may use; at least 1 and at most ``notebooks``.

    >>> notebook_jobs(4, notebooks=2)
    2
    >>> notebook_jobs(0, notebooks=5)
    1
    """
    if jobs is None:
        text = os.environ.get("REGIONSTATS_JOBS", "").strip()
        if text:
            try:
                jobs = int(text)
            except ValueError:
                raise ReportError(
                    f"REGIONSTATS_JOBS must be a whole number of notebooks, not {text!r}"
                ) from None
        else:
            try:
                jobs = len(os.sched_getaffinity(0))
            except AttributeError:  # not on Linux
                jobs = os.cpu_count() or 1
    jobs = max(1, int(jobs))
    return min(jobs, notebooks) if notebooks else jobs


def run_notebooks(
    paths: Sequence[Path],
    *,
    parameters: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    progress: Callable[[str], None] | None = None,
    on_cell: Callable[[CellProgress], None] | None = None,
    cwd: str | Path | None = None,
    jobs: int | None = None,
    pool: KernelPool | None = None,
) -> list[NotebookRun]:
    """Execute ``paths`` (plotly figures as JSON outputs), ``jobs`` at a time, each in its own
    fresh kernel; return the runs in the order of ``paths``. Stop at the first failure.

    The notebooks of a run are independent of each other (each reads the run's saved inputs),
    so they run side by side: ``jobs`` (default :func:`notebook_jobs`: the CPUs available)
    kernels start and work at once, and the kernel start-up of one notebook overlaps another's
    work. What a notebook sees is unchanged: its own kernel, its parameters, its working
    directory. ``jobs=1`` runs them one after another.

    ``progress`` gets a line as each notebook starts and ends; ``on_cell`` a
    :class:`CellProgress` as each code cell starts and as each notebook ends (from worker
    threads when ``jobs > 1``). ``cwd``: the kernels' working directory (default each
    notebook's folder). ``pool``: a :class:`KernelPool` started earlier (its ``env`` and
    ``cwd`` replace these; the caller closes it), so kernels boot while the caller prepares
    the inputs; without one a pool is made here. Raises :class:`ReportError` naming the
    notebook and the cell that failed; on a failure no further notebook starts and the kernels
    still running are stopped.
    """
    if pool is None:
        folders = {p.resolve().parent for p in paths}
        if cwd is None and len(folders) > 1:  # each kernel in its own notebook's folder
            return [
                _run_with(paths, i, parameters, progress, on_cell, env=env)
                for i in range(1, len(paths) + 1)
            ]
        folder = cwd if cwd is not None else next(iter(folders), None)
        with KernelPool(env=env, cwd=folder) as own:
            return run_notebooks(
                paths,
                parameters=parameters,
                progress=progress,
                on_cell=on_cell,
                jobs=jobs,
                pool=own,
            )
    n = len(paths)
    workers = notebook_jobs(jobs, n)
    _STOPPING.clear()
    pool.start(workers - pool.ready)

    def run_one(i: int) -> NotebookRun:
        # Later kernels boot when a slot frees, not ahead: a waiting kernel holds ~130 MB
        # (proportional share) beside the running ones, and the run keeps under 1 GB.
        return _run_with(paths, i, parameters, progress, on_cell, kernel=pool.take())

    if workers <= 1:
        return [run_one(i) for i in range(1, n + 1)]

    results: dict[int, NotebookRun] = {}
    failures: list[BaseException] = []
    lock = threading.Lock()
    queue = list(range(1, n + 1))

    def worker() -> None:
        while True:
            with lock:
                if failures or not queue:
                    return
                i = queue.pop(0)
            try:
                run = run_one(i)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                with lock:
                    first = not failures
                    failures.append(exc)
                if first:  # stop the others: their kernels' deaths are not the failure
                    _STOPPING.set()
                    _kill(_LIVE_KERNELS)
                return
            with lock:
                results[i] = run

    threads = [
        threading.Thread(target=worker, name=f"regionstats-notebook-{k}", daemon=True)
        for k in range(workers)
    ]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):  # joined with a timeout: Ctrl-C stays deliverable
        for t in threads:
            t.join(timeout=0.05)
    if failures:
        _STOPPING.clear()  # every worker has ended: the next run may start kernels again
        raise failures[0]
    return [results[i] for i in range(1, n + 1)]


def _run_with(
    paths: Sequence[Path],
    i: int,
    parameters: Mapping[str, Any] | None,
    progress: Callable[[str], None] | None,
    on_cell: Callable[[CellProgress], None] | None,
    *,
    kernel: PooledKernel | None = None,
    env: Mapping[str, str] | None = None,
) -> NotebookRun:
    """Notebook ``i`` (1-based) of ``paths`` in ``kernel`` (without one, a fresh kernel with
    ``env`` in the notebook's folder), with its progress lines."""
    say = progress or (lambda _msg: None)
    n = len(paths)
    path = paths[i - 1]
    say(f"[{i}/{n}] running {path.name} ...")

    def cell(k: int, total: int, first: str) -> None:
        if on_cell is not None:
            on_cell(CellProgress(path.name, i, n, k, total, first))

    run = execute_notebook(path, parameters=parameters, env=env, on_cell=cell, kernel=kernel)
    if on_cell is not None:
        on_cell(CellProgress(path.name, i, n, 0, 0, done=True))
    say(f"[{i}/{n}] {path.name} done in {run.seconds:.1f} s")
    return run


def _kill(processes: Iterable[Any]) -> None:
    """SIGKILL each kernel process (group) of ``processes`` that still runs."""
    for process in list(processes):
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)


def _parameter_cells(path: Path) -> list[Any]:
    import ast

    nb = nbformat.read(path, as_version=4)
    trees = []
    for cell in nb.cells:
        if cell.cell_type != "code" or "parameters" not in cell.get("metadata", {}).get("tags", []):
            continue
        try:
            trees.append(ast.parse(cell.source))
        except SyntaxError as exc:
            raise ReportError(
                f"notebook {path.name}: parameters cell is not valid Python: {exc}"
            ) from None
    return trees


def parameter_names(path: Path) -> set[str]:
    """Names assigned in the ``parameters``-tagged cell(s) of a notebook (empty if none)."""
    return set(parameter_defaults(path, literal_only=False))


def parameter_defaults(path: Path, *, literal_only: bool = True) -> dict[str, Any]:
    """The values the ``parameters``-tagged cell(s) of a notebook assign: Python literals
    (``ast.literal_eval``); with ``literal_only=False`` other values appear as their source
    text."""
    import ast

    values: dict[str, Any] = {}
    for tree in _parameter_cells(path):
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
                value_node: ast.expr | None = node.value
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                targets, value_node = [node.target.id], node.value
            else:
                continue
            try:
                value = ast.literal_eval(value_node) if value_node is not None else None
            except ValueError:
                if literal_only:
                    continue
                value = ast.unparse(value_node) if value_node is not None else None
            for name in targets:
                values[name] = value
    return values


def parameters_used(
    paths: Sequence[Path], given: Mapping[str, Any], *, internal: Iterable[str] = ("inputs_from",)
) -> dict[str, Any]:
    """Every parameter as the notebooks ran with it: the value ``given`` or, where none was,
    the notebook's default. A default the notebooks disagree on is given per notebook
    (``{notebook: value}``). ``internal`` names are left out (the inputs folder is a path of
    the run, not a choice)."""
    skip = set(internal)
    seen: dict[str, dict[str, Any]] = {}
    for path in paths:
        declared = parameter_names(path)
        for name, value in {**parameter_defaults(path), **dict(given)}.items():
            if name in skip or name not in declared:
                continue
            seen.setdefault(name, {})[path.name] = value
    used: dict[str, Any] = {}
    for name, values in seen.items():
        distinct = {json.dumps(v, sort_keys=True, default=str) for v in values.values()}
        used[name] = next(iter(values.values())) if len(distinct) == 1 else values
    for name, value in given.items():  # given but declared by no notebook: still as given
        if name not in skip:
            used.setdefault(name, value)
    return used


def output_problem(out: str | Path) -> str | None:
    """Why the report folder ``out`` cannot be written, or ``None`` when it can.

    Checked before anything runs and without writing outside ``out``: an existing folder must
    take a new file (a temporary file is made and removed in it); a missing one needs its
    nearest existing parent to be a writable folder.
    """
    path = Path(out).absolute()
    if path.exists():
        if not path.is_dir():
            return f"the report folder {out} is a file"
        try:
            with tempfile.TemporaryFile(dir=path):
                pass
        except OSError as exc:
            return f"the report folder {out} is not writable ({exc.strerror or exc})"
        return None
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"the report folder {out} cannot be made: {parent} is a file"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"the report folder {out} cannot be made: {parent} is not writable"
    return None


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
    on_cell: Callable[[CellProgress], None] | None = None,
) -> Path:
    """Execute every numbered notebook and write ``out_dir/regionstats-report.html``.

    The inputs are loaded once and saved in ``out_dir/inputs/`` (every notebook reads them
    through its ``inputs_from`` parameter, ``"inputs"``, relative to the kernels' working
    directory, the run's staging folder); the executed notebooks are saved in
    ``out_dir/notebooks/``. An unwritable ``out_dir`` is refused before anything runs. On
    failure the previous report is kept and :class:`ReportError` names the notebook and cell.
    """
    from regionstats.sources.inputs import InputUnavailable

    problem = output_problem(out_dir)
    if problem is not None:
        raise ReportError(problem)
    out = Path(out_dir)
    paths = find_notebooks(notebooks)
    say = progress or (lambda _msg: None)
    params = dict(parameters or {})
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-report-", dir=out)).resolve()
    # the kernels boot while the inputs are prepared (they run in the staging folder, where the
    # inputs are saved, when the notebooks read them; else in the notebooks' folder)
    wants_inputs = any("inputs_from" in parameter_names(p) for p in paths)
    pool = KernelPool(env=env, cwd=staging if wants_inputs else paths[0].resolve().parent)
    try:
        pool.start(notebook_jobs(None, len(paths)))
        try:
            inputs = prepare_inputs(
                paths, staging / "inputs", params, offline=offline, snapshot=snapshot, progress=say
            )
        except InputUnavailable as exc:
            raise ReportError(str(exc)) from exc
        if inputs is not None:
            params["inputs_from"] = "inputs"  # relative to the kernels' working directory
        runs = run_notebooks(paths, parameters=params, progress=say, on_cell=on_cell, pool=pool)
        say("rendering the HTML report ...")
        footer = footer_html
        if footer is None:
            labels = list(inputs.sources["input"]) if inputs is not None else None
            footer = default_footer(
                inputs_html(inputs) if inputs is not None else "", sources=labels
            )
        document, figures = render_report(
            runs,
            footer_html=footer,
            show_code=show_code,
            sources=inputs.sources if inputs is not None else None,
            parameters=inputs.params.as_dict() if inputs is not None else None,
        )
        target = out / REPORT_NAME
        for run in runs:
            atomic_write_text(out / "notebooks" / run.path.name, nbformat.writes(run.notebook))
        atomic_write_text(target, document)
        if inputs is not None:
            final = out / "inputs"
            shutil.rmtree(final, ignore_errors=True)
            (staging / "inputs").rename(final)
    finally:
        pool.close()
        shutil.rmtree(staging, ignore_errors=True)
    say(f"wrote {target} ({len(document) / 1e6:.1f} MB, {figures} figures)")
    return target


def inputs_html(inputs: Any) -> str:
    """A small HTML table of which source served each input (for the footer); locations that
    are absolute paths are shown by their name only."""
    from regionstats.manifest import portable

    def cell(value: Any) -> str:
        text = portable(value, {}) if isinstance(value, str) else ""
        return f"<td>{html.escape(text)}</td>"

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
