"""The project's full report, built offline by ``regionstats update`` from the real notebooks on
the snapshot: at most 4 MB, plotly.js once (the smallest bundle that draws it), every map ring
once, no absolute path anywhere, and a manifest that names every input, parameter and version.
An unchanged second run reuses the first's notebooks and report.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import nbformat
import pytest

from regionstats import config, maps
from regionstats.pipeline import update
from regionstats.report import PLOTLY_MIME, REPORT_NAME

pytestmark = pytest.mark.snapshot

MAX_BYTES = 4_000_000
NOTEBOOKS = config.PROJECT_ROOT / "notebooks"


@pytest.fixture(scope="module")
def full(tmp_path_factory, snapshot_dir: Path) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("full-report")
    out, data = base / "out", base / "data"
    common = {"offline": True, "notebooks": NOTEBOOKS, "snapshot": snapshot_dir, "data_dir": data}
    first = update(out, **common)
    found: dict[str, Any] = {"base": base, "out": out, "first": first}
    found["html"] = (out / REPORT_NAME).read_text(encoding="utf-8")
    found["manifest_text"] = (out / "run-manifest.json").read_text(encoding="utf-8")
    found["second_messages"] = []
    found["second"] = update(out, progress=found["second_messages"].append, **common)
    found["second_html"] = (out / REPORT_NAME).read_text(encoding="utf-8")
    return found


def test_the_full_report_is_at_most_4_mb(full) -> None:
    size = len(full["html"].encode("utf-8"))
    assert size <= MAX_BYTES, f"{size / 1e6:.2f} MB"


def test_plotly_js_is_embedded_once(full) -> None:
    html = full["html"]
    # every plotly.js bundle starts with this licence header naming its version
    headers = re.findall(r"\* plotly\.js (?:\([^)]*\) )?v\d+\.\d+\.\d+", html)
    assert len(headers) == 1, headers
    assert re.findall(r'<script[^>]*src="(https?://[^"]+)"', html) == []


def _specs(html: str) -> dict[str, dict[str, Any]]:
    found = re.findall(r'<script[^>]*id="([^"]+)-spec"[^>]*>(.*?)</script>', html, re.S)
    return {fid: json.loads(text) for fid, text in found}


def _rings(html: str) -> list[list[list[float]]]:
    found = re.search(r'<script[^>]*id="regionstats-rings"[^>]*>(.*?)</script>', html, re.S)
    assert found, "no ring table"
    return json.loads(found.group(1))


def _rebuilt(trace: dict[str, Any], rings: list[Any]) -> tuple[list[Any], list[Any]]:
    """What the report's script does: the trace's rings joined with None."""
    xs: list[Any] = []
    ys: list[Any] = []
    for i, k in enumerate(trace["regionstatsRings"]):
        if i:
            xs.append(None)
            ys.append(None)
        xs.extend(rings[k][0])
        ys.extend(rings[k][1])
    return xs, ys


def test_every_map_ring_is_sent_once_and_drawn_exactly_as_the_notebook_made_it(full) -> None:
    html, out = full["html"], full["out"]
    rings = _rings(html)
    keys = [json.dumps(r) for r in rings]
    assert len(keys) == len(set(keys))  # no ring twice
    executed = nbformat.read(out / "notebooks" / "04_maps.ipynb", as_version=4)
    figures = [o["data"][PLOTLY_MIME] for c in executed.cells for o in c.get("outputs", [])
               if PLOTLY_MIME in o.get("data", {})]  # fmt: skip
    specs = [s for fid, s in _specs(html).items() if fid.startswith("nb5-")]
    assert len(specs) == len(figures) >= 3
    for made, sent in zip(figures, specs, strict=True):
        for m_trace, s_trace in zip(made["data"], sent["data"], strict=True):
            if "regionstatsRings" in s_trace:
                assert _rebuilt(s_trace, rings) == (m_trace["x"], m_trace["y"])
            else:
                assert s_trace.get("x") == m_trace.get("x")


def test_a_faceted_map_refers_to_each_ring_once_per_panel(full) -> None:
    """The population map draws the municipalities in three panels: three references to each
    ring in its table, one per panel, and the table holds each ring once."""
    specs = _specs(full["html"])
    faceted = [s for s in specs.values() if any(t.get("xaxis") == "x3" for t in s["data"])]
    assert faceted, "no map with three panels"
    panels: dict[str, Counter[int]] = {}
    for trace in faceted[0]["data"]:
        if "regionstatsRings" in trace:
            ids = [k for k in trace["regionstatsRings"]]
            panels.setdefault(trace.get("xaxis", "x"), Counter()).update(ids)
    assert sorted(panels) == ["x", "x2", "x3"]
    assert panels["x"] == panels["x2"] == panels["x3"]


def test_map_coordinates_are_rounded_to_what_the_eye_can_see(full) -> None:
    values = [v for ring in _rings(full["html"]) for axis in ring for v in axis]
    assert len(values) > 10_000
    step = maps.MAP_PRECISION_M
    assert all(float(v) % step == 0 for v in values)


FORBIDDEN = ("/tmp", "/home", "/work", "/root")


def test_no_absolute_path_in_the_report_or_the_manifest(full, snapshot_dir) -> None:
    out = full["out"]
    forbidden = {*FORBIDDEN, str(config.PROJECT_ROOT), str(full["base"]), str(snapshot_dir)}
    documents = {
        "report": full["html"],
        "manifest": full["manifest_text"],
        "second report": full["second_html"],
        "second manifest": (out / "run-manifest.json").read_text(encoding="utf-8"),
        "revision report": (out / "revision-report.json").read_text(encoding="utf-8"),
        "revision markdown": (out / "revision-report.md").read_text(encoding="utf-8"),
    }
    for name, text in documents.items():
        for path in forbidden:
            at = text.find(path)
            assert at < 0, f"{name} holds {path!r}: ...{text[max(0, at - 80) : at + 80]}..."


def _parameter_cell_defaults(path: Path) -> dict[str, Any]:
    nb = nbformat.read(path, as_version=4)
    [cell] = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    values = {}
    for node in ast.parse(cell.source).body:
        if isinstance(node, ast.Assign):
            values[node.targets[0].id] = ast.literal_eval(node.value)  # type: ignore[attr-defined]
    return values


def test_the_manifest_names_every_parameter_as_used(full) -> None:
    m = json.loads(full["manifest_text"])
    defaults = _parameter_cell_defaults(NOTEBOOKS / "00_data_overview.ipynb")
    defaults.pop("inputs_from")
    assert m["parameters_given"] == {}
    assert m["parameters"] == defaults


def test_the_manifest_names_every_input_with_vintage_location_and_checksums(
    full, snapshot_dir
) -> None:
    from regionstats.sources.inputs import Inputs

    first = full["first"]
    m = json.loads(full["manifest_text"])
    rows = {i["dataset"]: i for i in m["inputs"]}
    folder = full["out"] / "runs" / first.run_id / "inputs"
    for attr, label in Inputs.FRAMES:
        row = rows[label]
        assert row["kind"] and row["vintage"], row
        assert row.get("path") or row.get("url"), row
        saved = (folder / f"input_{attr}.parquet").read_bytes()
        assert row["frame_sha256"] == hashlib.sha256(saved).hexdigest(), label
        if row["kind"] == "snapshot" and row.get("sha256"):
            files = [p.strip() for p in row["path"].split(",")]
            digests = [d.strip() for d in row["sha256"].split(",")]
            for file, digest in zip(files, digests, strict=True):
                assert hashlib.sha256((snapshot_dir / file).read_bytes()).hexdigest() == digest
    # the tables the notebooks read from the snapshot are no longer "not stored"
    for table in ("11713", "13470", "07459"):
        assert m["tables"][table]["source"] == "offline snapshot", m["tables"][table]


def test_the_manifest_names_the_package_versions(full) -> None:
    import pandas
    import plotly

    versions = json.loads(full["manifest_text"])["versions"]
    assert versions["pandas"] == pandas.__version__ and versions["plotly"] == plotly.__version__
    assert {"python", "numpy", "statsmodels", "papermill", "regionstats"} <= set(versions)


def test_the_footer_names_every_table_read(full) -> None:
    html = full["html"]
    footer = html[html.rindex('<footer id="regionstats-footer"') :]
    line = footer.split("</p>")[0]
    for table in ("07459", "11713", "13470"):
        assert table in line, line
    assert "KLASS classifications 128 and 131" in line


def test_an_unchanged_rerun_of_the_real_notebooks_reuses_them(full) -> None:
    first, second = full["first"], full["second"]
    why = [m for m in full["second_messages"] if m.startswith("running the notebooks:")]
    assert second.reused == first.run_id, why  # "code ... changed": someone edited the checkout
    footer = '<footer id="regionstats-footer"'
    assert (
        full["second_html"][: full["second_html"].rindex(footer)]
        == (full["html"][: full["html"].rindex(footer)])
    )
