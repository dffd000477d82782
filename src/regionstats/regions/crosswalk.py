"""Municipality code history and crosswalks across the 2018, 2020 and 2024 reforms.

A crosswalk maps ``(code, year)`` -- a municipality code as valid on 1 January of ``year`` -- to
``(target, vintage, weight, weight_basis)``: the code(s) of the target vintage covering it and
the share of the source apportioned to each. It is composed from yearly steps of KLASS 131
(*Standard for kommuneinndeling*) ``codeChanges`` (``oldCode -> newCode`` on ``changeOccurred``):

* a code listed once as ``oldCode`` (or not listed) maps wholly to its successor: weight 1
  (unchanged, renumbered, or merged when the successor has several predecessors);
* a code listed with several ``newCode`` is **split**: its weights come from a weight frame
  (see :class:`SplitWeights`); going back in time a merger is a split too
  (4204 Kristiansand of 2020 -> 1001/1017/1018 of 2019).

Composing steps multiplies weights along each path and sums over paths:
:math:`w(s \\to t) = \\sum_{\\text{paths}} \\prod_{k} w_k`.

Everything here is pure; :mod:`regionstats.sources.regions_files` reads the inputs (the snapshot's
SSB lists offline, :class:`regionstats.sources.klass.KlassClient` frames online).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from regionstats.regions.errors import MissingWeightsError, UnknownCodeError

#: Last year covered by the offline history: the offline change lists end with the reform of
#: 2024-01-01 and record no later change, so 2024 codes are taken as valid through this year.
OFFLINE_LAST_YEAR = 2026

CROSSWALK_COLUMNS = [
    "region",
    "year",
    "target",
    "vintage",
    "weight",
    "weight_basis",
    "weight_year",
    "kind",
    "splits",
]


# --- normalising KLASS frames ----------------------------------------------------------------

_CHANGE_ALIASES = {
    "oldCode": "old_code",
    "newCode": "new_code",
    "oldName": "old_name",
    "newName": "new_name",
    "changeOccurred": "change_occurred",
}


def normalise_changes(changes: pd.DataFrame) -> pd.DataFrame:
    """KLASS ``codeChanges`` (camelCase, as the API and :class:`KlassClient` give them, or
    snake_case) -> ``old_code``, ``new_code``, ``old_name``, ``new_name``, ``year`` (int: the year
    from whose 1 January the change applies). Missing codes become ``""``.
    """
    frame = changes.rename(columns=_CHANGE_ALIASES)
    if "year" not in frame.columns:
        if "change_occurred" not in frame.columns:
            raise ValueError(
                "changes need 'changeOccurred' (or 'change_occurred'/'year'); got "
                f"{list(changes.columns)}"
            )
        dates = pd.to_datetime(frame["change_occurred"].astype("str"), errors="raise")
        if ((dates.dt.month != 1) | (dates.dt.day != 1)).any():
            odd = frame.loc[(dates.dt.month != 1) | (dates.dt.day != 1), "change_occurred"]
            raise ValueError(f"changes not on 1 January are not supported: {odd.tolist()[:3]}")
        frame = frame.assign(year=dates.dt.year.astype(int))
    for col in ("old_code", "new_code"):
        if col not in frame.columns:
            raise ValueError(f"changes lack column {col!r} (KLASS: oldCode/newCode)")
        frame[col] = frame[col].astype("object").where(frame[col].notna(), "").astype("str")
    for col in ("old_name", "new_name"):
        if col not in frame.columns:
            frame[col] = ""
        frame[col] = frame[col].astype("object").where(frame[col].notna(), "").astype("str")
    out = frame[["old_code", "new_code", "old_name", "new_name", "year"]]
    return out.drop_duplicates(["old_code", "new_code", "year"]).reset_index(drop=True)


def code_lists_from_klass_codes(
    codes: pd.DataFrame, first_year: int, last_year: int
) -> pd.DataFrame:
    """KLASS ``codes?from=&to=`` rows (``code``, ``name``, ``validFromInRequestedRange``,
    ``validToInRequestedRange``; ``to`` exclusive) -> one row per code and year valid on 1 January.
    """
    frm = next(
        (
            c
            for c in (
                "validFromInRequestedRange",
                "valid_from_in_requested_range",
                "validFrom",
                "valid_from",
            )
            if c in codes.columns
        ),
        None,
    )
    to = next(
        (
            c
            for c in (
                "validToInRequestedRange",
                "valid_to_in_requested_range",
                "validTo",
                "valid_to",
            )
            if c in codes.columns
        ),
        None,
    )
    if frm is None or to is None:
        raise ValueError(f"KLASS codes need validFrom/validTo columns; got {list(codes.columns)}")

    def _year(value: object) -> int | None:
        if value is None or (not isinstance(value, str) and pd.isna(value)) or value == "":
            return None
        return int(pd.Timestamp(value).year)

    rows = []
    cols = (codes["code"], codes["name"], codes[frm], codes[to])
    for code, name, start, end in zip(*cols, strict=True):
        y_start, y_end = _year(start), _year(end)
        y0 = y_start if y_start is not None else first_year
        y1 = y_end - 1 if y_end is not None else last_year
        for year in range(max(y0, first_year), min(y1, last_year) + 1):
            rows.append({"code": str(code), "name": str(name), "year": year})
    return pd.DataFrame(rows)


# --- the code history ------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeHistory:
    """Municipality codes valid on 1 January of each year and the changes between years.

    Build with :func:`build_history`. ``codes[year]`` is the set of codes of that year;
    ``changes`` holds normalised change rows (see :func:`normalise_changes`).
    """

    codes: Mapping[int, frozenset[str]]
    names: Mapping[str, str]
    changes: pd.DataFrame
    source: str = ""
    _steps: dict[int, dict[str, tuple[str, ...]]] = field(default_factory=dict, repr=False)

    @property
    def first_year(self) -> int:
        return min(self.codes)

    @property
    def last_year(self) -> int:
        return max(self.codes)

    def valid_years(self, code: str) -> list[int]:
        return [y for y in sorted(self.codes) if code in self.codes[y]]

    def validity(self, code: str) -> str:
        """Human description of when ``code`` is valid, e.g. ``"valid 2013-2019"``."""
        years = self.valid_years(code)
        if not years:
            return (
                f"not a municipality code in {self.first_year}-{self.last_year} "
                f"(history from {self.source or 'the given changes'})"
            )
        runs: list[list[int]] = [[years[0], years[0]]]
        for y in years[1:]:
            if y == runs[-1][1] + 1:
                runs[-1][1] = y
            else:
                runs.append([y, y])
        parts = []
        for a, b in runs:
            left = "" if a == self.first_year else str(a)
            right = "" if b == self.last_year else str(b)
            parts.append(f"{left}-{right}" if a != b or not left or not right else str(a))
        name = self.names.get(code, "")
        return (
            f"{code} {name}".strip()
            + " is valid "
            + ", ".join(parts)
            + (f" (history covers {self.first_year}-{self.last_year})")
        )

    def check(self, code: str, year: int) -> None:
        """Raise :class:`UnknownCodeError` unless ``code`` is valid in ``year``."""
        if year not in self.codes:
            raise UnknownCodeError(
                f"year {year} is outside the municipality history "
                f"{self.first_year}-{self.last_year} (code {code!r})"
            )
        if code not in self.codes[year]:
            raise UnknownCodeError(
                f"municipality code {code!r} is not valid in {year}: {self.validity(code)}"
            )

    def forward_step(self, year: int) -> dict[str, tuple[str, ...]]:
        """Codes of ``year - 1`` -> their successors in ``year``."""
        if year not in self._steps:
            rows = self.changes[self.changes["year"] == year]
            succ: dict[str, list[str]] = defaultdict(list)
            for old, new in zip(rows["old_code"], rows["new_code"], strict=True):
                if old:
                    if new and new not in succ[old]:
                        succ[old].append(new)
                    else:
                        succ.setdefault(old, [])
            step = {}
            for code in self.codes[year - 1]:
                step[code] = tuple(sorted(succ[code])) if code in succ else (code,)
            self._steps[year] = step
        return self._steps[year]

    def backward_step(self, year: int) -> dict[str, tuple[str, ...]]:
        """Codes of ``year`` -> the codes of ``year - 1`` they came from."""
        key = -year
        if key not in self._steps:
            pred: dict[str, list[str]] = defaultdict(list)
            for old, news in self.forward_step(year).items():
                for new in news:
                    pred[new].append(old)
            self._steps[key] = {c: tuple(sorted(pred.get(c, ()))) for c in self.codes[year]}
        return self._steps[key]


def build_history(
    changes: pd.DataFrame,
    code_lists: pd.DataFrame,
    *,
    first_year: int | None = None,
    last_year: int | None = None,
    source: str = "",
) -> CodeHistory:
    """Build the yearly code sets from KLASS changes and one or more KLASS 131 code lists.

    The earliest code list is the anchor; later years apply the changes forward
    (:math:`C_Y = (C_{Y-1} \\setminus \\mathrm{old}_Y) \\cup \\mathrm{new}_Y`), earlier years
    backward. Every other code list given is checked against the result, so inconsistent inputs
    fail loudly (naming the year and the codes that differ).

    Parameters
    ----------
    changes
        KLASS ``codeChanges`` rows (see :func:`normalise_changes`).
    code_lists
        ``code``, ``year`` (and optionally ``name``): the codes valid on 1 January of each year.
    first_year, last_year
        Range of the history (default: from the anchor year to the last change or list).
    """
    ch = normalise_changes(changes)
    lists = code_lists.copy()
    lists["code"] = lists["code"].astype("str")
    years_listed = sorted(int(y) for y in lists["year"].unique())
    if not years_listed:
        raise ValueError("build_history needs at least one code list")
    anchor = years_listed[0]
    first = anchor if first_year is None else first_year
    last = (
        max(years_listed[-1], int(ch["year"].max()) if len(ch) else anchor)
        if last_year is None
        else last_year
    )
    by_year = {y: frozenset(lists.loc[lists["year"] == y, "code"]) for y in years_listed}
    codes: dict[int, frozenset[str]] = {anchor: by_year[anchor]}
    for year in range(anchor + 1, last + 1):
        rows = ch[ch["year"] == year]
        olds = {c for c in rows["old_code"] if c}
        news = {c for c in rows["new_code"] if c}
        missing = olds - codes[year - 1]
        if missing:
            raise ValueError(
                f"changes of {year} start from codes not valid in {year - 1}: {sorted(missing)}"
            )
        codes[year] = frozenset((codes[year - 1] - olds) | news)
        if year in by_year and codes[year] != by_year[year]:
            diff = sorted(codes[year] ^ by_year[year])
            raise ValueError(
                f"code list of {year} disagrees with the list of {anchor} plus the changes: "
                f"codes {diff[:10]} differ"
            )
    for year in range(anchor, first, -1):
        rows = ch[ch["year"] == year]
        olds = {c for c in rows["old_code"] if c}
        news = {c for c in rows["new_code"] if c}
        codes[year - 1] = frozenset((codes[year] - news) | olds)
    names: dict[str, str] = {}
    if "name" in lists.columns:
        names.update(zip(lists["code"], lists["name"].astype("str"), strict=True))
    for col_code, col_name in (("new_code", "new_name"), ("old_code", "old_name")):
        for code, name in zip(ch[col_code], ch[col_name], strict=True):
            names.setdefault(code, name)
    names.pop("", None)
    return CodeHistory(
        codes={y: codes[y] for y in sorted(codes) if first <= y <= last},
        names=names,
        changes=ch,
        source=source,
    )


# --- weights for splits ----------------------------------------------------------------------


class SplitWeights:
    """Weights that apportion a split code among its successors.

    ``frame`` columns: ``region`` (successor code), ``weight`` (e.g. population), optional
    ``year`` and optional ``source_region`` (the code being split). Shares are the weights
    normalised over the successors of one split: :math:`w_t / \\sum_{t'} w_{t'}`.

    * With ``source_region``: rows for that split are used (needed when the successors also
      receive other municipalities, e.g. 5012 Snillfjord's parts of Heim, Hitra and Orkland,
      where the successors' own totals do not measure the parts).
    * Without: the successors' weights are used, allowed only for *full* splits whose
      successors come wholly from the split code (1507 Ålesund -> 1508 Ålesund + 1580 Haram).
    * With ``year``: the year before the split (``Y - 1`` for a change on 1 January ``Y``) is
      used, else the year ``Y`` itself.

    ``basis`` (or ``frame.attrs["weight_basis"]``) names the weights in the audit.
    """

    def __init__(self, frame: pd.DataFrame | None, basis: str | None = None) -> None:
        self.frame = frame
        if frame is not None:
            need = {"region", "weight"}
            if not need <= set(frame.columns):
                raise ValueError(
                    f"weights need columns 'region' and 'weight' (optional 'year', "
                    f"'source_region'); got {list(frame.columns)}"
                )
        self.basis = basis or (frame.attrs.get("weight_basis") if frame is not None else None)
        self.basis = self.basis or ("user weights" if frame is not None else "none")

    def resolve(
        self, year: int, source: str, targets: tuple[str, ...], full: bool
    ) -> tuple[dict[str, float], int | None] | None:
        """Shares of ``source`` for ``targets`` at a change on 1 January ``year``, or None."""
        if self.frame is None:
            return None
        f = self.frame
        if "source_region" in f.columns:
            rows = f[(f["source_region"] == source) & f["region"].isin(targets)]
            if rows.empty and not full:
                return None
            if rows.empty:
                rows = f[f["source_region"].isna() & f["region"].isin(targets)]
        elif full:
            rows = f[f["region"].isin(targets)]
        else:
            return None
        used_year: int | None = None
        if "year" in f.columns and not rows.empty:
            for candidate in (year - 1, year):
                sub = rows[rows["year"] == candidate]
                if set(sub["region"]) >= set(targets):
                    rows, used_year = sub, candidate
                    break
            else:
                return None
        if set(rows["region"]) != set(targets) or rows["region"].duplicated().any():
            return None
        weights = dict(zip(rows["region"], rows["weight"].astype(float), strict=True))
        total = sum(weights.values())
        if not np.isfinite(total) or total <= 0:
            return None
        return {t: weights[t] / total for t in targets}, used_year


# --- composing steps -------------------------------------------------------------------------


@dataclass
class _Edge:
    weight: float
    splits: list[str]
    weight_years: set[int]


def compose(
    history: CodeHistory,
    from_year: int,
    to: int,
    weights: SplitWeights | None = None,
    *,
    require_weights: bool = True,
    sources: Iterable[str] | None = None,
) -> dict[str, dict[str, _Edge]]:
    """Map codes of ``from_year`` to codes of vintage ``to`` (either direction in time).

    Returns ``{source: {target: edge}}``; a split without usable weights raises
    :class:`MissingWeightsError` if ``require_weights``, else gets weight NaN.
    """
    for y in (from_year, to):
        if y not in history.codes:
            raise UnknownCodeError(
                f"year {y} is outside the municipality history {history.first_year}-"
                f"{history.last_year}"
            )
    weights = weights or SplitWeights(None)
    start = sorted(sources) if sources is not None else sorted(history.codes[from_year])
    state: dict[str, dict[str, _Edge]] = {s: {s: _Edge(1.0, [], set())} for s in start}
    if to >= from_year:
        years = list(range(from_year + 1, to + 1))
        steps = [(y, history.forward_step(y)) for y in years]
    else:
        years = list(range(from_year, to, -1))
        steps = [(y, history.backward_step(y)) for y in years]
    for year, step in steps:
        indeg: dict[str, int] = defaultdict(int)
        for step_outs in step.values():
            for t in step_outs:
                indeg[t] += 1
        for source, current in state.items():
            new: dict[str, _Edge] = {}
            for code, edge in current.items():
                outs = step.get(code)
                if outs is None:  # pragma: no cover - guarded by the history
                    raise UnknownCodeError(f"code {code!r} missing from the step into {year}")
                if len(outs) == 0:
                    continue
                if len(outs) == 1:
                    shares: dict[str, float] = {outs[0]: 1.0}
                    wyear = None
                    label = None
                else:
                    full = all(indeg[t] == 1 for t in outs)
                    got = weights.resolve(year, code, outs, full)
                    label = f"{code}->{'/'.join(outs)}@{year}"
                    if got is None:
                        if require_weights:
                            kind = "full" if full else "partial"
                            hint = (
                                "a weights frame with 'region', 'weight' (and 'year')"
                                if full
                                else "a weights frame with a 'source_region' column for this "
                                "split (its successors also receive other municipalities, "
                                "so their totals do not measure the parts)"
                            )
                            raise MissingWeightsError(
                                f"municipality {code} {history.names.get(code, '')} is split "
                                f"({kind}) at 1 January {year} into {', '.join(outs)}"
                                f"{' (going back in time)' if to < from_year else ''}; "
                                f"no weights cover it (basis: {weights.basis}). Pass {hint}, "
                                "or use exact=True"
                            )
                        shares = {t: np.nan for t in outs}
                        wyear = None
                    else:
                        shares, wyear = got
                for t, share in shares.items():
                    e = new.setdefault(t, _Edge(0.0, [], set()))
                    e.weight += edge.weight * share
                    e.splits = sorted(
                        set(e.splits) | set(edge.splits) | ({label} if label else set())
                    )
                    e.weight_years |= edge.weight_years | ({wyear} if wyear else set())
            state[source] = new
    return state


def _kinds(mapping: Mapping[str, Mapping[str, _Edge]]) -> dict[tuple[str, str], str]:
    preds: dict[str, set[str]] = defaultdict(set)
    for s, targets in mapping.items():
        for t in targets:
            preds[t].add(s)
    kinds = {}
    for s, targets in mapping.items():
        for t in targets:
            if len(targets) > 1:
                kinds[(s, t)] = "split"
            elif len(preds[t]) > 1:
                kinds[(s, t)] = "merged"
            else:
                kinds[(s, t)] = "unchanged" if s == t else "renumbered"
    return kinds


def crosswalk(
    history: CodeHistory,
    to: int,
    *,
    years: Iterable[int] | None = None,
    weights: SplitWeights | pd.DataFrame | None = None,
    require_weights: bool = False,
) -> pd.DataFrame:
    """The crosswalk ``(region, year) -> (target, vintage, weight, weight_basis)`` into ``to``.

    One row per source code valid in each of ``years`` (default: every year of the history)
    and target. ``kind`` is ``unchanged``, ``renumbered``, ``merged`` or ``split``; ``splits``
    names the split steps on the path (``"5012->5055/5056/5059@2020"``). Splits without weights
    get ``weight`` NaN (``require_weights=False``) -- :func:`regionstats.harmonise` refuses them.
    """
    sw = weights if isinstance(weights, SplitWeights) else SplitWeights(weights)
    rows = []
    for year in sorted(years) if years is not None else sorted(history.codes):
        mapping = compose(history, year, to, sw, require_weights=require_weights)
        kinds = _kinds(mapping)
        for s, targets in mapping.items():
            for t, e in targets.items():
                rows.append(
                    {
                        "region": s,
                        "year": year,
                        "target": t,
                        "vintage": to,
                        "weight": e.weight,
                        "weight_basis": (
                            "identity"
                            if not e.splits
                            else (sw.basis if e.weight == e.weight else "")
                        ),
                        "weight_year": min(e.weight_years) if e.weight_years else pd.NA,
                        "kind": kinds[(s, t)],
                        "splits": ";".join(e.splits),
                    }
                )
    out = pd.DataFrame(rows, columns=CROSSWALK_COLUMNS)
    out["year"] = out["year"].astype(int)
    out["vintage"] = out["vintage"].astype(int)
    out["weight_year"] = out["weight_year"].astype("Int64")
    for col in ("region", "target", "weight_basis", "kind", "splits"):
        out[col] = out[col].astype("str")
    return out


def require_history(history: CodeHistory | None, what: str) -> CodeHistory:
    """``history`` itself, or a :class:`TypeError` saying where to get one (no hidden default)."""
    if history is None:
        raise TypeError(
            f"{what} needs history= (a CodeHistory): pass regionstats.municipality_history() "
            "or the history of regionstats.load_inputs(...)"
        )
    return history


def build_crosswalks(
    changes: pd.DataFrame,
    code_lists: pd.DataFrame,
    vintages: Iterable[int] = (2020, 2024),
    *,
    last_year: int | None = None,
    weights: pd.DataFrame | None = None,
) -> dict[int, pd.DataFrame]:
    """Rebuild every crosswalk from KLASS inputs: ``{vintage: crosswalk frame}``.

    The one command to rerun when a new year's classification appears: pass the changes and
    code lists (as served by :func:`regionstats.municipality_history_inputs`: live KLASS 131, a
    stored vintage, the snapshot or the embedded default) and write the result with
    :func:`regionstats.sources.regions_files.write_crosswalks`.
    """
    history = build_history(changes, code_lists, last_year=last_year)
    return {v: crosswalk(history, v, weights=weights) for v in vintages}
