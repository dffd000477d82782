"""The HTML report in a real browser: headless Chromium loads it from disk with no network and
every figure must be drawn by the embedded plotly.js.

Skipped, with the reason, when Chromium is not installed (CI installs Debian's ``chromium``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from regionstats.report import PLOTLY_MIME, build_report

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")


def chromium() -> str:
    for candidate in CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    pytest.skip(f"headless Chromium not installed (looked for {', '.join(CHROMIUM_CANDIDATES)})")


class FigureScan(HTMLParser):
    """For every ``div.regionstats-figure``: whether a drawn plot (``main-svg`` or
    ``plot-container``) is inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: list[dict[str, object]] = []
        self._open: list[tuple[int, dict[str, object]]] = []  # (depth at open, figure)
        self._depth = 0

    VOID = frozenset({"br", "img", "input", "meta", "link", "hr", "source", "col", "area", "wbr"})

    MARKS = frozenset({"js-line", "js-fill", "point", "choroplethlocation"})

    def _mark(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """A drawn data mark: a line, fill, marker, bar or map region with a non-empty path."""
        a = dict(attrs)
        classes = set((a.get("class") or "").split())
        if tag == "path" and len(a.get("d") or "") > 4 and (classes & self.MARKS or self._in_point):
            for _, fig in self._open:
                fig["marks"] = int(fig["marks"]) + 1  # type: ignore[call-overload]

    _in_point = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        self._mark(tag, attrs)
        if tag == "g":
            self._in_point = "point" in classes
        for _, fig in self._open:
            if "main-svg" in classes or "plot-container" in classes:
                fig["drawn"] = True
            if tag == "svg" and "main-svg" in classes:
                fig["svgs"] = int(fig["svgs"]) + 1  # type: ignore[call-overload]
        if tag in self.VOID:
            return
        self._depth += 1
        if tag == "div" and "regionstats-figure" in classes:
            fig = {"id": dict(attrs).get("id"), "drawn": False, "svgs": 0, "marks": 0}
            self.figures.append(fig)
            self._open.append((self._depth, fig))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._mark(tag, attrs)
        classes = (dict(attrs).get("class") or "").split()
        for _, fig in self._open:
            if "main-svg" in classes or "plot-container" in classes:
                fig["drawn"] = True

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        while self._open and self._open[-1][0] >= self._depth:
            self._open.pop()
        self._depth -= 1


class VisibleText(HTMLParser):
    """The text a reader sees: every text node outside ``script``, ``style`` and ``head``."""

    HIDDEN = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)

    def lines(self) -> list[str]:
        return [line.strip() for line in "".join(self.parts).splitlines() if line.strip()]


def count_figures(folder: Path) -> int:
    """Plotly figures the notebooks will display: ``.show()`` calls on a figure, counted in the
    source (the notebooks are stored without outputs)."""
    total = 0
    for path in sorted(folder.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        total += sum(c.source.count(".show()") for c in nb.cells if c.cell_type == "code")
    return total


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, report_fixtures: Path) -> tuple[Path, int]:
    folder = report_fixtures / "figures"
    out = tmp_path_factory.mktemp("browser")
    report = build_report(out, notebooks=folder)
    return report, count_figures(folder)


def dump_dom(report: Path, tmp_path: Path, budget_ms: int = 10000, timeout: int = 90) -> str:
    browser = chromium()
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # no name resolves: no request can leave
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        f"--virtual-time-budget={budget_ms}",
        "--dump-dom",
        report.resolve().as_uri(),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"Chromium did not finish within {timeout} s: {' '.join(command)}")
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_every_figure_is_drawn_offline(rendered, tmp_path) -> None:
    report, expected = rendered
    assert expected >= 2
    html = report.read_text(encoding="utf-8")
    assert html.count('class="regionstats-figure"') == expected
    # plotly.js is embedded; no script is asked from the network (no require.js, no MathJax)
    external = re.findall(r'<script[^>]*src="(https?://[^"]+)"', html)
    assert external == [], external
    dom = dump_dom(report, tmp_path)
    scan = FigureScan()
    scan.feed(dom)
    assert len(scan.figures) == expected, [f["id"] for f in scan.figures]
    undrawn = [f["id"] for f in scan.figures if not f["drawn"] or not f["svgs"]]
    assert undrawn == [], f"figures not drawn by plotly.js: {undrawn}"


def test_figure_specs_are_the_notebook_outputs(rendered) -> None:
    report, _ = rendered
    executed = nbformat.read(report.parent / "notebooks" / "01_figures.ipynb", as_version=4)
    figures = [o["data"][PLOTLY_MIME] for c in executed.cells for o in c.get("outputs", [])
               if PLOTLY_MIME in o.get("data", {})]  # fmt: skip
    assert [f["data"][0]["y"] for f in figures] == [[1, 3, 2], [2, 1, 3]]
    html = report.read_text(encoding="utf-8")
    found = re.search(r'<script[^>]*id="nb1-fig1-spec"[^>]*>(.*?)</script>', html, re.S)
    assert found, "the first figure's JSON spec is missing from the report"
    spec = json.loads(found.group(1))
    assert spec["data"][0]["type"] == "bar" and spec["data"][0]["y"] == [1, 3, 2]


def test_the_projects_report_draws_every_figure_offline(snapshot_dir, tmp_path) -> None:
    """The real notebooks on the real snapshot: every figure they output is drawn in Chromium."""
    chromium()  # skip before the minute of notebook execution when there is no browser
    from regionstats import config

    out = tmp_path / "report"
    env = {"REGIONSTATS_OFFLINE": "1", "REGIONSTATS_SNAPSHOT": str(snapshot_dir)}
    report = build_report(out, notebooks=config.PROJECT_ROOT / "notebooks", env=env)
    expected = 0
    for path in sorted((out / "notebooks").glob("*.ipynb")):
        executed = nbformat.read(path, as_version=4)
        expected += sum(
            PLOTLY_MIME in o.get("data", {}) for c in executed.cells for o in c.get("outputs", [])
        )
    assert expected >= 10
    dom = dump_dom(report, tmp_path, budget_ms=30000, timeout=240)
    scan = FigureScan()
    scan.feed(dom)
    assert len(scan.figures) == expected
    # what a reader sees first: a title, the date, and key findings with numbers in them
    assert re.search(r"<h1>Value creation and productivity[^<]*</h1>", dom)
    assert re.search(r"Report of \d{4}-\d{2}-\d{2}", dom)
    box = re.search(r'<section id="key-findings">(.*?)</section>', dom, re.S)
    assert box and len(re.findall(r"<li>[^<]*\d", box.group(1))) >= 3, "key findings with numbers"
    text = VisibleText()
    text.feed(dom)
    raw = [ln for ln in text.lines() if ln.startswith(("Traceback", "<NA>", "{", "["))]
    assert raw == [], f"raw output a reader would see: {raw[:5]}"
    assert "<NA>" not in "\n".join(text.lines())
    undrawn = [f["id"] for f in scan.figures if not f["drawn"] or not f["svgs"]]
    assert undrawn == [], f"figures not drawn by plotly.js: {undrawn}"
    # and every figure has data drawn in it (a map whose shapes failed to load has none)
    empty = [f["id"] for f in scan.figures if not f["marks"]]
    assert empty == [], f"figures drawn without any data marks: {empty}"
