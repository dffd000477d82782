"""The report's first screen: title, date, the data vintage of every input, and a key-findings box
whose sentences come from the executed notebooks (cells tagged ``key-findings``), never typed in.

Pure: executed notebooks and the inputs' source table in, HTML out.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

TITLE = "Value creation and productivity by county and centrality class"
SUBTITLE = (
    "Did the least central municipalities grow faster? Official statistics from Statistics "
    "Norway (SSB), with estimates by centrality class"
)
FINDINGS_TAG = "key-findings"

_SOURCES = {
    "api": "live API",
    "raw store": "stored API vintage",
    "snapshot": "offline snapshot",
    "embedded": "embedded default",
}

STYLE = """<style>
.regionstats-front{max-width:60em;margin:1.5em auto 1em;padding:0 1em;
font-family:system-ui,sans-serif}
.regionstats-front h1{font-size:1.9em;margin:0 0 .2em}
.regionstats-front .subtitle{font-size:1.1em;color:#444;margin:0 0 .8em}
.regionstats-front .meta{font-size:.9em;color:#333;margin:.2em 0}
.regionstats-front details{font-size:.85em;margin:.4em 0 1em}
#key-findings{border-left:4px solid #1f5f8b;background:#f2f7fb;padding:.6em 1.2em;margin:1em 0}
#key-findings h2{font-size:1.2em;margin:.3em 0 .4em}
#key-findings li{margin:.3em 0}
</style>"""


def findings(notebooks: Iterable[Any]) -> list[str]:
    """The Markdown outputs of every cell tagged ``key-findings``, in notebook order."""
    found: list[str] = []
    for nb in notebooks:
        for cell in nb.cells:
            if cell.get("cell_type") != "code":
                continue
            if FINDINGS_TAG not in (cell.get("metadata", {}).get("tags") or []):
                continue
            for output in cell.get("outputs", []):
                text = (output.get("data") or {}).get("text/markdown")
                if text:
                    found.append(text if isinstance(text, str) else "".join(text))
    return found


def _markdown(text: str) -> str:
    import mistune

    return str(mistune.html(text))


def _vintages(sources: Any) -> str:
    rows = []
    for r in sources.itertuples():
        served = _SOURCES.get(str(r.source), str(r.source))
        vintage = r.vintage if isinstance(r.vintage, str) and r.vintage else "no vintage recorded"
        rows.append(
            f"<li><b>{html.escape(str(r.input))}</b>: {html.escape(served)}, "
            f"{html.escape(vintage)}</li>"
        )
    return "<ul>" + "".join(rows) + "</ul>"


def front_html(
    notebooks: Sequence[Any],
    *,
    run_date: str,
    sources: Any | None = None,
    parameters: dict[str, Any] | None = None,
) -> str:
    """The first screen of the report as one HTML fragment.

    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook()
    >>> cell = nbformat.v4.new_code_cell("", metadata={"tags": ["key-findings"]})
    >>> cell.outputs = [nbformat.v4.new_output("display_data", {"text/markdown": "* x grew 2 %"})]
    >>> nb.cells = [cell]
    >>> page = front_html([nb], run_date="2026-12-03")
    >>> "<h1>" in page and "2026-12-03" in page and "x grew 2 %" in page
    True
    """
    parts = [STYLE, '<header class="regionstats-front">', f"<h1>{html.escape(TITLE)}</h1>"]
    parts.append(f'<p class="subtitle">{html.escape(SUBTITLE)}</p>')
    meta = [f"Report of {html.escape(run_date)}"]
    if parameters:
        p = parameters
        window = f"{p.get('start_year')}–{p.get('end_year')}"
        meta.append(
            f"window {html.escape(window)}, scope {html.escape(str(p.get('scope')))}, "
            f"centrality edition {html.escape(str(p.get('centrality_edition')))}, "
            f"{html.escape(str(p.get('municipality_vintage')))} municipalities"
        )
    parts.append(f'<p class="meta">{" · ".join(meta)}</p>')
    if sources is not None:
        accounts = sources[sources["input"].astype(str).str.contains("11713")]
        if len(accounts):
            r = accounts.iloc[0]
            served = _SOURCES.get(str(r["source"]), str(r["source"]))
            parts.append(
                f'<p class="meta">Regional accounts (SSB 11713): {html.escape(served)}, '
                f"{html.escape(str(r['vintage']))}</p>"
            )
        parts.append(
            "<details><summary>Data vintage of every input</summary>"
            + _vintages(sources)
            + "</details>"
        )
    items = findings(notebooks)
    body = "".join(_markdown(t) for t in items) or "<p>No findings were produced by this run.</p>"
    parts.append(f'<section id="key-findings"><h2>Key findings</h2>{body}</section>')
    parts.append("</header>")
    return "\n".join(parts)


__all__ = ["FINDINGS_TAG", "SUBTITLE", "TITLE", "findings", "front_html"]
