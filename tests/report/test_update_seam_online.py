"""``regionstats update`` online with only ``REGIONSTATS_PXWEB_URL`` pointing at a loopback
PxWebApi 2.0 server that serves table 11713 (real cells, from the embedded default) and no
snapshot: the update succeeds, 11713 comes from that server, and every input the server does
not have falls back -- with a note -- to the embedded default. KLASS points at a closed port on
127.0.0.1, so nothing leaves this machine.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from loopback import LoopbackServer, ServerSettings
from loopback.from_frames import cube_from_frame, dims_11713

from regionstats.pipeline import update
from regionstats.sources import embedded


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict[str, Any]:
    accounts = embedded.read("accounts_11713")
    cube = cube_from_frame(
        accounts,
        dims_11713(accounts),
        table_id="11713",
        label="11713: Fylkesfordelt nasjonalregnskap, etter region, næring og år",
        updated="2021-12-13T07:00:00Z",
    )
    server = LoopbackServer(tables={"11713": cube}, settings=ServerSettings(max_calls=1000))
    server.start()
    url = server.pxweb_url
    base = tmp_path_factory.mktemp("seam")
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("REGIONSTATS_PXWEB_URL", server.pxweb_url)
        mp.setenv("REGIONSTATS_KLASS_URL", f"http://127.0.0.1:{_closed_port()}/api/klass/v1")
        mp.setenv("REGIONSTATS_SNAPSHOT", str(base / "no-snapshot"))
        mp.delenv("REGIONSTATS_OFFLINE", raising=False)
        messages: list[str] = []
        result = update(
            base / "out",
            offline=False,
            data_dir=base / "data",
            snapshot=None,
            progress=messages.append,
        )
        hosts = {r.path.split("?")[0] for r in server.requests}
    finally:
        mp.undo()
        server.stop()
    return {"result": result, "messages": messages, "url": url, "paths": hosts}


def test_update_succeeds_and_writes_the_report(run) -> None:
    result = run["result"]
    assert result.report.is_file()
    assert result.report.stat().st_size > 100_000


def test_manifest_names_the_server_for_11713(run) -> None:
    manifest = json.loads(run["result"].manifest_path.read_text(encoding="utf-8"))
    server_url = run["url"]
    state = manifest["tables"]["11713"]
    assert state["source"] == "raw store" and state["url"].startswith(server_url)
    accounts = [i for i in manifest["inputs"] if i.get("table") == "11713"]
    assert accounts and accounts[0]["url"].startswith(server_url)


def test_inputs_the_server_lacks_come_from_the_embedded_default_with_a_note(run) -> None:
    manifest = json.loads(run["result"].manifest_path.read_text(encoding="utf-8"))
    kinds = {i["dataset"]: i["kind"] for i in manifest["inputs"] if "dataset" in i}
    assert kinds["population 1 January (SSB 07459)"] == "embedded"
    assert kinds["centrality (KLASS 128)"] == "embedded"
    notes = [m for m in run["messages"] if "note:" in m]
    assert any("population" in m and "embedded" in m for m in notes)


def test_the_server_was_asked_for_11713_data(run) -> None:
    assert any(p.endswith("/tables/11713/data") for p in run["paths"])
