"""Industry scopes of the regional accounts (11713): named sums and differences of industries.

A :class:`Scope` is ``plus`` industries minus ``minus`` industries/sectors of table 11713, with the
codes of :data:`regionstats.sources.ssb_quirks.INDUSTRIES_11713`:

.. math:: X_{\\text{scope}} = \\sum_{i \\in \\text{plus}} X_i - \\sum_{j \\in \\text{minus}} X_j

for any additive measure :math:`X` (value added, employed persons, compensation, investment).
Status symbols propagate: a scope with a suppressed (``":"``) part is suppressed, with value NaN
(:func:`regionstats.model.aggregate`); nothing missing is ever read as 0.

Named scopes (:data:`SCOPES`; list them with :func:`list_scopes`):

``"all"``
    All industries ("Totalt for næringer", ``TOTAL``). For the whole country (``"0"``) this
    includes the continental shelf (*sokkelen*) and Svalbard, which no county has.
``"business"``
    The market sector: ``TOTAL`` minus general government (``GOV_CENTRAL`` + ``GOV_LOCAL``,
    *offentlig forvaltning*) minus owner-occupied dwellings (``68.2b``, *boligtjenester, egen
    bolig*, an imputed service). It excludes public administration and other non-market activity
    of general government (government schools, hospitals, care...) and imputed housing services.
``"business_excl_finance"``
    ``business`` minus finance and insurance (``64-66``).
``"excl_petroleum"``
    ``TOTAL`` minus petroleum extraction incl. services (``06_09.1``) and pipeline transport
    (``49.5``). County rows hold no continental-shelf activity anyway (it is in ``"0"`` only); for
    ``"0"`` this removes the shelf's petroleum and pipeline activity but not other shelf activity.
``"business_excl_finance_petroleum"``
    ``business`` minus ``64-66`` minus ``06_09.1`` minus ``49.5``.

Owner-occupied dwellings (``68.2b``) have no employed persons and no compensation of employees
by definition (an imputed rent of owner-occupiers); 11713 shows ``".."``/``":"`` there (and the
snapshot's workbook has 2019 compensation equal to its value added, a copying slip). Scope sums
of ``employed_persons`` and ``compensation`` therefore leave ``68.2b`` out
(:data:`NO_LABOUR_INDUSTRIES`) unless it is the scope's only industry.

User-defined scopes: :meth:`Scope.from_industries` (a sum of industries). Unknown codes raise
:class:`UnknownIndustryError` listing the valid ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from regionstats.model import STATUS, VALUE, aggregate
from regionstats.sources.ssb_quirks import INDUSTRIES_11713, TOP_LEVEL_INDUSTRIES

#: Every industry/sector code of 11713 known to regionstats.
KNOWN_INDUSTRIES: tuple[str, ...] = tuple(code for code, _parent in INDUSTRIES_11713.values())

_GOV = ("GOV_CENTRAL", "GOV_LOCAL")
_DWELLINGS = "68.2b"
_FINANCE = "64-66"
_PETROLEUM = ("06_09.1", "49.5")

#: Industries without employed persons or compensation by definition (imputed services).
NO_LABOUR_INDUSTRIES: frozenset[str] = frozenset({"68.2b"})
#: Measures left out for :data:`NO_LABOUR_INDUSTRIES` in scope sums.
LABOUR_MEASURES: frozenset[str] = frozenset({"employed_persons", "compensation"})


class UnknownIndustryError(KeyError):
    """A scope names an industry code that 11713 does not have."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0]) if self.args else ""


class UnknownScopeError(KeyError):
    """A scope name that is not in :data:`SCOPES`."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _check_codes(codes: Iterable[str], known: Iterable[str] = KNOWN_INDUSTRIES) -> None:
    known_set = set(known)
    unknown = [c for c in codes if c not in known_set]
    if unknown:
        raise UnknownIndustryError(
            f"unknown 11713 industry code(s) {unknown}; valid codes are {sorted(known_set)}"
        )


@dataclass(frozen=True)
class Scope:
    """An industry scope: ``sum(plus) - sum(minus)`` over 11713 industry codes.

    Parameters
    ----------
    name
        Identifier, stored in results' ``scope`` column and ``attrs["scope"]``.
    plus, minus
        11713 industry/sector codes (see :data:`KNOWN_INDUSTRIES`).
    description
        One sentence for tables and notebooks.
    """

    name: str
    plus: tuple[str, ...]
    minus: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.plus, str) or isinstance(self.minus, str):
            raise TypeError("Scope.plus and Scope.minus are sequences of codes, not a string")
        if not self.plus:
            raise ValueError(f"scope {self.name!r} has no industries to add")
        _check_codes([*self.plus, *self.minus])
        both = set(self.plus) & set(self.minus)
        if both:
            raise ValueError(f"scope {self.name!r} both adds and subtracts {sorted(both)}")
        object.__setattr__(self, "plus", tuple(self.plus))
        object.__setattr__(self, "minus", tuple(self.minus))

    @classmethod
    def from_industries(
        cls, industries: Sequence[str], name: str | None = None, description: str = ""
    ) -> Scope:
        """A user-defined scope: the sum of ``industries`` (11713 codes).

        >>> Scope.from_industries(["01-02", "03"]).name
        'industries:01-02+03'
        """
        codes = [industries] if isinstance(industries, str) else list(industries)
        if len(set(codes)) != len(codes):
            raise ValueError(f"industries listed twice in {codes}")
        return cls(
            name=name or "industries:" + "+".join(codes),
            plus=tuple(codes),
            description=description or "sum of 11713 industries " + ", ".join(codes),
        )

    @property
    def formula(self) -> str:
        """The scope as text, e.g. ``"TOTAL - GOV_CENTRAL - GOV_LOCAL - 68.2b"``."""
        return " + ".join(self.plus) + "".join(f" - {c}" for c in self.minus)


#: The named scopes (name -> :class:`Scope`).
SCOPES: dict[str, Scope] = {
    s.name: s
    for s in (
        Scope(
            "all",
            ("TOTAL",),
            (),
            "All industries (Totalt for næringer); '0' includes the continental shelf.",
        ),
        Scope(
            "business",
            ("TOTAL",),
            (*_GOV, _DWELLINGS),
            "Market sector: all industries minus general government (central + local) minus "
            "owner-occupied dwellings (68.2b); excludes public administration and other "
            "non-market activity.",
        ),
        Scope(
            "business_excl_finance",
            ("TOTAL",),
            (*_GOV, _DWELLINGS, _FINANCE),
            "Market sector minus finance and insurance (64-66).",
        ),
        Scope(
            "excl_petroleum",
            ("TOTAL",),
            _PETROLEUM,
            "All industries minus petroleum extraction incl. services (06_09.1) and pipeline "
            "transport (49.5); counties have no continental-shelf activity anyway.",
        ),
        Scope(
            "business_excl_finance_petroleum",
            ("TOTAL",),
            (*_GOV, _DWELLINGS, _FINANCE, *_PETROLEUM),
            "Market sector minus finance (64-66), petroleum (06_09.1) and pipelines (49.5).",
        ),
    )
}


def scope(spec: str | Scope | Sequence[str]) -> Scope:
    """Resolve a scope: a name in :data:`SCOPES`, a :class:`Scope`, or a list of industry codes.

    A single string that is not a scope name but is an industry code gives that industry alone.

    >>> scope("business").formula
    'TOTAL - GOV_CENTRAL - GOV_LOCAL - 68.2b'
    >>> scope(["01-02", "03"]).plus
    ('01-02', '03')
    """
    if isinstance(spec, Scope):
        return spec
    if isinstance(spec, str):
        if spec in SCOPES:
            return SCOPES[spec]
        if spec in KNOWN_INDUSTRIES:
            return Scope.from_industries([spec], name=spec)
        raise UnknownScopeError(
            f"unknown scope {spec!r}; named scopes are {sorted(SCOPES)}, or pass a list of "
            f"11713 industry codes ({sorted(KNOWN_INDUSTRIES)})"
        )
    return Scope.from_industries(list(spec))


def list_scopes() -> pd.DataFrame:
    """The named scopes as a table: ``scope``, ``formula``, ``plus``, ``minus``, ``description``."""
    return pd.DataFrame(
        [
            {
                "scope": s.name,
                "formula": s.formula,
                "plus": ", ".join(s.plus),
                "minus": ", ".join(s.minus),
                "description": s.description,
            }
            for s in SCOPES.values()
        ]
    )


def apply_scope(
    accounts: pd.DataFrame,
    spec: str | Scope | Sequence[str],
    measures: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Sum an 11713 frame over a scope's industries: one row per region x measure x year.

    Parameters
    ----------
    accounts
        Tidy 11713 (``region``, ``industry``, ``measure``, ``year``, ``value``, ``status``), e.g.
        :func:`regionstats.sources.accounts.regional_accounts`.
    spec
        Scope name, :class:`Scope` or list of industry codes (:func:`scope`).
    measures
        Additive measures to keep (default all but ``value_added_volume_change``, which is a rate
        and is never summed; see :func:`regionstats.indicators.volume.scope_volume_change`).

    Returns
    -------
    Tidy frame ``region``, ``scope``, ``measure``, ``year``, ``value``, ``status`` (plus
    ``region_label``). A cell of the scope has a number only when every part has one; otherwise
    NaN and the most restrictive symbol of its parts (``":"`` beats ``".."`` beats ``"."``).
    """
    sc = scope(spec)
    present = set(accounts["industry"].unique())
    missing = [c for c in (*sc.plus, *sc.minus) if c not in present]
    if missing:
        raise UnknownIndustryError(
            f"scope {sc.name!r} needs industries {missing} that the frame does not have; it has "
            f"{sorted(present)}"
        )
    if measures is None:
        measures = [m for m in accounts["measure"].unique() if m != "value_added_volume_change"]
    if "value_added_volume_change" in measures:
        raise ValueError(
            "value_added_volume_change is a rate and cannot be summed over industries; use "
            "regionstats.indicators.volume.scope_volume_change"
        )
    part = accounts[
        accounts["industry"].isin([*sc.plus, *sc.minus]) & accounts["measure"].isin(measures)
    ].copy()
    if set(sc.plus) - NO_LABOUR_INDUSTRIES:
        no_labour = part["industry"].isin(NO_LABOUR_INDUSTRIES) & part["measure"].isin(
            LABOUR_MEASURES
        )
        part = part[~no_labour]
    sign = np.where(part["industry"].isin(sc.minus), -1.0, 1.0)
    part[VALUE] = part[VALUE] * sign
    # a nil ("-") part does not make the scope nil: drop that symbol before aggregating
    part[STATUS] = part[STATUS].where(part[STATUS] != "-", pd.NA)
    out = aggregate(part, ["region", "measure", "year"])
    out.insert(1, "scope", sc.name)
    out["scope"] = out["scope"].astype("str")
    if "region_label" in accounts.columns:
        labels = accounts.drop_duplicates("region").set_index("region")["region_label"]
        out["region_label"] = out["region"].map(labels).astype("str")
    out.attrs = {
        **{k: v for k, v in accounts.attrs.items() if k in ("table", "source", "vintage")},
        "units": {m: (accounts.attrs.get("units") or {}).get(m) for m in measures},
        "scope": sc.name,
        "scope_formula": sc.formula,
        "scope_description": sc.description,
    }
    return out


__all__ = [
    "KNOWN_INDUSTRIES",
    "LABOUR_MEASURES",
    "NO_LABOUR_INDUSTRIES",
    "SCOPES",
    "TOP_LEVEL_INDUSTRIES",
    "Scope",
    "UnknownIndustryError",
    "UnknownScopeError",
    "apply_scope",
    "scope",
    "list_scopes",
]
