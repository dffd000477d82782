"""Client for SSB's classification API KLASS v1 (municipalities, counties, centrality).

Base ``https://data.ssb.no/api/klass/v1``; JSON is asked for with ``Accept: application/json``
(the ``.json`` suffix is deprecated, API-NOTES §2.1). Classifications used by regionstats:
131 municipalities (*kommuneinndeling*), 104 counties (*fylkesinndeling*), 128 centrality
(*sentralitet*; the per-municipality class is the correspondence 131 -> 128).

Every endpoint has two methods: ``<name>_json`` returns the parsed JSON exactly as served (for
the raw store), ``<name>`` a DataFrame with **codes as strings**, snake_case columns
(``parentCode`` -> ``parent_code``, ``validFromInRequestedRange`` ->
``valid_from_in_requested_range``), dates as ``datetime64`` (``NaT`` = open) and ``level`` as
int. ``attrs`` carry ``source`` (URL with query) and ``classification``.

Range semantics (KLASS): ``from`` inclusive, ``to`` exclusive, no ``to`` = open-ended.

:meth:`KlassClient.corresponds_at` falls back to the date-range ``corresponds`` call when
``correspondsAt`` returns no rows (seen for 131 -> 128, API-NOTES §2.4), keeping the rows valid
at the date.

Every path segment (classification, version and correspondence ids, endpoint names) must be
letters, digits and ``_ . + -`` starting with a letter or digit, and is percent-encoded; anything
else (``"../x"``, ``"131?x=1"``) is :class:`KlassError` before any call. Every call has an
overall deadline (``deadline``, connect to the last byte, retries included).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

import orjson
import pandas as pd
import requests

from regionstats import config
from regionstats.sources import http
from regionstats.sources.http import (
    DEFAULT_DEADLINE,
    DEFAULT_TIMEOUT,
    Offline,
    RetryPolicy,
    SourceError,
)
from regionstats.sources.ratelimit import RateLimiter

__all__ = ["KLASS_BASE_URL", "KlassClient", "KlassError", "KlassNotFound", "Offline"]

KLASS_BASE_URL = config.DEFAULT_KLASS_URL  # "https://data.ssb.no/api/klass/v1"

DateLike = str | dt.date

_CODE_COLUMNS = ("code", "parent_code", "old_code", "new_code", "source_code", "target_code")
_DATE_COLUMNS = (
    "valid_from",
    "valid_to",
    "valid_from_in_requested_range",
    "valid_to_in_requested_range",
    "change_occurred",
)
_COLUMNS = {
    "codes": (
        "code",
        "parent_code",
        "level",
        "name",
        "short_name",
        "presentation_name",
        "valid_from",
        "valid_to",
        "notes",
    ),
    "changes": (
        "old_code",
        "old_name",
        "old_short_name",
        "new_code",
        "new_name",
        "new_short_name",
        "change_occurred",
    ),
    "corresponds": (
        "source_code",
        "source_name",
        "source_short_name",
        "target_code",
        "target_name",
        "target_short_name",
        "valid_from",
        "valid_to",
    ),
}


class KlassError(SourceError):
    """An error from (or about) the KLASS API."""


class KlassNotFound(KlassError, LookupError):
    """The classification, version or correspondence does not exist (HTTP 404)."""


_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}")


def _path(endpoint: str) -> str:
    """``endpoint`` with every segment checked and percent-encoded (no ``..``, ``?``, ``#``)."""
    segments = str(endpoint).strip("/").split("/")
    for seg in segments:
        if not _SEGMENT.fullmatch(seg):
            raise KlassError(
                f"KLASS endpoint {endpoint!r}: segment {seg!r} is not an id (letters, digits "
                "and _ . + -, starting with a letter or digit)"
            )
    return "/".join(quote(seg, safe="") for seg in segments)


def _date(value: DateLike, what: str) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    try:
        dt.date.fromisoformat(text)
    except ValueError as err:
        raise ValueError(f"{what} must be a date 'YYYY-MM-DD', got {value!r}") from err
    return text


def _range(from_date: DateLike, to_date: DateLike | None) -> dict[str, str | None]:
    return {
        "from": _date(from_date, "from_date"),
        "to": None if to_date is None else _date(to_date, "to_date"),
    }


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _frame(rows: list[Mapping[str, Any]], kind: str, source: str) -> pd.DataFrame:
    """Rows of a KLASS list as a DataFrame with string codes and parsed dates."""
    frame = pd.DataFrame([{_snake(k): v for k, v in r.items()} for r in rows])
    for col in _COLUMNS[kind]:
        if col not in frame.columns:
            frame[col] = None
    ordered = list(_COLUMNS[kind]) + [c for c in frame.columns if c not in _COLUMNS[kind]]
    frame = frame[ordered]
    for col in frame.columns:
        if col in _CODE_COLUMNS:
            frame[col] = frame[col].map(lambda v: None if v is None else str(v)).astype("str")
        elif col in _DATE_COLUMNS:
            frame[col] = pd.to_datetime(frame[col], format="%Y-%m-%d", errors="raise")
        elif col == "level" and len(frame):
            frame[col] = pd.to_numeric(frame[col], errors="raise").astype("int64")
    frame.attrs["source"] = source
    return frame


class KlassClient:
    """A KLASS v1 client. No network in the constructor.

    Parameters
    ----------
    base_url
        API root; default :func:`regionstats.config.klass_url` (``$REGIONSTATS_KLASS_URL`` or
        :data:`KLASS_BASE_URL`), read when the client is made.
    session
        A :class:`requests.Session` (default :func:`regionstats.sources.http.make_session`).
    timeout
        ``(connect, read)`` seconds for every call.
    limiter
        Optional :class:`~regionstats.sources.ratelimit.RateLimiter` taken before every call.
    max_retries, max_wait
        Retries after the first attempt and seconds of waiting allowed (5xx, 429, timeouts).
    deadline
        Seconds one call may take in all (limiter slot, connect, the whole body, waits and
        retries), default :data:`~regionstats.sources.http.DEFAULT_DEADLINE`; past it a
        :class:`KlassError`. ``None``: only the per-operation ``timeout``.
    language
        ``nb``, ``nn`` or ``en`` (sent as ``language``); ``None`` leaves KLASS's default.
    offline
        ``True``: every call raises :class:`~regionstats.sources.http.Offline` before any DNS
        lookup or connection; ``False``: never offline; ``None`` (default): offline while
        ``REGIONSTATS_OFFLINE=1`` (:func:`regionstats.config.offline`, checked at every call).

    Examples
    --------
    >>> KlassClient("https://data.ssb.no/api/klass/v1/").base_url
    'https://data.ssb.no/api/klass/v1'
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        session: requests.Session | None = None,
        timeout: http.Timeout = DEFAULT_TIMEOUT,
        limiter: RateLimiter | None = None,
        max_retries: int = 4,
        max_wait: float = 120.0,
        backoff_base: float = 0.5,
        language: str | None = None,
        deadline: float | None = DEFAULT_DEADLINE,
        offline: bool | None = None,
    ) -> None:
        if deadline is not None and deadline <= 0:
            raise ValueError(f"deadline must be > 0 seconds or None, got {deadline}")
        self.deadline = deadline
        self.base_url = (base_url if base_url is not None else config.klass_url()).rstrip("/")
        self._offline = offline
        self.session = session if session is not None else http.make_session()
        self.timeout = timeout
        self.limiter = limiter
        self.language = language
        self.retry = RetryPolicy(
            max_attempts=max_retries + 1, backoff_base=backoff_base, max_total_wait=max_wait
        )

    def __repr__(self) -> str:
        return f"KlassClient({self.base_url!r})"

    @property
    def offline(self) -> bool:
        """Whether calls are refused (``offline=`` given, else ``REGIONSTATS_OFFLINE`` now)."""
        return config.offline() if self._offline is None else bool(self._offline)

    def url(self, endpoint: str, params: Mapping[str, Any] | None = None) -> str:
        """The full URL of ``endpoint`` with ``params`` (as recorded in ``attrs['source']``).

        Raises :class:`KlassError` for an endpoint segment that is not an id.
        """
        query = {k: v for k, v in (params or {}).items() if v is not None}
        return f"{self.base_url}/{_path(endpoint)}" + (f"?{urlencode(query)}" if query else "")

    def get_json(self, endpoint: str, params: Mapping[str, Any] | None = None) -> Any:
        """``GET {base_url}/{endpoint}`` with ``Accept: application/json``; the parsed body.

        Raises :class:`KlassNotFound` on 404 (with KLASS's message), :class:`KlassError` on
        other errors or a body that is not JSON, :class:`~regionstats.sources.http.Offline` in
        offline mode (before any connection).
        """
        return orjson.loads(self.get_bytes(endpoint, params))

    def get_bytes(self, endpoint: str, params: Mapping[str, Any] | None = None) -> bytes:
        """As :meth:`get_json`, but the body exactly as received (checked to be JSON), for the
        raw store."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        if self.language and "language" not in query:
            query["language"] = self.language
        url = f"{self.base_url}/{_path(endpoint)}"
        if self.offline:
            raise Offline("GET", self.url(endpoint, query))
        try:
            response = http.request(
                self.session,
                "GET",
                url,
                params=query,
                headers={"Accept": "application/json"},
                timeout=self.timeout,
                policy=self.retry,
                limiter=self.limiter,
                deadline=self.deadline,
            )
        except (http.RateLimited, http.ServiceUnavailable) as err:
            raise KlassError(str(err)) from err
        if response.status_code == 404:
            raise KlassNotFound(f"KLASS {response.url}: {http.problem_detail(response)}")
        if response.status_code >= 400:
            raise KlassError(
                f"KLASS {response.url}: HTTP {response.status_code}: "
                f"{http.problem_detail(response)}"
            )
        try:
            orjson.loads(response.content)
        except orjson.JSONDecodeError as err:
            ctype = response.headers.get("Content-Type", "?")
            raise KlassError(
                f"KLASS {response.url}: expected JSON, got {ctype} ({response.content[:60]!r})"
            ) from err
        return response.content

    # -- classifications ----------------------------------------------------------------------
    def classification_json(self, classification_id: int | str) -> dict[str, Any]:
        """``classifications/{id}`` as served (name, description, ``versions[]``, ...)."""
        return self.get_json(f"classifications/{classification_id}")

    def classification(self, classification_id: int | str) -> dict[str, Any]:
        """``classifications/{id}`` as a dict, plus a ``versions_frame`` DataFrame.

        ``versions_frame`` columns: ``id`` (str, parsed from the version link), ``name``,
        ``valid_from``, ``valid_to``.
        """
        doc = self.classification_json(classification_id)
        rows = []
        for v in doc.get("versions", []):
            href = ((v.get("_links") or {}).get("self") or {}).get("href", "")
            vid = v.get("id", href.rstrip("/").rsplit("/", 1)[-1] if href else None)
            rows.append(
                {
                    "id": None if vid is None else str(vid),
                    "name": v.get("name"),
                    "valid_from": v.get("validFrom"),
                    "valid_to": v.get("validTo"),
                }
            )
        versions = pd.DataFrame(rows, columns=["id", "name", "valid_from", "valid_to"])
        for col in ("valid_from", "valid_to"):
            versions[col] = pd.to_datetime(versions[col], format="%Y-%m-%d")
        versions["id"] = versions["id"].astype("str")
        out = dict(doc)
        out["versions_frame"] = versions
        return out

    def codes_json(
        self, classification_id: int | str, from_date: DateLike, to_date: DateLike | None = None
    ) -> dict[str, Any]:
        """``classifications/{id}/codes?from=&to=`` as served."""
        return self.get_json(
            f"classifications/{classification_id}/codes", _range(from_date, to_date)
        )

    def codes(
        self, classification_id: int | str, from_date: DateLike, to_date: DateLike | None = None
    ) -> pd.DataFrame:
        """Codes valid at some time in ``[from_date, to_date)`` with their in-range validity."""
        params = _range(from_date, to_date)
        doc = self.get_json(f"classifications/{classification_id}/codes", params)
        return self._codes_frame(doc, f"classifications/{classification_id}/codes", params)

    def codes_at_json(self, classification_id: int | str, date: DateLike) -> dict[str, Any]:
        """``classifications/{id}/codesAt?date=`` as served."""
        return self.get_json(
            f"classifications/{classification_id}/codesAt", {"date": _date(date, "date")}
        )

    def codes_at(self, classification_id: int | str, date: DateLike) -> pd.DataFrame:
        """The codes valid on ``date``."""
        doc = self.codes_at_json(classification_id, date)
        return self._codes_frame(
            doc, f"classifications/{classification_id}/codesAt", {"date": _date(date, "date")}
        )

    def _codes_frame(
        self, doc: Mapping[str, Any], endpoint: str, params: Mapping[str, Any]
    ) -> pd.DataFrame:
        if "codes" not in doc:
            raise KlassError(f"KLASS {self.url(endpoint, params)}: answer lacks 'codes'")
        frame = _frame(doc["codes"], "codes", self.url(endpoint, params))
        frame.attrs["classification"] = endpoint.split("/")[1]
        return frame

    def changes_json(
        self, classification_id: int | str, from_date: DateLike, to_date: DateLike | None = None
    ) -> dict[str, Any]:
        """``classifications/{id}/changes?from=&to=`` as served."""
        return self.get_json(
            f"classifications/{classification_id}/changes", _range(from_date, to_date)
        )

    def changes(
        self, classification_id: int | str, from_date: DateLike, to_date: DateLike | None = None
    ) -> pd.DataFrame:
        """Code changes in ``[from_date, to_date)``: ``old_code`` -> ``new_code`` on a date.

        A split is several rows with the same ``old_code``; a merger several with the same
        ``new_code``. A missing ``old_code`` is a new code, a missing ``new_code`` a code ceasing.
        """
        endpoint = f"classifications/{classification_id}/changes"
        params = _range(from_date, to_date)
        doc = self.get_json(endpoint, params)
        if "codeChanges" not in doc:
            raise KlassError(f"KLASS {self.url(endpoint, params)}: answer lacks 'codeChanges'")
        frame = _frame(doc["codeChanges"], "changes", self.url(endpoint, params))
        frame.attrs["classification"] = str(classification_id)
        return frame

    # -- correspondences ----------------------------------------------------------------------
    def corresponds_json(
        self,
        source_id: int | str,
        target_id: int | str,
        from_date: DateLike,
        to_date: DateLike | None = None,
    ) -> dict[str, Any]:
        """``classifications/{source}/corresponds?targetClassificationId=&from=&to=`` as served."""
        params = {"targetClassificationId": str(target_id), **_range(from_date, to_date)}
        return self.get_json(f"classifications/{source_id}/corresponds", params)

    def corresponds(
        self,
        source_id: int | str,
        target_id: int | str,
        from_date: DateLike,
        to_date: DateLike | None = None,
    ) -> pd.DataFrame:
        """Correspondence rows source -> target valid at some time in ``[from_date, to_date)``."""
        params = {"targetClassificationId": str(target_id), **_range(from_date, to_date)}
        doc = self.get_json(f"classifications/{source_id}/corresponds", params)
        return self._corr_frame(doc, f"classifications/{source_id}/corresponds", params)

    def corresponds_at_json(
        self, source_id: int | str, target_id: int | str, date: DateLike
    ) -> dict[str, Any]:
        """``classifications/{source}/correspondsAt?targetClassificationId=&date=`` as served."""
        params = {"targetClassificationId": str(target_id), "date": _date(date, "date")}
        return self.get_json(f"classifications/{source_id}/correspondsAt", params)

    def corresponds_at(
        self, source_id: int | str, target_id: int | str, date: DateLike
    ) -> pd.DataFrame:
        """Correspondence source -> target on ``date``.

        Tries ``correspondsAt``; when it returns no rows, asks ``corresponds`` for
        ``[date, date + 1 day)`` and keeps the rows valid on ``date`` (``valid_from <= date <
        valid_to``, missing bounds open). ``attrs['fallback']`` tells whether that happened.
        """
        day = _date(date, "date")
        doc = self.corresponds_at_json(source_id, target_id, day)
        params = {"targetClassificationId": str(target_id), "date": day}
        frame = self._corr_frame(doc, f"classifications/{source_id}/correspondsAt", params)
        if len(frame):
            frame.attrs["fallback"] = False
            return frame
        nxt = (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()
        frame = self.corresponds(source_id, target_id, day, nxt)
        when = pd.Timestamp(day)
        ok = (frame["valid_from"].isna() | (frame["valid_from"] <= when)) & (
            frame["valid_to"].isna() | (frame["valid_to"] > when)
        )
        out = frame.loc[ok.to_numpy(dtype=bool)].reset_index(drop=True)
        out.attrs = dict(frame.attrs)
        out.attrs["fallback"] = True
        return out

    def _corr_frame(
        self, doc: Mapping[str, Any], endpoint: str, params: Mapping[str, Any]
    ) -> pd.DataFrame:
        if "correspondenceItems" not in doc:
            raise KlassError(
                f"KLASS {self.url(endpoint, params)}: answer lacks 'correspondenceItems'"
            )
        frame = _frame(doc["correspondenceItems"], "corresponds", self.url(endpoint, params))
        frame.attrs["classification"] = endpoint.split("/")[1]
        frame.attrs["target_classification"] = str(params["targetClassificationId"])
        return frame

    # -- versions -----------------------------------------------------------------------------
    def version_json(self, version_id: int | str) -> dict[str, Any]:
        """``versions/{id}`` as served."""
        return self.get_json(f"versions/{version_id}")

    def version(self, version_id: int | str) -> pd.DataFrame:
        """The ``classificationItems`` of a version (codes, names, levels) as a DataFrame.

        ``attrs``: ``name``, ``valid_from``, ``valid_to`` of the version and ``source``.
        """
        doc = self.version_json(version_id)
        if "classificationItems" not in doc:
            raise KlassError(f"KLASS {self.url(f'versions/{version_id}')}: lacks items")
        frame = _frame(doc["classificationItems"], "codes", self.url(f"versions/{version_id}"))
        frame = frame.drop(columns=["valid_from", "valid_to"])
        frame.attrs.update(
            name=doc.get("name"),
            valid_from=doc.get("validFrom"),
            valid_to=doc.get("validTo"),
            version=str(version_id),
        )
        return frame
