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
from loopback.clients import go_online_against
from loopback.quarter import accounts_cube

from regionstats.pipeline import update
from regionstats.sources import embedded


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict[str, Any]:
    cube = accounts_cube(embedded.read("accounts_11713"))
    server = LoopbackServer(tables={"11713": cube}, settings=ServerSettings(max_calls=1000))
    server.start()
    url = server.pxweb_url
    base = tmp_path_factory.mktemp("seam")
    mp = pytest.MonkeyPatch()
    try:
        go_online_against(
            mp,
            pxweb_url=server.pxweb_url,
            klass_url=f"http://127.0.0.1:{_closed_port()}/api/klass/v1",
            nowhere=base / "no-snapshot",
        )
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
