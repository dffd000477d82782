"""The one data seam: every input of the analysis, each from the best source available.

Every input is served in the **same source order**, and the frame it returns has the same shape
whichever source served it:

1. ``"api"`` -- the live API (PxWebApi 2.0 at :func:`regionstats.config.pxweb_url`, KLASS at
   :func:`regionstats.config.klass_url`) when online; the response is kept in the raw store;
2. ``"raw store"`` -- the newest valid stored vintage of the same query (``data/raw``);
3. ``"snapshot"`` -- the offline snapshot of real data (``REGIONSTATS_SNAPSHOT``), a development
   aid;
4. ``"embedded"`` -- the compact default dataset shipped in the package, derived from real data by
   ``python -m regionstats.sources.embedded.build`` (:mod:`regionstats.sources.embedded`).

A source that cannot serve is skipped with an :class:`InputFallbackWarning` that names the input,
the source that failed and why; the source that did serve is recorded in the frame's
``attrs["provenance"]`` (source, location, vintage, checksum, date) and in
:attr:`Inputs.sources`. When no source can serve, :class:`InputUnavailable` lists every attempt.
Nothing switches silently.

:func:`load_inputs` returns every input the notebooks and ``regionstats update`` need as one
:class:`Inputs`; :func:`save_inputs` writes them to a folder (parquet + sidecars) and
``load_inputs(processed=folder)`` reads them back, so every notebook of a run sees the same data.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from regionstats import config
from regionstats.regions.crosswalk import OFFLINE_LAST_YEAR, CodeHistory, build_history
from regionstats.sources.snapshot import SnapshotNotFound, find_snapshot

__all__ = [
    "SOURCE_ORDER",
    "InputFallbackWarning",
    "InputUnavailable",
    "Inputs",
    "RunParameters",
    "boundaries",
    "centrality",
    "centrality_codes",
    "employment_by_workplace",
    "load_inputs",
    "municipality_history",
    "municipality_history_inputs",
    "population",
    "regional_accounts",
    "save_inputs",
    "split_weights",
]

Source = Literal["auto", "api", "raw store", "snapshot", "embedded"]

#: The order in which every input is looked for.
SOURCE_ORDER: tuple[str, ...] = ("api", "raw store", "snapshot", "embedded")


class InputUnavailable(LookupError):
    """No source could serve an input; the message lists every source tried and why."""


class InputFallbackWarning(UserWarning):
    """A source could not serve an input and the next one in :data:`SOURCE_ORDER` was used."""


# ----------------------------------------------------------------------------------------------
# parameters


@dataclass(frozen=True)
class RunParameters:
    """The parameters of one run of the analysis (the notebooks' ``parameters`` cell).

    ``start_year``/``end_year``: the growth window; ``scope``: the industry scope
    (:func:`regionstats.list_scopes`); ``centrality_edition``: the KLASS 128 edition;
    ``municipality_vintage``: the municipality structure municipal data are put on.
    """

    start_year: int = 2008
    end_year: int = 2019
    scope: str = "business_excl_finance"
    centrality_edition: int = 2024
    municipality_vintage: int = 2024

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> RunParameters:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in dict(values or {}).items() if k in names})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------------------------------------
# the source order


@dataclass
class _Context:
    """Where to look: offline or not, the snapshot folder, the raw store."""

    offline: bool
    snapshot: Path | None
    data_dir: Path
    only: str | None = None  # one source asked for explicitly

    def fetcher(self, *, offline: bool) -> Any:
        from regionstats.sources.fetch import Fetcher
        from regionstats.sources.store import RawStore

        return Fetcher(store=RawStore(self.data_dir / "raw"), offline=offline)

    def klass(self) -> Any:
        from regionstats.sources.klass import KlassClient

        return KlassClient()

    @property
    def store(self) -> Any:
        from regionstats.sources.store import RawStore

        return RawStore(self.data_dir / "raw")

    def need_snapshot(self) -> Path:
        if self.snapshot is None:
            raise SnapshotNotFound("no offline snapshot (set REGIONSTATS_SNAPSHOT to use one)")
        return self.snapshot


def _context(
    source: str = "auto",
    offline: bool | None = None,
    snapshot: str | Path | None = None,
    data_dir: str | Path | None = None,
) -> _Context:
    if source != "auto" and source not in SOURCE_ORDER:
        raise ValueError(f"source must be 'auto' or one of {list(SOURCE_ORDER)}, got {source!r}")
    return _Context(
        offline=config.offline() if offline is None else bool(offline),
        snapshot=find_snapshot(snapshot),
        data_dir=Path(data_dir) if data_dir is not None else config.data_dir(),
        only=None if source == "auto" else source,
    )


#: Errors that mean "this source cannot serve this input" (anything else is a bug and raises).
def _unavailable_errors() -> tuple[type[BaseException], ...]:
    from regionstats.sources.embedded import EmbeddedDataError
    from regionstats.sources.fetch import OfflineDataMissing
    from regionstats.sources.http import SourceError
    from regionstats.sources.pxwebapi import PxWebApiError
    from regionstats.sources.store import CorruptVintage

    return (
        OfflineDataMissing,
        SourceError,
        PxWebApiError,
        CorruptVintage,
        EmbeddedDataError,
        SnapshotNotFound,
        FileNotFoundError,
        ConnectionError,
        TimeoutError,
    )


def _serve(name: str, ctx: _Context, attempts: Mapping[str, Callable[[], Any]]) -> Any:
    """Try ``attempts`` in :data:`SOURCE_ORDER`; warn on each fallback; record provenance."""
    tried: list[str] = []
    errors = _unavailable_errors()
    order = [ctx.only] if ctx.only else list(SOURCE_ORDER)
    for source in order:
        attempt = attempts.get(source)
        if attempt is None:  # this source never holds this input: nothing to report
            continue
        if source == "api" and ctx.offline:
            continue
        try:
            result = attempt()
        except errors as exc:
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            tried.append(f"{source}: {reason}")
            continue
        if tried and ctx.only is None:
            warnings.warn(
                f"{name}: served from {source} because " + "; ".join(tried),
                InputFallbackWarning,
                stacklevel=3,
            )
        _stamp(result, name, source, tried)
        return result
    if ctx.offline and "api" in attempts and ctx.only in (None, "api"):
        tried.append("api: not asked (offline: REGIONSTATS_OFFLINE=1 or --offline)")
    if ctx.only is not None and ctx.only not in attempts:
        tried.append(f"{ctx.only}: not a source of {name} (it has {list(attempts)})")
    raise InputUnavailable(f"no source could serve {name}:\n  " + "\n  ".join(tried))


def _stamp(result: Any, name: str, source: str, tried: list[str]) -> None:
    frames = result if isinstance(result, tuple) else (result,)
    for frame in frames:
        if not hasattr(frame, "attrs"):
            continue
        prov = dict(frame.attrs.get("provenance") or {})
        prov.setdefault("source", source)
        prov["input"] = name
        if tried:
            prov["fallback_from"] = list(tried)
        frame.attrs["provenance"] = prov


def _snapshot_provenance(
    frame: pd.DataFrame, ctx: _Context, relative: list[str], vintage: str | None
) -> pd.DataFrame:
    from regionstats.sources.processed import sha256_file

    snap = ctx.need_snapshot()
    frame.attrs["provenance"] = {
        "source": "snapshot",
        "location": ", ".join(relative),
        "vintage": vintage,
        "sha256": ", ".join(sha256_file(snap / r) for r in relative),
        "as_of": None,
    }
    return frame


def _raw_provenance(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Provenance of a frame decoded from a raw vintage (the Fetcher's attrs)."""
    a = frame.attrs
    prov = dict(a.get("provenance") or {})
    prov.update(
        {
            "source": source,
            "location": prov.get("location") or a.get("source_url") or a.get("source"),
            "vintage": prov.get("vintage") or a.get("raw_vintage") or a.get("vintage"),
            "updated": a.get("updated") or prov.get("updated"),
            "sha256": prov.get("sha256") or a.get("sha256"),
            "as_of": prov.get("as_of") or a.get("fetched_at"),
        }
    )
    frame.attrs["provenance"] = prov
    return frame


# ----------------------------------------------------------------------------------------------
# regional accounts (11713)


def _in_order(
    live: Callable[[bool], Any], snapshot: Callable[[], Any], embedded: Callable[[], Any]
) -> dict[str, Callable[[], Any]]:
    """The four sources of an input that an API publishes: ``live(offline)`` serves the first
    two (the API, then its newest stored vintage)."""
    return {
        "api": lambda: live(False),
        "raw store": lambda: live(True),
        "snapshot": snapshot,
        "embedded": embedded,
    }


def _embedded(name: str) -> pd.DataFrame:
    from regionstats.sources import embedded

    return embedded.read(name)


def regional_accounts(
    source: Source = "auto",
    *,
    offline: bool | None = None,
    snapshot: str | Path | None = None,
    data_dir: str | Path | None = None,
) -> pd.DataFrame:
    """Table 11713 (*fylkesfordelt nasjonalregnskap*) in the tidy model, every year served.

    Columns ``region`` (county code as published, ``"0"`` the whole country), ``industry``,
    ``measure`` (``value_added``, ``value_added_volume_change``, ``gross_investment``,
    ``employed_persons``, ``compensation``), ``year``, ``value``, ``status`` and labels; units in
    ``attrs["units"]``; which source served it in ``attrs["provenance"]``. Counties do not sum to
    the whole country: the continental shelf and Svalbard are in "Hele landet" only.
    """
    ctx = _context(source, offline, snapshot, data_dir)
    return _serve("regional accounts (11713)", ctx, _accounts_attempts(ctx))


def _accounts_attempts(ctx: _Context) -> dict[str, Callable[[], Any]]:
    from regionstats.sources import accounts as acc

    def live(offline: bool) -> pd.DataFrame:
        frame = acc._from_api(ctx.fetcher(offline=offline))
        return _raw_provenance(frame, "raw store" if offline else "api")

    def snap() -> pd.DataFrame:
        frame = acc.regional_accounts("snapshot", snapshot=ctx.need_snapshot())
        return _snapshot_provenance(
            frame, ctx, [acc.WORKBOOK_11713, acc.EXPORT_11713], frame.attrs.get("vintage")
        )

    return _in_order(live, snap, lambda: _embedded("accounts_11713"))


# ----------------------------------------------------------------------------------------------
# employment by place of work (13470 / 07984)


def employment_by_workplace(
    source: Source = "auto",
    *,
    offline: bool | None = None,
    snapshot: str | Path | None = None,
    data_dir: str | Path | None = None,
) -> pd.DataFrame:
    """Employed persons by place of work (*sysselsatte etter arbeidssted*), 4th quarter.

    Tidy ``region`` (4-digit municipality code), ``industry`` (13470 group code, ``"TOTAL"``,
    ``"00"`` unknown), ``year``, ``value`` (persons), ``status``. Live: every municipality from
    13470 (and the older table for earlier years, the break in ``attrs["breaks"]``), on each
    year's own codes. The snapshot and the embedded default hold less: Telemark's 17
    municipalities by industry 2016-2025 plus every municipality's total and aquaculture for
    2017, on 2024 codes; ``attrs["coverage"]`` says so.
    """
    ctx = _context(source, offline, snapshot, data_dir)
    return _serve("employment by workplace (13470)", ctx, _employment_attempts(ctx))


def _combine_employment(telemark: pd.DataFrame, aqua: pd.DataFrame) -> pd.DataFrame:
    keys = ["region", "industry", "year"]
    extra = aqua.merge(telemark[keys], on=keys, how="left", indicator=True)
    extra = extra[extra["_merge"] == "left_only"].drop(columns="_merge")
    extra["region_label"] = extra["region"]
    frame = pd.concat([telemark, extra[telemark.columns]], ignore_index=True)
    frame = frame.sort_values(keys, ignore_index=True)
    frame.attrs = dict(telemark.attrs)
    frame.attrs["coverage"] = (
        "Telemark's 17 municipalities by 13470 industry group 2016-2025, and every "
        "municipality's total and aquaculture (03.2) employment in Q4 2017 (2024 codes)"
    )
    frame.attrs["region_vintage"] = 2024
    frame.attrs["national"] = False
    return frame


def _employment_attempts(ctx: _Context) -> dict[str, Callable[[], Any]]:
    from regionstats.sources import employment_files as ef

    def live(offline: bool) -> pd.DataFrame:
        from regionstats.sources import live as lv

        frame = lv.employment_from_api(ctx.fetcher(offline=offline))
        frame.attrs["national"] = True
        return _raw_provenance(frame, "raw store" if offline else "api")

    def snap() -> pd.DataFrame:
        folder = ctx.need_snapshot()
        frame = _combine_employment(
            ef.read_13470_telemark(folder), ef.read_13470_aquaculture_2017(folder)
        )
        return _snapshot_provenance(
            frame, ctx, [ef.TELEMARK_FILE, ef.AQUACULTURE_FILE], "statbank 13470 extracts"
        )

    def emb() -> pd.DataFrame:
        telemark = _embedded("employment_13470_telemark")
        frame = _combine_employment(telemark, _embedded("employment_13470_aquaculture_2017"))
        frame.attrs["provenance"] = dict(telemark.attrs.get("provenance") or {})
        return frame

    return _in_order(live, snap, emb)


# ----------------------------------------------------------------------------------------------
# municipality history (KLASS 131), centrality (KLASS 128), split weights


def municipality_history_inputs(
    source: Source = "auto",
    *,
    offline: bool | None = None,
    snapshot: str | Path | None = None,
    data_dir: str | Path | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """KLASS 131 changes (``oldCode, oldName, newCode, newName, changeOccurred``) and code
    lists (``code, name, year``): what :func:`municipality_history` is built from."""
    ctx = _context(source, offline, snapshot, data_dir)
    result = _serve("municipality history (KLASS 131)", ctx, _history_attempts(ctx))
    return result


def _history_attempts(ctx: _Context) -> dict[str, Callable[[], Any]]:
    from regionstats.sources import regions_files as rf

    def live(offline: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
        from regionstats.sources import live as lv

        kwargs: dict[str, Any] = {"store": ctx.store, "offline": offline}
        changes, lists = lv.history_inputs_from_klass(None if offline else ctx.klass(), **kwargs)
        return changes, lists

    def snap() -> tuple[pd.DataFrame, pd.DataFrame]:
        changes, lists = rf.offline_history_inputs(ctx.need_snapshot())
        prov = {
            "source": "snapshot",
            "location": "municipal_changes/gardenberg_kommunekoder/bakgrunnsdata/ (KLASS 131 "
            "lists 2013-2020, SSB change lists) + package data/kommune_endringer_2024.csv",
            "vintage": "KLASS 131 lists 2013-2020 and the changes of 2024-01-01",
            "sha256": None,
            "as_of": None,
        }
        changes.attrs["provenance"] = dict(prov)
        lists.attrs["provenance"] = dict(prov)
        return changes, lists

    def emb() -> tuple[pd.DataFrame, pd.DataFrame]:
        return _embedded("municipality_changes_131"), _embedded("municipality_code_lists_131")

    return _in_order(live, snap, emb)


def history_from_inputs(changes: pd.DataFrame, code_lists: pd.DataFrame) -> CodeHistory:
    """Build the :class:`CodeHistory` from KLASS 131 changes and code lists (pure)."""
    prov = changes.attrs.get("provenance") or {}
    # KLASS answers say which years they cover; the offline lists end with 2024's changes
    last = int(changes.attrs.get("last_year") or OFFLINE_LAST_YEAR)
    return build_history(
        changes,
        code_lists,
        last_year=last,
        source=f"KLASS 131 from {prov.get('source', 'given frames')}",
    )


def municipality_history(
    source: Source = "auto",
    *,
    offline: bool | None = None,
    snapshot: str | Path | None = None,
    data_dir: str | Path | None = None,
) -> CodeHistory:
    """The municipality code history (KLASS 131 changes and code lists) for harmonisation."""
    changes, lists = municipality_history_inputs(
        source, offline=offline, snapshot=snapshot, data_dir=data_dir
    )
    return history_from_inputs(changes, lists)


def centrality_codes(
    edition: int = 2024,
    source: Source = "auto",
    *,
    offline: bool | None = None,
    snapshot: str | Path | None = None,
    data_dir: str | Path | None = None,
) -> pd.DataFrame:
    """KLASS 128 (*sentralitet*) codes of ``edition``: ``code``, ``parentCode``, ``level``,
    ``name``, ``notes`` (level 2 municipalities: parent = class, notes = index 0-1000).

    Live, every edition KLASS publishes; the snapshot and the embedded default hold the
    2020 and 2024 index (edition 2018 raises there, naming the editions they hold)."""
    ctx = _context(source, offline, snapshot, data_dir)
    return _serve(
        f"centrality codes (KLASS 128, edition {edition})", ctx, _centrality_attempts(ctx, edition)
    )


def _centrality_attempts(ctx: _Context, edition: int) -> dict[str, Callable[[], Any]]:
    from regionstats.regions.errors import UnknownEditionError
    from regionstats.sources import regions_files as rf

    offline_editions = (2020, 2024)

    def offline_only() -> None:
        if edition not in offline_editions:
            raise FileNotFoundError(
                f"centrality edition {edition} is not in the offline data (they hold "
                f"{list(offline_editions)}); KLASS online has every edition"
            )

    def live(offline: bool) -> pd.DataFrame:
        from regionstats.sources import live as lv

        return lv.centrality_codes_from_klass(
            None if offline else ctx.klass(), edition, store=ctx.store, offline=offline
        )

    def snap() -> pd.DataFrame:
        offline_only()
        frame = rf.read_centrality_codes(ctx.need_snapshot())
        return _snapshot_provenance(
            frame, ctx, ["klass/klass128_sentralitet_codes_with_index.csv"], "KLASS 128 export"
        )

    def emb() -> pd.DataFrame:
        offline_only()
        return _embedded("centrality_128_codes")

    if edition < 2018:
        raise UnknownEditionError(
            f"centrality edition {edition} does not exist; the six-class index starts in 2018"
        )
    return _in_order(live, snap, emb)


def centrality(
    edition: int = 2024,
    vintage: int | None = None,
    source: Source = "auto",
    *,
    history: CodeHistory | None = None,
    offline: bool | None = None,
    snapshot: str | Path | None = None,
    data_dir: str | Path | None = None,
) -> pd.DataFrame:
    """Centrality classes and index of KLASS 128 ``edition`` for the municipalities of
    ``vintage`` (default the edition's year): ``region``, ``centrality_class`` (1 most central
    ... 6 least central), ``centrality_index``, labels.

    >>> table = centrality(2024, 2024)  # doctest: +SKIP
    >>> table["centrality_class"].value_counts().sort_index().tolist()  # doctest: +SKIP
    [5, 21, 54, 65, 104, 108]
    """
    from regionstats.regions.centrality import centrality_table

    kw: dict[str, Any] = {"offline": offline, "snapshot": snapshot, "data_dir": data_dir}
    codes = centrality_codes(edition, source, **kw)
    hist = history if history is not None else municipality_history(source, **kw)
    return centrality_table(edition, vintage, codes=codes, history=hist)


def split_weights(
    source: Source = "auto",
    *,
    offline: bool | None = None,
    snapshot: str | Path | None = None,
    data_dir: str | Path | None = None,
) -> pd.DataFrame:
    """Weights for the municipalities split in the 2020 reform (``source_region``, ``region``,
    ``weight``): FHI's approximate population shares (no API publishes them)."""
    from regionstats.sources import regions_files as rf

    ctx = _context(source, offline, snapshot, data_dir)

    def snap() -> pd.DataFrame:
        frame = rf.read_fhi_split_weights(ctx.need_snapshot())
        return _snapshot_provenance(
            frame, ctx, ["municipal_changes/norway_municip_merging_b2020.csv"], "fhidata b2020"
        )

    return _serve(
        "split weights (2020 reform)",
        ctx,
        {"snapshot": snap, "embedded": lambda: _embedded("split_weights_2020")},
    )


# ----------------------------------------------------------------------------------------------
# population (07459)


def population(
    vintage: int = 2024,
    source: Source = "auto",
    *,
    history: CodeHistory | None = None,
    weights: pd.DataFrame | None = None,
    offline: bool | None = None,
    snapshot: str | Path | None = None,
    data_dir: str | Path | None = None,
) -> pd.DataFrame:
    """Population on 1 January per municipality and year, on the municipalities of ``vintage``.

    Live (and from a stored vintage): SSB 07459 per municipality as published each year,
    harmonised here to ``vintage`` (:func:`to_vintage`; splits apportioned by
    :func:`population_split_weights` from ``weights``, default :func:`split_weights`, and the
    population itself; the audit in ``attrs["audit"]``). The snapshot and the embedded default
    hold a third-party file already on 2024 boundaries, whose zeros that are not data are
    missing (``".."``), never 0; other vintages are harmonised from it.
    """
    kw: dict[str, Any] = {"offline": offline, "snapshot": snapshot, "data_dir": data_dir}
    ctx = _context(source, offline, snapshot, data_dir)
    frame = _serve("population (07459)", ctx, _population_attempts(ctx))
    on = frame.attrs.get("region_vintage")
    if on is not None and int(on) == int(vintage):
        return frame
    hist = history if history is not None else municipality_history(source, **kw)
    fhi = weights if weights is not None else split_weights(source, **kw)
    w = population_split_weights(frame, fhi) if on is None else fhi
    return to_vintage(frame, vintage, history=hist, weights=w)


def to_vintage(
    frame: pd.DataFrame, vintage: int, *, history: CodeHistory, weights: pd.DataFrame
) -> pd.DataFrame:
    """A municipal tidy frame on the municipalities of ``vintage`` (:func:`regionstats.harmonise`).

    A frame on each year's own codes (``attrs["region_vintage"]`` None, as the APIs publish)
    keeps only the years the code history covers, and drops the cells of codes not in use in
    their year that hold no number (the API lists every code for every year; those cells are
    ``"."`` or ``".."``); a number for such a code raises. Labels come from the history.
    """
    from regionstats.regions.harmonise import harmonise

    on = frame.attrs.get("region_vintage")
    notes = list(frame.attrs.get("notes") or [])
    if on is None:
        early = frame["year"] < history.first_year
        if early.any():
            notes.append(
                f"years before {history.first_year} left out: the municipality code history "
                f"({history.source}) starts then"
            )
        frame = frame[~early]
        valid = [(c, y) for y, codes in history.codes.items() for c in codes]
        keys = pd.MultiIndex.from_arrays([frame["region"], frame["year"].astype("int64")])
        in_use = keys.isin(valid)
        frame = frame[in_use | frame["value"].notna().to_numpy()]
    fallback = (
        dict(zip(frame["region"], frame["region_label"], strict=False))
        if "region_label" in frame
        else {}
    )
    plain = frame.drop(columns=[c for c in frame.columns if c.endswith("_label")])
    plain.attrs = {}
    out = harmonise(
        plain, "municipality", to=int(vintage), weights=weights, history=history,
        source_vintage=None if on is None else int(on),
    )  # fmt: skip
    names = dict(history.names)
    out["region_label"] = out["region"].map(lambda c: names.get(c) or fallback.get(c, c))
    keep = {k: v for k, v in frame.attrs.items() if k not in ("region_vintage", "notes")}
    out.attrs = {**keep, "notes": notes, "audit": out.attrs.get("audit"),
                 "region_vintage": int(vintage)}  # fmt: skip
    return out


def population_split_weights(population: pd.DataFrame, split: pd.DataFrame) -> pd.DataFrame:
    """Weights for every municipality split between the population's years (pure).

    A split whose parts also received other municipalities (5012 Snillfjord into 5055 Heim,
    5056 Hitra and 5059 Orkland in 2020) needs shares of the split code itself: ``split``
    (``source_region``, ``region``, ``weight``; FHI's shares of the 2019 municipalities, used for
    the change of 1 January 2020). A split into wholly new municipalities (1507 Ålesund into
    1508 Ålesund and 1580 Haram in 2024) is apportioned by the parts' own population in the first
    year they exist, taken from ``population``.

    >>> pop = pd.DataFrame({"region": ["1508", "1580"], "year": [2024, 2024],
    ...                     "value": [67_000.0, 9_000.0]})
    >>> fhi = pd.DataFrame({"source_region": ["1850"], "region": ["1806"], "weight": [0.5]})
    >>> population_split_weights(pop, fhi)[["source_region", "region", "year", "weight"]]
      source_region region  year   weight
    0          1850   1806  2019      0.5
    1          <NA>   1508  2024  67000.0
    2          <NA>   1580  2024   9000.0
    """
    own = population.dropna(subset=["value"])[["region", "year", "value"]]
    own = own.rename(columns={"value": "weight"}).assign(source_region=pd.NA)
    named = split.assign(year=2019) if "year" not in split.columns else split
    columns = ["source_region", "region", "year", "weight"]
    out = pd.concat([named[columns], own[columns]], ignore_index=True)
    out["source_region"] = out["source_region"].astype("string")
    out["year"] = out["year"].astype("int64")
    out.attrs["weight_basis"] = (
        f"{split.attrs.get('weight_basis', 'given split shares')} for splits into parts of "
        "other municipalities; otherwise the parts' population (SSB 07459)"
    )
    return out


def _population_attempts(ctx: _Context) -> dict[str, Callable[[], Any]]:
    from regionstats.sources import regions_files as rf

    def live(offline: bool) -> pd.DataFrame:
        from regionstats.sources import live as lv

        frame = lv.population_from_api(ctx.fetcher(offline=offline))
        return _raw_provenance(frame, "raw store" if offline else "api")

    def snap() -> pd.DataFrame:
        frame = rf.read_population_2024_boundaries(ctx.need_snapshot())
        return _snapshot_provenance(
            frame,
            ctx,
            ["population/befolkning_2024_357kommuner_1986_2026.csv"],
            "third-party harmonisation of SSB 07459 to 2024 boundaries",
        )

    return _in_order(live, snap, lambda: _embedded("population_07459_2024"))


# ----------------------------------------------------------------------------------------------
# boundaries (Kartverket)


def boundaries(
    level: Literal["municipality", "county"],
    vintage: int = 2024,
    source: Source = "auto",
    *,
    path: str | Path | None = None,
    code_column: str | None = None,
    offline: bool | None = None,
    snapshot: str | Path | None = None,
    data_dir: str | Path | None = None,
) -> pd.DataFrame:
    """Boundaries of ``level`` for ``vintage`` as a GeoDataFrame (``region``, ``name``,
    ``geometry``, EPSG:4326), simplified for national maps.

    ``path`` (with ``code_column``) reads any Kartverket/Geonorge file geopandas reads. Otherwise
    the snapshot's or the embedded default's 2020 and 2024 boundaries are served (this version
    has no live boundary download; a Geonorge file can be passed with ``path``).
    """
    from regionstats.sources import regions_files as rf

    if path is not None:
        return rf.read_boundaries(level, vintage, path=path, code_column=code_column)
    ctx = _context(source, offline, snapshot, data_dir)

    def snap() -> pd.DataFrame:
        key = (level, int(vintage))
        if key not in rf.SNAPSHOT_BOUNDARIES:
            raise FileNotFoundError(f"the snapshot has no {level} boundaries of {vintage}")
        frame = rf.read_boundaries(level, vintage, snapshot_dir=ctx.need_snapshot())
        name = rf.SNAPSHOT_BOUNDARIES[key][0]
        return _snapshot_provenance(frame, ctx, [f"geo/{name}"], f"Kartverket {vintage}")

    def emb() -> pd.DataFrame:
        from regionstats.sources import embedded

        name = f"boundaries_{level}_{int(vintage)}"
        if name not in embedded.datasets():
            raise FileNotFoundError(f"the embedded default has no {level} boundaries of {vintage}")
        return embedded.read(name)

    return _serve(f"{level} boundaries ({vintage})", ctx, {"snapshot": snap, "embedded": emb})


# ----------------------------------------------------------------------------------------------
# the seam


@dataclass
class Inputs:
    """Every input of one run, each frame with ``attrs["provenance"]``."""

    params: RunParameters
    accounts: pd.DataFrame
    employment: pd.DataFrame
    population: pd.DataFrame
    history_changes: pd.DataFrame
    history_code_lists: pd.DataFrame
    centrality_codes: pd.DataFrame
    split_weights: pd.DataFrame
    municipality_boundaries: pd.DataFrame
    county_boundaries: pd.DataFrame
    centrality_codes_other: pd.DataFrame = field(default_factory=pd.DataFrame)
    history: CodeHistory = field(init=False, repr=False)
    centrality: pd.DataFrame = field(init=False, repr=False)

    def __post_init__(self) -> None:
        from regionstats.regions.centrality import centrality_table
        from regionstats.regions.errors import CentralityVintageWarning

        self.history = history_from_inputs(self.history_changes, self.history_code_lists)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CentralityVintageWarning)
            self.centrality = centrality_table(
                self.params.centrality_edition,
                self.params.municipality_vintage,
                codes=self.centrality_codes,
                history=self.history,
            )

    #: Frames persisted by :func:`save_inputs`, in display order.
    FRAMES: tuple[tuple[str, str], ...] = (
        ("accounts", "regional accounts (SSB 11713)"),
        ("employment", "employment by workplace (SSB 13470)"),
        ("population", "population 1 January (SSB 07459)"),
        ("centrality_codes", "centrality (KLASS 128)"),
        ("history_changes", "municipality changes (KLASS 131)"),
        ("history_code_lists", "municipality code lists (KLASS 131)"),
        ("split_weights", "split weights, 2020 reform (FHI)"),
        ("municipality_boundaries", "municipality boundaries (Kartverket)"),
        ("county_boundaries", "county boundaries (Kartverket)"),
        ("centrality_codes_other", "centrality, other editions (KLASS 128)"),
    )

    @property
    def centrality_editions(self) -> dict[int, pd.DataFrame]:
        """Every centrality edition the inputs hold, each cut for the run's municipality
        vintage: the run's own edition and the others served (for sensitivity analyses)."""
        from regionstats.regions.centrality import centrality_table
        from regionstats.regions.errors import CentralityVintageWarning

        out = {int(self.params.centrality_edition): self.centrality}
        other = self.centrality_codes_other
        if other.empty or "edition" not in other.columns:
            return out
        for edition, codes in other.groupby("edition"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CentralityVintageWarning)
                out[int(edition)] = centrality_table(
                    int(edition),
                    self.params.municipality_vintage,
                    codes=codes.drop(columns="edition").reset_index(drop=True),
                    history=self.history,
                )
        return dict(sorted(out.items()))

    @property
    def sources(self) -> pd.DataFrame:
        """One row per input: which source served it, where from, its vintage and checksum."""
        rows = []
        for attr, label in self.FRAMES:
            prov = getattr(self, attr).attrs.get("provenance") or {}
            rows.append(
                {
                    "input": label,
                    "source": prov.get("source", "unknown"),
                    "location": prov.get("location"),
                    "vintage": prov.get("vintage") or prov.get("updated"),
                    "as_of": prov.get("as_of"),
                    "sha256": prov.get("sha256"),
                }
            )
        return pd.DataFrame(rows)

    def describe(self) -> str:
        """One line per input: ``label: source (vintage)``."""
        return "\n".join(
            f"{r.input}: {r.source}" + (f" ({r.vintage})" if r.vintage else "")
            for r in self.sources.itertuples()
        )


def load_inputs(
    params: RunParameters | Mapping[str, Any] | None = None,
    *,
    source: Source = "auto",
    processed: str | Path | None = None,
    offline: bool | None = None,
    snapshot: str | Path | None = None,
    data_dir: str | Path | None = None,
    accounts: pd.DataFrame | None = None,
) -> Inputs:
    """Every input the analysis needs, each from the first source that can serve it.

    Parameters
    ----------
    params
        :class:`RunParameters` (or a mapping of them); the municipality vintage and the
        centrality edition decide how population and centrality are cut.
    source
        ``"auto"`` (the source order of the module docstring) or one source for every input.
    processed
        A folder written by :func:`save_inputs` (``regionstats update`` and ``regionstats
        report`` write one per run): read it instead of the sources, so every notebook of a run
        sees the same data.
    offline, snapshot, data_dir
        No network; the snapshot folder; the folder holding ``raw/``.
    accounts
        Regional accounts already loaded (``regionstats update`` builds them with a release
        override); default :func:`regional_accounts`.
    """
    p = params if isinstance(params, RunParameters) else RunParameters.from_mapping(params)
    if processed is not None:
        return _read_inputs(Path(processed), p)
    kw: dict[str, Any] = {"offline": offline, "snapshot": snapshot, "data_dir": data_dir}
    if accounts is not None and not accounts.attrs.get("provenance"):
        _raw_provenance(accounts, "raw store")
        accounts.attrs["provenance"]["input"] = "regional accounts (11713)"
    changes, lists = municipality_history_inputs(source, **kw)
    history = history_from_inputs(changes, lists)
    weights = split_weights(source, **kw)
    pop = population(p.municipality_vintage, source, history=history, weights=weights, **kw)
    employment = employment_by_workplace(source, **kw)
    if employment.attrs.get("region_vintage") != p.municipality_vintage:
        # splits apportioned like the population's (the data hold no employment of the parts)
        employment = to_vintage(
            employment,
            p.municipality_vintage,
            history=history,
            weights=population_split_weights(pop, weights),
        )
    return Inputs(
        params=p,
        accounts=accounts if accounts is not None else regional_accounts(source, **kw),
        employment=employment,
        population=pop,
        history_changes=changes,
        history_code_lists=lists,
        centrality_codes=centrality_codes(p.centrality_edition, source, **kw),
        split_weights=weights,
        municipality_boundaries=boundaries("municipality", p.municipality_vintage, source, **kw),
        county_boundaries=boundaries("county", p.municipality_vintage, source, **kw),
        centrality_codes_other=_other_editions(p.centrality_edition, source, kw),
    )


#: Centrality editions tried for the sensitivity of class estimates (those no source can serve
#: are left out; KLASS online serves every one).
SENSITIVITY_EDITIONS = (2018, 2020, 2024)


def _other_editions(edition: int, source: Source, kw: Mapping[str, Any]) -> pd.DataFrame:
    """KLASS 128 codes of the other editions, stacked with an ``edition`` column."""
    from regionstats.regions.errors import UnknownEditionError

    parts = []
    served = []
    for other in SENSITIVITY_EDITIONS:
        if other == edition:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", InputFallbackWarning)
                codes = centrality_codes(other, source, **kw)
        except (InputUnavailable, LookupError, UnknownEditionError):  # not served, not listed
            continue
        served.append({"edition": other, **(codes.attrs.get("provenance") or {})})
        parts.append(codes.assign(edition=other))
    if not parts:
        out = pd.DataFrame({"code": pd.Series(dtype="str"), "edition": pd.Series(dtype="int64")})
    else:
        out = pd.concat(parts, ignore_index=True)
    first = served[0] if served else {}
    out.attrs = {
        "provenance": {
            "source": first.get("source", "none"),
            "location": first.get("location"),
            "vintage": ", ".join(f"edition {d['edition']}" for d in served) or None,
            "sha256": first.get("sha256"),
            "as_of": first.get("as_of"),
            "input": "centrality codes, other editions (KLASS 128)",
            "editions": served,
        }
    }
    return out


INPUTS_FILE = "inputs.json"


def save_inputs(inputs: Inputs, folder: str | Path) -> dict[str, Any]:
    """Write every frame of ``inputs`` to ``folder`` (parquet + sidecar each, checksummed) and
    ``inputs.json`` (parameters and provenance); return that document."""
    from regionstats.sources.processed import write_json_atomic, write_processed

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Any] = {}
    for attr, label in Inputs.FRAMES:
        frame = getattr(inputs, attr)
        if hasattr(frame, "geometry"):
            frame = (
                pd.DataFrame(frame.drop(columns="geometry"))
                .assign(geometry=frame.geometry.to_wkb())
                .rename_axis(None)
            )
            frame.attrs = dict(getattr(inputs, attr).attrs)
            frame.attrs["geometry_wkb"] = True
        attrs = {k: v for k, v in frame.attrs.items() if k != "audit"}
        plain = frame.copy()
        plain.attrs = attrs
        meta = write_processed(plain, f"input_{attr}", folder=out)
        written[attr] = {
            "label": label,
            "file": meta["file"],
            "sha256": meta["sha256"],
            "rows": meta["rows"],
            "provenance": attrs.get("provenance"),
        }
    doc = {
        "format": "regionstats-inputs/1",
        "parameters": inputs.params.as_dict(),
        "inputs": written,
    }
    write_json_atomic(out / INPUTS_FILE, doc)
    return doc


def _read_inputs(folder: Path, params: RunParameters) -> Inputs:
    from regionstats.sources.processed import read_json, read_processed

    if not (folder / INPUTS_FILE).is_file():
        raise InputUnavailable(f"{folder} holds no {INPUTS_FILE} (written by save_inputs)")
    doc = read_json(folder / INPUTS_FILE)
    saved = RunParameters.from_mapping(doc.get("parameters"))
    if (saved.municipality_vintage, saved.centrality_edition) != (
        params.municipality_vintage,
        params.centrality_edition,
    ):
        raise InputUnavailable(
            f"{folder} was saved for municipality vintage {saved.municipality_vintage} and "
            f"centrality edition {saved.centrality_edition}, not "
            f"{params.municipality_vintage}/{params.centrality_edition}"
        )
    frames: dict[str, Any] = {}
    for attr, _label in Inputs.FRAMES:
        if attr == "centrality_codes_other" and attr not in doc.get("inputs", {}):
            continue  # saved before other editions were kept
        frame = read_processed(f"input_{attr}", folder)
        attrs = dict(frame.attrs)
        if attrs.pop("geometry_wkb", False):
            import geopandas as gpd

            geo = gpd.GeoSeries.from_wkb(frame["geometry"], crs="EPSG:4326")
            frame = gpd.GeoDataFrame(frame.drop(columns="geometry"), geometry=geo)
        for key in ("processed_path", "processed_sha256"):
            attrs.pop(key, None)
        frame.attrs = attrs
        frames[attr] = frame
    return Inputs(params=params, **frames)
