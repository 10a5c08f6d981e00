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

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import partial
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression, MonomialTermExpression

from planner.model import objective, policies, sets, variables
from planner.model.families import CELL_FAMILIES, FAMILIES
from planner.model.families import family as registered
from planner.model.linear import coefficient_arrays
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
    "TIERED_ELEMENT_NODES",
    "TIER_NODES",
    "BUDGET_NODES",
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
        scratch.segments_of,  # which shortage segments each element has (B1)
        data.groups,  # country_share rows are indexed by group position
    )
    cells = {name: set(policies.cells(scratch, *_policy(name))) for name in CELL_FAMILIES}
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
    #: family -> the indices of the rows set again, where only some were (else all)
    rows: dict[str, list[Any]] = field(default_factory=dict)
    #: what the variant changed, row by row, when :func:`rebind` was asked to keep a trail
    trail: Trail | None = None
    #: the data fields whose values differ from the last data's (what the variant changed)
    changed: set[str] = field(default_factory=set)

    def then(self, later: Rebound) -> Rebound:
        """Return what this and a ``later`` re-evaluation set again, together.

        For changes pushed to the solver once, after several: a family set
        whole by either is set whole; else the rows of both.
        """
        families = list(dict.fromkeys([*self.families, *later.families]))
        rows: dict[str, list[Any]] = {}
        for name in families:
            whole = any(name in part.families and name not in part.rows for part in (self, later))
            if not whole:
                rows[name] = list(
                    dict.fromkeys([*self.rows.get(name, []), *later.rows.get(name, [])])
                )
        return Rebound(
            families=families,
            objective=self.objective or later.objective,
            bounds=self.bounds or later.bounds,
            rows=rows,
        )


#: Above this many changed entries of a field, a family's rows are all evaluated again.
MAX_CHANGED_ENTRIES = 10_000


def rebind(model: pyo.ConcreteModel, data: ModelData, trail: bool = False) -> Rebound | None:
    """Re-evaluate ``model`` for ``data`` in place; None (model untouched) if the shape differs.

    Only what reads a changed value is re-evaluated: each time a family's
    rules, the objective or the bounds run, the data fields they read are
    noted, and a part none of whose fields differ between the old and the new
    data is left as it is. The layout (index sets, availability lists) is
    worked out again only when a field it was worked out from changed.

    Within a family, each row's reads of the data's arrays are noted entry by
    entry (``capacity[o, t, w]``); when only array entries changed and the
    layout is the same, only the rows that read a changed entry are
    evaluated again: a variant that changes one offer's capacity sets that
    offer's rows, not every offer's. A row reads what decides its value, so a
    row none of whose entries changed would come out the same.

    With ``trail`` the rows set again are kept as they were, with the bounds
    and the objective, in ``Rebound.trail``: :func:`kept_plan` tells from it
    whether the plan in the variables stays optimal.
    """
    before = model.data
    changed = _changed_fields(before, data)
    differ = set(changed)
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
    entries: dict[str, dict[Any, set[tuple[str, Any]]] | None] = getattr(model, "row_reads", {})
    if known is None or not reuse:
        entries = {}  # the rows' reads are noted again, all of them
    model.row_reads = entries
    model.data = _Reads(data)  # note which fields each part reads, for the next variant
    rows: dict[str, list[Any]] = {}
    model.trail = Trail() if trail else None
    try:
        todo = {
            part: known is None or bool(reads.get(part, set()) & changed)
            for part in ("bounds", "objective", *(family.name for family in FAMILIES))
        }
        todo["node_cost_definition"] |= todo["objective"]  # its rows are the node costs
        if todo["bounds"]:
            _note(model, "bounds")
            _run(model, reads, "bounds", partial(variables.refresh_bounds, model))
        families = []
        for family in FAMILIES:
            component = model.component(family.name)
            if component is None or not todo[family.name]:
                continue
            noted = entries.get(family.name)
            some = None if noted is None else _affected(noted, reads[family.name], before, data)
            # the rows whose value did change (a row evaluated again alike is left as it was)
            moved: list[Any] | None = None if some is None else []
            # rows are noted only while the layout holds (a sweep over values): a variant
            # that works the layout out again forgets the notes, so noting would be lost work
            run = (
                partial(_reset_noted, model, family, component, entries, some, moved)
                if reuse
                else partial(_reset, model, family.name, component, family.rule)
            )
            _run(model, reads, family.name, run, keep=some is not None)
            if moved is not None and entries.get(family.name) is not None:
                if not moved:
                    continue  # every row came out as it was: nothing to push for this family
                rows[family.name] = moved
            families.append(family.name)
        if todo["objective"]:
            _note(model, "objective")
            _run(model, reads, "objective", partial(_reset_objective, model))
    finally:
        model.data = data
        noted, model.trail = model.trail, None
    model.reads = reads
    return Rebound(
        families=families,
        objective=todo["objective"],
        bounds=todo["bounds"],
        rows=rows,
        trail=noted,
        changed=differ,
    )


#: The variable each node-cost row defines (CVaR): C[n] - cost(n) = 0. It has no cost of its
#: own and appears elsewhere only in ``cvar_excess_floor`` (v[w] + eta - sum C[n] >= 0), so a
#: larger C[n] never helps a plan (tests/test_sweep_skip.py guards this reading of the model).
COST_ROWS, COST_VARIABLE = "node_cost_definition", "cvar_node_cost_currency"

#: Rows set again that a trail keeps at most; beyond, the variant is re-solved.
MAX_TRAIL_ROWS = 200_000

#: A plan's value that counts as "not bought" where a cost rose: a column HiGHS left at 0.
ZERO = 1e-9

#: (variable, coefficient) by the variable's id, and the constant: a row's or objective's terms.
Terms = tuple[dict[int, tuple[Any, float]], float]


@dataclass
class _Row:
    """A row as it was before a variant set it again (``body`` None: it had none, or inactive)."""

    row: Any
    body: Any
    lower: float | None
    upper: float | None


class Trail:
    """What one variant changed in a model: each row set again as it was, bounds, objective.

    Kept by :func:`rebind` when asked; read by :func:`kept_plan`.
    """

    def __init__(self) -> None:
        self.rows: dict[int, _Row] = {}
        self.complete = True  # False: more rows than MAX_TRAIL_ROWS; nothing can be told
        self.bounds: list[tuple[Any, float | None, float | None]] | None = None
        self.objective: Terms | None = None

    def note_row(self, row: Any, added: bool = False) -> None:
        """Keep ``row`` as it is now, before it is set again (once: the first state counts)."""
        if id(row) in self.rows or not self.complete:
            return
        if len(self.rows) >= MAX_TRAIL_ROWS:
            self.complete = False
            self.rows.clear()
            return
        if row.active and not added:
            lower, body, upper = row.to_bounded_expression(evaluate_bounds=True)
            self.rows[id(row)] = _Row(row, body, lower, upper)
        else:
            self.rows[id(row)] = _Row(row, None, None, None)

    def note_bounds(self, model: pyo.ConcreteModel) -> None:
        """Keep every variable's bounds before they are set again."""
        self.bounds = [(v, v.lb, v.ub) for v in model.component_data_objects(pyo.Var)]

    def note_objective(self, model: pyo.ConcreteModel) -> None:
        """Keep the objective's terms before it is built again (its node costs change in place)."""
        goal = next(model.component_data_objects(pyo.Objective, active=True))
        self.objective = terms_of(goal.expr)


def terms_of(expression: Any) -> Terms:
    """Return the terms of a linear expression: coefficients by variable (summed), constant."""
    if isinstance(expression, LinearExpression) and all(
        isinstance(c, int | float) for c in expression.linear_coefs
    ):
        variables, coefficients = expression.linear_vars, expression.linear_coefs
        constant = float(pyo.value(expression.constant))
    else:
        variables, coefficients, constant = coefficient_arrays(expression)
    terms: dict[int, tuple[Any, float]] = {}
    for var, c in zip(variables, coefficients, strict=True):
        known = terms.get(id(var))
        terms[id(var)] = (var, float(c) + (known[1] if known is not None else 0.0))
    return terms, constant


def _same_body(old: Any, new: Any) -> bool:
    """Whether two row bodies are the same sum, term by term (the rule built them alike).

    Reads the sums' terms directly: Pyomo caches one LinearExpression's
    coefficients at a time, so reading two alternately would rebuild them.
    """
    if type(old) is not LinearExpression or type(new) is not LinearExpression:
        return False
    first, second = old.args, new.args
    if len(first) != len(second):
        return False
    for a, b in zip(first, second, strict=True):
        if type(a) is MonomialTermExpression and type(b) is MonomialTermExpression:
            (c, x), (d, y) = a.args, b.args
            if x is not y or not _equal_numbers(c, d):
                return False
        elif a is not b and not _equal_numbers(a, b):  # a constant, or a variable's own term
            return False
    return True


def _equal_numbers(a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` are plain numbers and equal (an expression never is)."""
    return isinstance(a, int | float) and isinstance(b, int | float) and a == b


def _highest(terms: dict[int, tuple[Any, float]], sign: float) -> float:
    """Return the largest ``sign * sum(c x)`` over the variables' bounds (inf if unbounded)."""
    total = 0.0
    for var, c in terms.values():
        c *= sign
        if c > 0:
            bound = var.ub
            total += math.inf if bound is None else c * bound
        elif c < 0:
            bound = var.lb
            total += math.inf if bound is None else c * bound
    return total


def _difference(new: Terms, old: Terms) -> dict[int, tuple[Any, float]]:
    """Return the new minus the old coefficients, where they differ."""
    change = {key: (var, c - old[0].get(key, (var, 0.0))[1]) for key, (var, c) in new[0].items()}
    for key, (var, c) in old[0].items():
        if key not in new[0]:
            change[key] = (var, -c)
    return {key: term for key, term in change.items() if term[1] != 0.0}


def _side(value: float | None, constant: float, sign: float) -> float:
    """Return a row's bound less its body's constant (an absent bound: infinite, on its side)."""
    return sign * math.inf if value is None else float(value) - constant


def _row_kept(was: _Row, tolerance: float) -> str | None:
    """How one row set again keeps the plan optimal: "unchanged", "tightened", "costlier"; None.

    The plan (the variables' values) must hold the row as it is now, within
    ``tolerance``; the row now must cut off at least what it cut off before
    for every point within the variables' bounds ("tightened": each finite
    side at least as tight, whatever the coefficients' change can add over
    the bounds), or be a node-cost row whose costs rose only on columns the
    plan leaves at 0 ("costlier").
    """
    row = was.row
    if not row.active:
        return "unchanged" if was.body is None else None  # a row dropped lets more in
    now_lower, body, now_upper = row.to_bounded_expression(evaluate_bounds=True)
    if (
        was.body is not None
        and _same_body(was.body, body)
        and (now_lower, now_upper) == (was.lower, was.upper)
    ):
        return "unchanged"
    terms, constant = terms_of(body)
    lower = _side(now_lower, constant, -1.0)
    upper = _side(now_upper, constant, 1.0)
    activity = 0.0
    for var, c in terms.values():
        if var.value is None:
            return None
        activity += c * var.value
    if not lower - tolerance <= activity <= upper + tolerance:
        return None
    if was.body is None:
        return "tightened"  # a row the last model did not have
    old = terms_of(was.body)
    old_lower = _side(was.lower, old[1], -1.0)
    old_upper = _side(was.upper, old[1], 1.0)
    change = _difference((terms, constant), old)
    # every x within the bounds holding the row now holds it as it was: a.x = a'.x - d.x
    tighter = (math.isinf(old_upper) or _highest(change, -1.0) <= old_upper - upper) and (
        math.isinf(old_lower) or _highest(change, 1.0) <= lower - old_lower
    )
    if tighter:
        return "tightened"
    same_sides = (lower, upper) == (old_lower, old_upper)
    if row.parent_component().local_name == COST_ROWS and same_sides:
        # C[n] = sum c'x: a cost only rose, on columns at 0 in the plan (C[n] itself unchanged)
        return "costlier" if _costlier(change, -1.0) else None
    return None


def _costlier(change: dict[int, tuple[Any, float]], sign: float) -> bool:
    """Whether ``sign * change`` only raises costs (over the bounds) on columns at 0 in the plan."""
    for var, c in change.values():
        if var.parent_component().local_name == COST_VARIABLE or var.value is None:
            return False
        rises = sign * c
        if abs(var.value) > ZERO:
            return False
        if (rises > 0 and (var.lb is None or var.lb < 0)) or (
            rises < 0 and (var.ub is None or var.ub > 0)
        ):
            return False
    return True


def kept_plan(model: pyo.ConcreteModel, trail: Trail, tolerance: float) -> str | None:
    """Whether the plan in the model's variables stays optimal after the changes in ``trail``.

    Returns how (``"unchanged"``, or ``"tightened"`` and/or ``"costlier"``),
    or None when that cannot be proven (the variant must be solved). Proven
    when the plan holds every row set again (within ``tolerance``) and:

    * every such row cuts off at least what it did (a cap or capacity
      tightened, a row added) and no variable bound widened, so the
      feasible set only shrank: the plan, still feasible at the same cost,
      is still optimal, and the old bound still bounds the new optimum
      (a plan within the gap stays within it);
    * or costs rose (the objective, and the node-cost rows C[n] of CVaR)
      only on columns the plan leaves at 0 and that are never negative:
      every plan costs at least what it did, the plan itself the same.

    A row dropped, a bound widened, a cost that fell or that rose on a
    column the plan uses: None.
    """
    if not trail.complete:
        return None
    kinds = set()
    for was in trail.rows.values():
        kind = _row_kept(was, tolerance)
        if kind is None:
            return None
        kinds.add(kind)
    for var, lower, upper in trail.bounds or ():
        if (var.lb, var.ub) == (lower, upper):
            continue
        wider = _side(var.lb, 0.0, -1.0) < _side(lower, 0.0, -1.0) or _side(
            var.ub, 0.0, 1.0
        ) > _side(upper, 0.0, 1.0)
        value = var.value
        if (
            wider
            or value is None
            or not (
                _side(var.lb, 0.0, -1.0) - tolerance <= value <= _side(var.ub, 0.0, 1.0) + tolerance
            )
        ):
            return None
        kinds.add("tightened")
    if trail.objective is not None:
        goal = next(model.component_data_objects(pyo.Objective, active=True))
        now = terms_of(goal.expr)
        change = _difference(now, trail.objective)
        if now[1] != trail.objective[1] or not _costlier(change, 1.0):
            return None
        if change:
            kinds.add("costlier")
    kinds.discard("unchanged")
    return ", ".join(sorted(kinds)) or "unchanged"


def _note(model: pyo.ConcreteModel, part: str) -> None:
    """Keep the bounds or the objective as they are, before ``part`` is set again, if asked."""
    trail: Trail | None = model.trail
    if trail is not None and part == "bounds":
        trail.note_bounds(model)
    elif trail is not None:
        trail.note_objective(model)


def _reset(model: pyo.ConcreteModel, name: str, component: Any, rule: Any) -> None:
    cells = _cells(model, name, component)
    for index in component.index_set():
        value = rule(model, *_args(index)) if index in cells else pyo.Constraint.Skip
        _set_row(component, index, value, model.trail)


def _reset_noted(
    model: pyo.ConcreteModel,
    family: Any,
    component: Any,
    entries: dict[str, dict[Any, set[tuple[str, Any]]] | None],
    only: list[Any] | None,
    moved: list[Any] | None = None,
) -> None:
    """Set ``only`` these rows of ``family`` again (None: all), noting each row's reads.

    A rule that uses an array other than by its entries (arithmetic on the
    whole array) cannot be noted row by row: its family is set whole, then
    and from then on. ``moved``, if given, receives the indices of the rows
    whose value changed (a row that comes out as it was is not set again).
    """
    data = model.data
    assert isinstance(data, _Reads)
    if entries.get(family.name, {}) is None:
        _reset(model, family.name, component, family.rule)
        return
    cells = _cells(model, family.name, component)
    known = entries.get(family.name)
    noted = known if only is not None and isinstance(known, _Notes) else _Notes()
    try:
        for index in component.index_set() if only is None else only:
            noted.forget(index)
            data.entries = noted[index] = set()
            value = family.rule(model, *_args(index)) if index in cells else pyo.Constraint.Skip
            if _set_row(component, index, value, model.trail) and moved is not None:
                moved.append(index)
            noted.remember(index)
    except (TypeError, ValueError, IndexError):  # an array used as a whole: set all, unnoted
        data.entries = None
        entries[family.name] = None
        _reset(model, family.name, component, family.rule)
        return
    finally:
        data.entries = None
    entries[family.name] = noted


def _affected(
    noted: dict[Any, set[tuple[str, Any]]], fields_read: set[str], old: Any, new: ModelData
) -> list[Any] | None:
    """Return the rows that read an entry that differs between ``old`` and ``new``.

    None (evaluate every row) when a field the family reads changed other
    than entry by entry in an array of the same shape, or in too many entries.
    """
    changed: dict[str, set[tuple[int, ...]]] = {}
    for name in fields_read:
        a, b = getattr(old, name), getattr(new, name)
        if _same(a, b):
            continue
        if not isinstance(a, np.ndarray) or not isinstance(b, np.ndarray) or a.shape != b.shape:
            return None
        differ = a != b
        if a.dtype.kind == "f" and b.dtype.kind == "f":
            differ &= ~(np.isnan(a) & np.isnan(b))
        where = np.argwhere(differ)
        if len(where) > MAX_CHANGED_ENTRIES:
            return None
        # a row that read a[o] (a slice) or a[o, t] read these entries too: keep every prefix
        changed[name] = {
            tuple(entry[:k]) for entry in where.tolist() for k in range(1, len(entry) + 1)
        }
    readers = noted.readers() if isinstance(noted, _Notes) else _Notes.invert(noted)
    hit: set[Any] = set()
    for name, keys in changed.items():
        hit.update(readers.get((name, None), ()))
        for key in keys:
            hit.update(readers.get((name, key), ()))
    if isinstance(noted, _Notes):  # in the family's order, without walking every row
        return sorted(hit, key=noted.position().__getitem__)
    return [index for index in noted if index in hit]


class _Notes(dict[Any, set[tuple[str, Any]]]):
    """Each row's reads (index -> {(field, entry)}), and who read each entry, kept up to date.

    The inverse (entry -> rows) is made when first asked for and then kept
    as rows are noted again, so that finding the rows a changed entry
    touches costs the rows found, not every row of the family.
    """

    def __init__(self) -> None:
        super().__init__()
        self._readers: dict[tuple[str, Any], set[Any]] | None = None
        self._position: dict[Any, int] | None = None

    def position(self) -> dict[Any, int]:
        """Return each row's place in the family's order (made once: rows are noted in order)."""
        if self._position is None or len(self._position) != len(self):
            self._position = {index: at for at, index in enumerate(self)}
        return self._position

    @staticmethod
    def invert(noted: dict[Any, set[tuple[str, Any]]]) -> dict[tuple[str, Any], set[Any]]:
        """Return entry -> the rows that read it."""
        readers: dict[tuple[str, Any], set[Any]] = {}
        for index, read in noted.items():
            for pair in read:
                readers.setdefault(pair, set()).add(index)
        return readers

    def readers(self) -> dict[tuple[str, Any], set[Any]]:
        """Return entry -> the rows that read it (made once, then kept)."""
        if self._readers is None:
            self._readers = self.invert(self)
        return self._readers

    def forget(self, index: Any) -> None:
        """Drop row ``index``'s reads from the inverse, before it is noted again."""
        if self._readers is not None:
            for pair in self.get(index, ()):
                self._readers[pair].discard(index)

    def remember(self, index: Any) -> None:
        """Add row ``index``'s reads, just noted, to the inverse."""
        if self._readers is not None:
            for pair in self[index]:
                self._readers.setdefault(pair, set()).add(index)


def _reset_objective(model: pyo.ConcreteModel) -> None:
    for n in model.NODES:
        model.node_cost_currency[n].set_value(objective.node_cost_rule(model, n))
    model.del_component(model.total_cost_currency)
    objective.define_objective(model, model.data)


def noting(data: ModelData) -> _Reads:
    """Return a stand-in for ``data`` that notes the fields read through it (in ``.names``).

    What reads only those fields comes out the same for data whose values of
    them are the same (:func:`same_values`).
    """
    return _Reads(data)


def same_values(old: ModelData, new: ModelData, names: set[str]) -> bool:
    """Whether ``old`` and ``new`` hold the same values in the fields ``names``."""
    return all(_same(getattr(old, name), getattr(new, name)) for name in names)


class _Reads:
    """Stands in for :class:`ModelData` and notes which of its fields are read.

    Methods and properties run against the stand-in, so the fields they
    read are noted too.
    """

    def __init__(self, data: ModelData) -> None:
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "names", set())
        #: while a row is evaluated: the (field, entry) pairs it reads (entry None: all of it)
        object.__setattr__(self, "entries", None)

    def __setattr__(self, name: str, value: Any) -> None:
        if name != "entries":
            raise AttributeError(f"the model's data is read-only ({name})")
        object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(type(self._data), name, None)
        if isinstance(attribute, property):
            return attribute.fget(self)  # type: ignore[misc]
        if callable(attribute):
            return attribute.__get__(self)
        self.names.add(name)
        value = getattr(self._data, name)
        if self.entries is None:
            return value
        if isinstance(value, np.ndarray):
            wrappers = self.__dict__.setdefault("wrappers", {})
            if name not in wrappers:
                wrappers[name] = _Entries(value, name, self)
            return wrappers[name]
        self.entries.add((name, None))
        return value


class _Entries:
    """An array of the data that notes the entries a rule reads (``a[o, t]``).

    Indexing by whole numbers is noted entry by entry; anything else (a
    slice, an attribute, the array as a whole) notes the whole array.
    Arithmetic on the whole array is not offered: it raises TypeError, and
    the family is then evaluated without noting (see ``_reset_noted``).
    """

    __slots__ = ("array", "name", "reads")

    def __init__(self, array: np.ndarray, name: str, reads: _Reads) -> None:
        self.array, self.name, self.reads = array, name, reads

    def _note(self, entry: tuple[int, ...] | None) -> None:
        sink = self.reads.entries  # the row being evaluated now
        if sink is not None:
            sink.add((self.name, entry))

    def __getitem__(self, key: Any) -> Any:
        entry: tuple[int, ...] | None
        try:  # whole numbers (Python's or numpy's): one entry, or all under a prefix
            entry = (
                tuple(map(operator.index, key)) if type(key) is tuple else (operator.index(key),)
            )
        except TypeError:  # a slice, an index array: all of it
            entry = None
        if entry is not None and bool in map(type, key if type(key) is tuple else (key,)):
            entry = None  # a[True] is not entry 1
        self._note(entry)
        return self.array[key]

    def __getattr__(self, name: str) -> Any:
        self._note(None)
        return getattr(self.array, name)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        self._note(None)
        return np.asarray(self.array, dtype=dtype)

    def __len__(self) -> int:
        self._note(None)
        return len(self.array)

    def __iter__(self) -> Any:
        self._note(None)
        return iter(self.array)


def _run(
    model: pyo.ConcreteModel,
    reads: dict[str, set[str]],
    part: str,
    run: Callable[[], None],
    keep: bool = False,
) -> None:
    """Run one part of the model's re-evaluation and note the fields it read.

    The fields read decide the rule's path through its branches, so a part
    none of whose fields changed would come out the same: it is skipped.
    ``keep``: only some of the part's rows ran; the others still read what
    they read before.
    """
    data = model.data
    assert isinstance(data, _Reads)
    data.names.clear()
    run()
    reads[part] = set(data.names) | (reads.get(part, set()) if keep else set())


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
        return set(policies.cells(model, *_policy(name)))
    return component.index_set()


def _policy(name: str) -> tuple[Policy, str]:
    """Return the policy whose cap rows the family ``name`` holds, and their measure."""
    family = registered(name)
    assert family.policy is not None, name
    return family.policy, family.measure


def _args(index: Any) -> tuple[Any, ...]:
    return index if isinstance(index, tuple) else (index,)


def _set_row(component: Any, index: Any, value: Any, trail: Trail | None = None) -> bool:
    """Set row ``index`` of ``component`` to ``value`` (Skip: deactivate); whether it changed.

    A row whose new value is the one it holds (the same bounds, the same sum
    term by term) is left as it is: nothing to note, nothing to push.
    """
    skipped = value is pyo.Constraint.Skip
    if index in component:
        row = component[index]
        if skipped:
            if not row.active:
                return False
        elif row.active and _holds(row, value):
            return False
        if trail is not None:
            trail.note_row(row)
        if skipped:
            row.deactivate()
        else:
            row.set_value(value)
            row.activate()
        return True
    if skipped:
        return False
    component[index] = value
    if trail is not None:
        trail.note_row(component[index], added=True)
    return True


def _holds(row: Any, value: Any) -> bool:
    """Whether active ``row`` already is ``value``, a rule's (lower, body, upper) of numbers.

    Anything else (a relational expression, a bound that is an expression)
    counts as different: the row is set again, as it always was.
    """
    if type(value) is not tuple or len(value) != 3:
        return False
    lower, body, upper = row.to_bounded_expression(evaluate_bounds=True)
    return (
        _same_bound(lower, value[0]) and _same_bound(upper, value[2]) and _same_body(body, value[1])
    )


def _same_bound(held: Any, new: Any) -> bool:
    """Whether a row's bound and a rule's are the same: both absent, or equal numbers."""
    if held is None or new is None:
        return held is None and new is None
    return _equal_numbers(held, new)
