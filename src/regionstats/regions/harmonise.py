"""Harmonise any tidy frame to one municipality or county vintage across reforms.

``harmonise(frame, level, to, weights=None, exact=False)``:

* **merges** are sums (via :func:`regionstats.model.aggregate`, so a part carrying ``:`` makes
  the aggregate ``:``; a missing part is never read as 0);
* **splits** are apportioned: a source value :math:`v` goes to successor *t* as :math:`v\\,w_t`
  with :math:`\\sum_t w_t = 1` (the last part takes :math:`v - \\sum_{t<T} v\\,w_t` so that the
  parts add back to :math:`v`); weights come from ``weights`` (see
  :class:`regionstats.regions.crosswalk.SplitWeights`); a split without weights raises
  :class:`MissingWeightsError`, never a silent NaN;
* ``exact=True`` instead aggregates to the coarsest common regions -- the connected components
  of the source/target graph -- coded ``"5055+5056+5059"`` when several targets are joined;
  no weights are needed.

The result carries ``attrs["audit"]``: one row per code merged, split, renumbered or moved with
the share reallocated, the weights used and the value moved. It is stored once (an
:class:`AuditTable`): frames derived from the result share it instead of deep-copying it on
every pandas operation.

Unlike klassR (NA for split municipalities) and csdata (population weights only), the weight basis
is a choice and recorded; unlike norgeo, splits are weighted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from regionstats.model import STATUS, VALUE, aggregate
from regionstats.regions.counties import county_mapping
from regionstats.regions.crosswalk import (
    CodeHistory,
    SplitWeights,
    _kinds,
    compose,
    require_history,
)
from regionstats.regions.errors import DuplicateRegionError, UnknownCodeError

AUDIT_COLUMNS = [
    "region",
    "target",
    "kind",
    "share",
    "weight_basis",
    "weight_year",
    "moved",
    "first_year",
    "last_year",
    "rows",
    "value_moved",
]


class AuditTable(pd.DataFrame):
    """The harmonisation audit kept in ``result.attrs["audit"]``.

    A plain DataFrame except for two things:

    * its truth value: ``bool(a == b)`` is "every cell equal", so pandas can compare ``attrs``
      holding an audit (``pd.concat`` of harmonised frames keeps the audit when the parts share
      it and drops it otherwise, instead of raising);
    * ``copy.deepcopy`` returns the audit itself. pandas deep-copies ``attrs`` on every
      operation on a frame (each filter, merge, ``assign``); the audit is stored once and
      shared by every frame derived from the harmonised one instead of being copied each time.
      Treat it as read-only; ``audit.copy()`` gives an independent copy.

    Examples
    --------
    >>> import copy
    >>> a = AuditTable({"region": ["0101"], "target": ["3001"]})
    >>> copy.deepcopy(a) is a, a.copy() is a
    (True, False)
    """

    @property
    def _constructor(self) -> type[AuditTable]:
        return AuditTable

    def __bool__(self) -> bool:
        return bool(self.to_numpy().all()) if self.size else True

    def __deepcopy__(self, memo: dict[int, object] | None = None) -> AuditTable:
        return self


def identity_columns(frame: pd.DataFrame) -> list[str]:
    """Identity columns of a tidy frame: everything but ``value``, ``status`` and ``*_label``."""
    return [c for c in frame.columns if c not in (VALUE, STATUS) and not c.endswith("_label")]


def _exact_groups(regions: list[str], code_years: list[int], targets: list[str]) -> dict[str, str]:
    """Target code -> the ``"+"``-joined code of its connected component (exact mode).

    Targets reached from one source code (``region`` in one ``code_year``) are joined; the
    components of that relation are the coarsest common regions.
    """
    uf = _UnionFind()
    first: dict[tuple[str, int], str] = {}
    for s, y, t in zip(regions, code_years, targets, strict=True):
        head = first.setdefault((s, y), t)
        uf.find(t)
        if head != t:
            uf.union(head, t)
    members: dict[str, set[str]] = {}
    for t in uf.parent:
        members.setdefault(uf.find(t), set()).add(t)
    return {t: "+".join(sorted(members[uf.find(t)])) for t in uf.parent}


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def harmonise(
    frame: pd.DataFrame,
    level: Literal["municipality", "county"],
    to: int,
    weights: pd.DataFrame | None = None,
    exact: bool = False,
    *,
    source_vintage: int | None = None,
    history: CodeHistory | None = None,
    split_weights: pd.DataFrame | None = None,
    passthrough: Sequence[str] = ("0",),
) -> pd.DataFrame:
    """Map a tidy frame's ``region`` codes to the ``to`` vintage of ``level``.

    Parameters
    ----------
    frame
        Tidy frame with ``region`` (string codes), ``year`` (int), ``value`` and optionally
        ``status``; every column not ``value``/``status``/``*_label`` is an identity column.
    level
        ``"municipality"`` (4-char codes) or ``"county"`` (2-char codes).
    to
        Target vintage: the year whose codes the result uses (2020, 2024, ...).
    weights
        Municipality: a frame ``region``, ``weight`` (+ ``year``, + ``source_region``) for the
        splits (population or employment of the year before the split, or any user weights;
        ``attrs["weight_basis"]`` names them in the audit). County: municipal weights of the data
        years (``region`` 4-char codes of that year, ``year``, ``weight``) or county shares
        (``source_region``, ``region``, ``weight``).
    exact
        Aggregate to the coarsest common regions instead of apportioning splits.
    source_vintage
        The vintage of the input's codes when it is not the data year (a frame already on
        2024 boundaries for every year); default ``frame.attrs.get("region_vintage")``, else
        each row's codes are those of its ``year``.
    history
        The municipality code history (required: :func:`regionstats.municipality_history`
        or ``load_inputs(...).history``).
    split_weights
        County level only: weights for municipalities split across counties.
    passthrough
        Codes kept as they are (the national total ``"0"``).

    Raises
    ------
    UnknownCodeError
        A code not valid in its year (named with its validity period).
    MissingWeightsError
        A split that no weights cover.
    DuplicateRegionError
        Duplicate identities in the input or the result.
    """
    if level not in ("municipality", "county"):
        raise ValueError(f"level must be 'municipality' or 'county', got {level!r}")
    for col in ("region", "year", VALUE):
        if col not in frame.columns:
            raise ValueError(f"harmonise needs column {col!r}; has {list(frame.columns)}")
    work = frame.copy()
    if STATUS not in work.columns:
        work[STATUS] = pd.array([pd.NA] * len(work), dtype="string")
    ids = identity_columns(work)
    dup = work.duplicated(ids)
    if dup.any():
        example = work.loc[dup, ids].iloc[0].to_dict()
        raise DuplicateRegionError(
            f"input has {int(dup.sum())} duplicate identities over {ids}, e.g. {example}"
        )
    width = 4 if level == "municipality" else 2
    history = require_history(history, "harmonise")
    if source_vintage is None:
        source_vintage = frame.attrs.get("region_vintage")
    to = int(to)

    work["region"] = work["region"].astype("str")
    keep = work["region"].isin(list(passthrough))
    passed = work[keep]
    work = work[~keep].reset_index(drop=True)
    bad_width = work["region"].str.len() != width
    if bad_width.any():
        bad = work.loc[bad_width, "region"].iloc[0]
        raise UnknownCodeError(
            f"{level} codes must have {width} characters; got {bad!r} ({int(bad_width.sum())} rows)"
        )
    work["_code_year"] = (
        int(source_vintage) if source_vintage is not None else work["year"].astype(int)
    )
    if level == "county":
        work["_code_year"] = work["_code_year"].clip(lower=history.first_year)

    sw = SplitWeights(weights if level == "municipality" else split_weights)
    edges: list[dict[str, object]] = []
    group_cols = ["_code_year", "year"] if level == "county" else ["_code_year"]
    # one mapping per code year (and data year for counties), built from the distinct codes
    combos = work[[*group_cols, "region"]].drop_duplicates()
    for key, part in combos.groupby(group_cols, sort=True)["region"]:
        key = key if isinstance(key, tuple) else (key,)
        code_year = int(key[0])
        data_year = int(key[1]) if level == "county" else None
        codes = set(part.tolist())
        if level == "municipality":
            for code in sorted(codes):
                history.check(code, code_year)
            mapping = compose(history, code_year, to, sw, require_weights=not exact, sources=codes)
            full = compose(history, code_year, to, sw, require_weights=False)
            kinds = _kinds(full)
            for s in sorted(codes):
                for t, e in mapping[s].items():
                    edges.append(
                        {
                            "region": s,
                            "_code_year": code_year,
                            "_data_year": None,
                            "target": t,
                            "weight": e.weight,
                            "kind": kinds[(s, t)],
                            "weight_basis": sw.basis if e.splits else "identity",
                            "weight_year": min(e.weight_years) if e.weight_years else pd.NA,
                            "moved": ";".join(e.splits),
                        }
                    )
        else:
            cmap = county_mapping(
                history,
                code_year,
                data_year if data_year is not None else code_year,
                to,
                weights=weights,
                split_weights=sw,
                exact=exact,
                sources=codes,
            )
            for s in sorted(codes):
                for t, ce in cmap[s].items():
                    edges.append(
                        {
                            "region": s,
                            "_code_year": code_year,
                            "_data_year": data_year,
                            "target": t,
                            "weight": ce.weight,
                            "kind": ce.kind,
                            "weight_basis": ce.basis,
                            "weight_year": data_year if ce.kind == "split" else pd.NA,
                            "moved": ce.moved,
                        }
                    )
    emap = pd.DataFrame(edges)
    if emap.empty:
        emap = pd.DataFrame(
            columns=["region", "_code_year", "_data_year", "target", "weight", "kind",
                     "weight_basis", "weight_year", "moved"]
        )  # fmt: skip

    if exact:
        group_code = _exact_groups(
            emap["region"].tolist(), emap["_code_year"].tolist(), emap["target"].tolist()
        )
        emap["target"] = emap["target"].map(group_code)
        emap = emap.drop_duplicates(["region", "_code_year", "_data_year", "target"]).copy()
        emap["weight"] = 1.0
        emap["weight_basis"] = "exact (no weights)"
        emap["weight_year"] = pd.NA

    join_keys = ["region", "_code_year"] + (["year"] if level == "county" else [])
    emap = (
        emap.rename(columns={"_data_year": "year"})
        if level == "county"
        else emap.drop(columns="_data_year")
    )
    if level == "county":
        emap["year"] = emap["year"].astype(int)
    work["_row"] = np.arange(len(work))
    expanded = work.merge(emap, on=join_keys, how="left", validate="many_to_many")
    if expanded["target"].isna().any():
        lost = expanded.loc[expanded["target"].isna(), ["region", "year"]].iloc[0].to_dict()
        raise UnknownCodeError(f"no successor in {to} for {lost} (code ceased without successor)")
    # apportion; the last part of each split row takes the remainder so the parts add to v
    # (a stable sort by row, then target: np.lexsort on the targets' sorted codes)
    target_code = pd.factorize(expanded["target"], sort=True)[0]
    order = np.lexsort((target_code, expanded["_row"].to_numpy()))
    expanded = expanded.take(order).reset_index(drop=True)
    rows = expanded["_row"].to_numpy()
    value = expanded[VALUE].to_numpy(dtype=float)
    part = value * expanded["weight"].to_numpy(dtype=float)
    split = np.bincount(rows, minlength=len(work))[rows] > 1
    if split.any():  # only rows apportioned to several targets need the remainder
        is_last = np.r_[rows[1:] != rows[:-1], True]
        sub = pd.Series(part[split])
        others = sub.groupby(rows[split]).transform("sum").to_numpy() - part[split]
        part[split & is_last] = (value[split] - others)[is_last[split]]
    expanded["_part"] = part

    # audit
    moved_rows = expanded[
        (expanded["kind"] != "unchanged") | (expanded["region"] != expanded["target"])
    ]
    by_move = moved_rows.groupby(
        ["region", "target", "kind", "weight", "weight_basis", "moved"], dropna=False, sort=True
    )
    audit = by_move.agg(
        weight_year=("weight_year", "first"),
        first_year=("year", "min"),
        last_year=("year", "max"),
        rows=("_row", "size"),
    )
    audit["value_moved"] = by_move["_part"].sum(min_count=1)
    audit = audit.reset_index().rename(columns={"weight": "share"})
    audit = AuditTable(
        audit[AUDIT_COLUMNS].sort_values(["first_year", "region", "target"]).reset_index(drop=True)
    )

    # aggregate
    other_ids = [c for c in ids if c != "region"]
    agg_in = expanded.drop(columns=["region"]).rename(columns={"target": "region"})
    agg_in[VALUE] = agg_in["_part"]
    result = aggregate(agg_in, ["region", *other_ids])
    if len(passed):
        result = pd.concat([passed[[*ids, VALUE, STATUS]], result], ignore_index=True)
    labels = [c for c in frame.columns if c.endswith("_label") and c != "region_label"]
    for lab in labels:
        base = lab.removesuffix("_label")
        if base in frame.columns:
            lookup = frame.drop_duplicates(base).set_index(base)[lab]
            result[lab] = result[base].map(lookup)
    if "region_label" in frame.columns:
        if level == "municipality":
            names = {
                code: " + ".join(history.names.get(c, "") for c in code.split("+"))
                for code in result["region"].unique().tolist()
            }
            result["region_label"] = result["region"].map(names)
        else:
            result["region_label"] = pd.Series(pd.NA, index=result.index, dtype=object)
        if len(passed):
            pl = frame.drop_duplicates("region").set_index("region")["region_label"]
            isp = result["region"].isin(list(passthrough))
            result.loc[isp, "region_label"] = result.loc[isp, "region"].map(pl)
    # the aggregate is unique by construction: only codes passed through can collide with it
    dup_out = result.duplicated(ids) if len(passed) else np.zeros(len(result), dtype=bool)
    if dup_out.any():
        example = result.loc[dup_out, ids].iloc[0].to_dict()
        raise DuplicateRegionError(
            f"harmonisation produced {int(dup_out.sum())} duplicate identities, e.g. {example}: "
            "the input mixes codes that cover the same area (e.g. an aggregate and its parts)"
        )
    result["region"] = result["region"].astype("str")
    result[STATUS] = result[STATUS].astype("string")
    result = result.sort_values(["region", *other_ids], kind="stable").reset_index(drop=True)
    attrs = {k: v for k, v in frame.attrs.items() if k not in ("audit",)}
    attrs.update(
        {
            "region_vintage": to,
            "level": level,
            "harmonisation": {
                "to": to,
                "exact": exact,
                "weight_basis": "exact (no weights)" if exact else sw.basis,
                "source_vintage": source_vintage,
            },
            "audit": audit,
        }
    )
    result.attrs = attrs
    return result
