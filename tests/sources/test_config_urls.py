"""API roots from the environment, and offline mode in both public clients.

Offline checks run against a port nobody listens on *and* against the live loopback server: the
typed error must come before any DNS lookup or connection (the socket layer is watched), and the
server must record no request.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest
from loopback import LoopbackOnlySession, LoopbackServer

from regionstats import config
from regionstats.sources import http, klass, pxwebapi
from regionstats.sources.http import Offline, SourceError
from regionstats.sources.klass import KlassClient
from regionstats.sources.pxwebapi import PxWebApi


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Record (and refuse) every DNS lookup and socket connection made by the test's thread."""
    calls: list[str] = []

    def refuse(name: str) -> Callable[..., object]:
        def call(*args: object, **kwargs: object) -> object:
            calls.append(name)
            raise AssertionError(f"{name} called in offline mode: {args!r}")

        return call

    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    yield calls


# ---- URLs -----------------------------------------------------------------------------------


def test_default_urls_are_ssb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REGIONSTATS_PXWEB_URL", raising=False)
    monkeypatch.delenv("REGIONSTATS_KLASS_URL", raising=False)
    assert config.pxweb_url() == "https://data.ssb.no/api/pxwebapi/v2"
    assert config.klass_url() == "https://data.ssb.no/api/klass/v1"
    assert PxWebApi().base_url == "https://data.ssb.no/api/pxwebapi/v2"
    assert KlassClient().base_url == "https://data.ssb.no/api/klass/v1"


def test_urls_from_environment_trailing_slash_stripped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGIONSTATS_PXWEB_URL", "http://127.0.0.1:9/px/v2/")
    monkeypatch.setenv("REGIONSTATS_KLASS_URL", " http://127.0.0.1:9/klass/v1// ")
    assert config.pxweb_url() == "http://127.0.0.1:9/px/v2"
    assert config.klass_url() == "http://127.0.0.1:9/klass/v1"
    assert PxWebApi().base_url == "http://127.0.0.1:9/px/v2"
    assert KlassClient().base_url == "http://127.0.0.1:9/klass/v1"
    # an explicit base URL still wins
    assert PxWebApi("http://127.0.0.1:8/x/").base_url == "http://127.0.0.1:8/x"
    assert KlassClient("http://127.0.0.1:8/k").base_url == "http://127.0.0.1:8/k"


def test_urls_read_when_the_client_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGIONSTATS_PXWEB_URL", "http://127.0.0.1:7/first")
    monkeypatch.setenv("REGIONSTATS_KLASS_URL", "http://127.0.0.1:7/first-k")
    api, kc = PxWebApi(), KlassClient()
    monkeypatch.setenv("REGIONSTATS_PXWEB_URL", "http://127.0.0.1:7/second")
    monkeypatch.setenv("REGIONSTATS_KLASS_URL", "http://127.0.0.1:7/second-k")
    assert (api.base_url, kc.base_url) == ("http://127.0.0.1:7/first", "http://127.0.0.1:7/first-k")
    assert PxWebApi().base_url == "http://127.0.0.1:7/second"
    assert KlassClient().base_url == "http://127.0.0.1:7/second-k"


def test_empty_url_variable_means_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGIONSTATS_PXWEB_URL", "  ")
    assert config.pxweb_url() == config.DEFAULT_PXWEB_URL


def test_env_url_reaches_the_loopback_server(
    monkeypatch: pytest.MonkeyPatch, loopback_server: LoopbackServer
) -> None:
    monkeypatch.delenv("REGIONSTATS_OFFLINE", raising=False)
    monkeypatch.setenv("REGIONSTATS_PXWEB_URL", loopback_server.pxweb_url + "/")
    monkeypatch.setenv("REGIONSTATS_KLASS_URL", loopback_server.klass_url)
    assert PxWebApi(session=LoopbackOnlySession()).table_info("07459")["id"] == "07459"
    assert KlassClient(session=LoopbackOnlySession()).codes_at(131, "2024-01-01")["code"].size
    assert {r.api for r in loopback_server.requests} == {"pxweb", "klass"}


# ---- offline --------------------------------------------------------------------------------


def test_one_offline_error_class_for_both_clients() -> None:
    assert pxwebapi.Offline is http.Offline is klass.Offline
    assert issubclass(Offline, SourceError)


def _pxweb_calls(api: PxWebApi) -> list[Callable[[], object]]:
    return [
        api.config,
        lambda: api.table_info("07459"),
        lambda: api.metadata("07459"),
        lambda: api.search_tables("befolkning"),
        lambda: api.get_data_bytes("07459", {"Tid": "2020", "ContentsCode": "*"}),
        lambda: api.get_data("07459", {"Tid": "2020", "ContentsCode": "*"}),
        lambda: api.codelist("agg_KommSummer"),
    ]


def _klass_calls(kc: KlassClient) -> list[Callable[[], object]]:
    return [
        lambda: kc.classification(131),
        lambda: kc.codes_at(131, "2024-01-01"),
        lambda: kc.codes(131, "2020-01-01", "2021-01-01"),
        lambda: kc.changes(131, "2020-01-01"),
        lambda: kc.corresponds_at(131, 128, "2024-01-01"),
        lambda: kc.version(91024),
        lambda: kc.get_bytes("classifications/131"),
    ]


def test_offline_true_at_an_unused_port_raises_before_any_connection(
    monkeypatch: pytest.MonkeyPatch, no_network: list[str]
) -> None:
    monkeypatch.delenv("REGIONSTATS_OFFLINE", raising=False)
    port = closed_port()
    api = PxWebApi(f"http://127.0.0.1:{port}/api/pxwebapi/v2", offline=True, limiter="auto")
    kc = KlassClient(f"http://127.0.0.1:{port}/klass/v1", offline=True)
    assert api.offline and kc.offline
    for call in [*_pxweb_calls(api), *_klass_calls(kc)]:
        with pytest.raises(Offline, match="offline mode") as info:
            call()
        assert f"127.0.0.1:{port}" in info.value.url
    assert no_network == []


def test_environment_offline_refuses_and_the_server_sees_nothing(
    monkeypatch: pytest.MonkeyPatch, loopback_server: LoopbackServer, no_network: list[str]
) -> None:
    monkeypatch.setenv("REGIONSTATS_OFFLINE", "1")
    api = PxWebApi(loopback_server.pxweb_url, session=LoopbackOnlySession())
    kc = KlassClient(loopback_server.klass_url, session=LoopbackOnlySession())
    for call in [*_pxweb_calls(api), *_klass_calls(kc)]:
        with pytest.raises(Offline):
            call()
    assert no_network == []
    assert loopback_server.requests == []


def test_offline_is_checked_at_every_call(
    monkeypatch: pytest.MonkeyPatch, loopback_server: LoopbackServer
) -> None:
    monkeypatch.delenv("REGIONSTATS_OFFLINE", raising=False)
    api = PxWebApi(loopback_server.pxweb_url, session=LoopbackOnlySession())
    kc = KlassClient(loopback_server.klass_url, session=LoopbackOnlySession())
    api.table_info("07459")
    kc.classification_json(131)
    seen = len(loopback_server.requests)
    assert seen == 2
    monkeypatch.setenv("REGIONSTATS_OFFLINE", "1")  # after the clients were made
    with pytest.raises(Offline):
        api.table_info("07459")
    with pytest.raises(Offline):
        kc.classification_json(131)
    assert len(loopback_server.requests) == seen


def test_explicit_offline_false_overrides_the_environment(
    monkeypatch: pytest.MonkeyPatch, loopback_server: LoopbackServer
) -> None:
    monkeypatch.setenv("REGIONSTATS_OFFLINE", "1")
    api = PxWebApi(loopback_server.pxweb_url, session=LoopbackOnlySession(), offline=False)
    kc = KlassClient(loopback_server.klass_url, session=LoopbackOnlySession(), offline=False)
    assert api.table_info("07459")["id"] == "07459"
    assert kc.classification_json(131)["name"] == "Standard for kommuneinndeling"
    assert len(loopback_server.requests) == 2
