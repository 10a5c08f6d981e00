"""Change a built model's numbers in place for new data of the same shape.

A sweep solves one case many times with a few values changed. Instead of
building a new model per variant, :func:`rebind` points the built model at
the variant's data and re-evaluates every row with the same rules the
builder used (so a row is still defined in one place), setting each
constraint's new expression in place. A row whose rule now skips it is
deactivated; a row the base skipped but the variant needs is added to its
(already indexed) family. The solver session then pushes only what differs
to HiGHS (:meth:`planner.solve.HighsSession.sync`).

The shape must be the same: the index sets (delivery windows, cover cells,
policy cells), the scenario tree and whether CVaR is on. When it is not,
:func:`rebind` says so and leaves the model untouched; the caller builds anew.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import partial
from typing import Any

import numpy as np
import pyomo.environ as pyo

from planner.model import objective, policies, sets, variables
from planner.model.families import CELL_FAMILIES, FAMILIES
from planner.model.families import family as registered
from planner.model.parameters import ModelData, Policy

#: index sets that decide which variables and rows exist
_INDEX_SETS = (
    "NODES",
    "FIRST_NODES",
    "OFFERS",
    "NOW_OFFERS",
    "ACTIVITIES",
    "ELEMENTS",
    "SCENARIOS",
    "OFFER_NODES",
    "SIGNING_NODES",
    "ACTIVITY_NODES",
    "ELEMENT_NODES",
    "COVER_NODES",
    "COMMITMENT_NODES",
    "CHANGE_NODES",
    "OFFER_SHARE_CELLS",
    "MIN_OFFERS_CELLS",
)
#: what rules look terms up in: per-period availability lists (with contents and yields)
_TERMS = ("offers_at", "recycling_at", "substitution_at")


@dataclass
class _Layout:
    """What a model built for some data looks like, worked out on a scratch model."""

    fixed: tuple[Any, ...]  # must be equal for the model to be changed in place
    cells: dict[str, set[Any]]  # policy cells per family: a variant may have fewer
    supply: set[Any]  # where S[e,n] is defined: a variant may need fewer
    terms: dict[str, Any]  # availability lists and China weights, set on the model
    reads: set[str]  # the data fields it was worked out from


def _layout(data: ModelData) -> _Layout:
    scratch = pyo.ConcreteModel()
    reads = _Reads(data)  # notes the fields the layout depends on
    scratch.data = reads
    sets.define_sets(scratch, reads)  # type: ignore[arg-type]
    fixed = (
        [(node.period, node.scenarios, node.parent) for node in data.nodes],
        *(list(getattr(scratch, name)) for name in _INDEX_SETS),
        data.cvar_weight > 0,
        scratch.offers_of,
        data.groups,  # country_share rows are indexed by group position
    )
    cells = {name: set(policies.cells(scratch, _policy(name))) for name in CELL_FAMILIES}
    terms = {name: getattr(scratch, name) for name in _TERMS}
    return _Layout(
        fixed, cells, set(scratch.SUPPLY_NODES), terms, set(reads.names) | {"nodes", "cvar_weight"}
    )


def same_shape(model: pyo.ConcreteModel, layout: _Layout) -> bool:
    """Whether ``layout`` gives ``model`` the same variables and at most the same rows.

    A policy cell the variant drops is a skipped row; one it adds has no
    index in the built family, so the model must be built anew. Likewise a
    supply S[e,n] the variant no longer needs stays defined (unused), one it
    needs and the model lacks makes it build anew.
    """
    if getattr(model, "built_layout", None) is None:  # what its components were built for
        model.built_layout = _layout(model.data)
    built = model.built_layout
    return (
        built.fixed == layout.fixed
        and layout.supply <= built.supply
        and all(layout.cells[family] <= built.cells[family] for family in CELL_FAMILIES)
    )


@dataclass
class Rebound:
    """What :func:`rebind` re-evaluated: the solver session needs to look at no more."""

    families: list[str]  # constraint components whose rows were set again
    objective: bool  # the objective was rebuilt
    bounds: bool  # variable bounds were set again


def rebind(model: pyo.ConcreteModel, data: ModelData) -> Rebound | None:
    """Re-evaluate ``model`` for ``data`` in place; None (model untouched) if the shape differs.

    Only what reads a changed value is re-evaluated: each time a family's
    rules, the objective or the bounds run, the data fields they read are
    noted, and a part none of whose fields differ between the old and the new
    data is left as it is. The layout (index sets, availability lists) is
    worked out again only when a field it was worked out from changed.
    """
    changed = _changed_fields(model.data, data)
    last: _Layout | None = getattr(model, "last_layout", None)
    reuse = last is not None and not changed & last.reads  # e.g. a sweep over values
    layout = last if reuse and last is not None else _layout(data)
    if not same_shape(model, layout):
        return None
    model.last_layout = layout
    known: dict[str, set[str]] | None = getattr(model, "reads", None)
    if known is None:
        changed = set()
    model.data = data
    if not _same({name: getattr(model, name) for name in _TERMS}, layout.terms):
        known = None  # the lists every rule looks terms up in changed: all of it again
    for name, value in layout.terms.items():
        setattr(model, name, value)
    reads: dict[str, set[str]] = {} if known is None else known
    model.data = _Reads(data)  # note which fields each part reads, for the next variant
    try:
        todo = {
            part: known is None or bool(reads.get(part, set()) & changed)
            for part in ("bounds", "objective", *(family.name for family in FAMILIES))
        }
        todo["node_cost_definition"] |= todo["objective"]  # its rows are the node costs
        if todo["bounds"]:
            _run(model, reads, "bounds", partial(variables.refresh_bounds, model))
        families = []
        for family in FAMILIES:
            component = model.component(family.name)
            if component is None or not todo[family.name]:
                continue
            _run(
                model,
                reads,
                family.name,
                partial(_reset, model, family.name, component, family.rule),
            )
            families.append(family.name)
        if todo["objective"]:
            _run(model, reads, "objective", partial(_reset_objective, model))
    finally:
        model.data = data
    model.reads = reads
    return Rebound(families=families, objective=todo["objective"], bounds=todo["bounds"])


def _reset(model: pyo.ConcreteModel, name: str, component: Any, rule: Any) -> None:
    cells = _cells(model, name, component)
    for index in component.index_set():
        value = rule(model, *_args(index)) if index in cells else pyo.Constraint.Skip
        _set_row(component, index, value)


def _reset_objective(model: pyo.ConcreteModel) -> None:
    for n in model.NODES:
        model.node_cost_currency[n].set_value(objective.node_cost_rule(model, n))
    model.del_component(model.total_cost_currency)
    objective.define_objective(model, model.data)


class _Reads:
    """Stands in for :class:`ModelData` and notes which of its fields are read.

    Methods and properties run against the stand-in, so the fields they
    read are noted too.
    """

    def __init__(self, data: ModelData) -> None:
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "names", set())

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(type(self._data), name, None)
        if isinstance(attribute, property):
            return attribute.fget(self)  # type: ignore[misc]
        if callable(attribute):
            return attribute.__get__(self)
        self.names.add(name)
        return getattr(self._data, name)


def _run(
    model: pyo.ConcreteModel, reads: dict[str, set[str]], part: str, run: Callable[[], None]
) -> None:
    """Run one part of the model's re-evaluation and note the fields it read.

    The fields read decide the rule's path through its branches, so a part
    none of whose fields changed would come out the same: it is skipped.
    """
    data = model.data
    assert isinstance(data, _Reads)
    data.names.clear()
    run()
    reads[part] = set(data.names)


def _changed_fields(old: ModelData, new: ModelData) -> set[str]:
    """Names of the fields whose values differ between ``old`` and ``new``."""
    return {
        item.name
        for item in fields(ModelData)
        if not _same(getattr(old, item.name), getattr(new, item.name))
    }


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype.kind != b.dtype.kind:
            return False
        return bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def _cells(model: pyo.ConcreteModel, name: str, component: Any) -> Any:
    """Return the indices the variant has rows for (policy cells may be fewer)."""
    if name in CELL_FAMILIES:
        return set(policies.cells(model, _policy(name)))
    return component.index_set()


def _policy(name: str) -> Policy:
    """Return the policy whose cap rows the family ``name`` holds."""
    policy = registered(name).policy
    assert policy is not None, name
    return policy


def _args(index: Any) -> tuple[Any, ...]:
    return index if isinstance(index, tuple) else (index,)


def _set_row(component: Any, index: Any, value: Any) -> None:
    skipped = value is pyo.Constraint.Skip
    if index in component:
        row = component[index]
        if skipped:
            row.deactivate()
        else:
            row.set_value(value)
            row.activate()
    elif not skipped:
        component[index] = value
