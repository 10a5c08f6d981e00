"""The hand-off: a Pyomo model passed to HiGHS once, and changed there in place.

:func:`standard_form` reads the model in one pass with Pyomo's linear
visitor, as Pyomo's standard-form compiler does, into the arrays
``Highs.passModel`` takes (much faster than generating each row through a
persistent interface, and without the compiler's per-row dictionaries, the
largest part of the hand-off's memory). :class:`HighsModel` keeps what it takes
to change that model in place for a re-solve: the Pyomo rows and columns in
HiGHS's order and the bounds and costs HiGHS holds, so that :meth:`HighsModel.sync`
pushes only differences. Running HiGHS and reading its answer is
:mod:`planner.solve`'s job.
"""

from __future__ import annotations

import gc
import time
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.common.errors import (
    InfeasibleConstraintException,
    InvalidConstraintError,
    InvalidExpressionError,
)
from pyomo.common.gc_manager import PauseGC
from pyomo.common.numeric_types import native_types
from pyomo.common.tee import capture_output
from pyomo.core.base.constraint import ConstraintData
from pyomo.core.base.var import VarData
from pyomo.core.expr.numeric_expr import LinearExpression
from pyomo.repn.linear import LinearRepnVisitor
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler
from pyomo.repn.util import (
    FileDeterminism_to_SortComponents,
    initialize_var_map_from_column_order,
    ordered_active_constraints,
)
from scipy import sparse

from planner.errors import SolverError
from planner.model.linear import coefficient_arrays
from planner.model.update import Rebound

try:
    from pyomo.repn.util import TemplateVarRecorder
except ImportError:  # Pyomo before the compiler used it: compile with the compiler itself
    TemplateVarRecorder = None

INF = highspy.kHighsInf
#: :meth:`HighsModel.release_rows` collects the rows' reference cycles at once from this
#: many rows on (a third of the rows' memory at the medium size; Python's own collector
#: frees them later otherwise); a full collection costs time in proportion to every
#: object of the process, more than a small model's cycles are worth
COLLECT_FROM_ROWS = 100_000


def new_highs() -> highspy.Highs:
    """Return a silent HiGHS instance (newer versions print a banner from the constructor)."""
    with capture_output(capture_fd=True):
        highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    return highs


def run_time_limit(highs: highspy.Highs, seconds: float | None, mip: bool = False) -> float:
    """HiGHS's ``time_limit`` that gives its next run ``seconds`` (None or 0: no limit).

    HiGHS 1.16 has two clocks. The instance's run clock counts every run of
    the instance, not from the start of this one, and an LP's simplex and
    presolve compare the limit with it: after a 300 s MIP, a limit of 75 s
    for the LP with the binaries fixed stopped it at once (benchmarks/README.md,
    "Memory (part 4)"). For an LP the clock so far is added. A MIP's branch
    and bound (``mip``) has a clock of its own, started with each run (a new
    ``HighsMipSolver`` per run): its limit is its own ``seconds``, else a
    sweep's thousandth re-solve of one model had every earlier run's time
    on top of its limit. (The LP by which HiGHS completes a MIP start that
    misses a row runs on the instance's clock: past ``seconds`` of it, HiGHS
    drops such a start and solves without it.)
    """
    if not seconds:
        return INF
    if mip:
        return float(seconds)
    return float(highs.getRunTime()) + float(seconds)


@dataclass
class StandardForm:
    """A model in HiGHS's terms: ``row_lower <= A x <= row_upper``, bounds, costs, integrality.

    ``A`` is by columns (``start``, ``index``, ``value``); ``rows`` and
    ``columns`` are the Pyomo constraint and variable of each row and column
    (a ranged constraint is two rows, as Pyomo's compiler makes it).
    """

    rows: list[ConstraintData]
    columns: list[VarData]
    cost: np.ndarray
    offset: float
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    start: np.ndarray
    index: np.ndarray
    value: np.ndarray
    integer: np.ndarray

    @classmethod
    def empty(cls) -> StandardForm:
        """Return a form of no rows and no columns."""
        return cls(
            rows=[],
            columns=[],
            cost=np.zeros(0),
            offset=0.0,
            col_lower=np.zeros(0),
            col_upper=np.zeros(0),
            row_lower=np.zeros(0),
            row_upper=np.zeros(0),
            start=np.zeros(1, dtype=np.int32),
            index=np.zeros(0, dtype=np.int32),
            value=np.zeros(0),
            integer=np.zeros(0, dtype=bool),
        )


class _Rows:
    """The rows of the standard form as they are compiled, in compact typed arrays.

    Pyomo's ``LinearStandardFormCompiler`` keeps every row's term dictionary
    until all rows are read (about 1.8 GB at the benchmarks' largest size,
    6.7 M nonzeros, on top of the model); here each row's terms go into
    ``array`` buffers (12 bytes a nonzero) as soon as they are read.
    """

    def __init__(self) -> None:
        self.constraints: list[ConstraintData] = []
        self.kinds = array("b")  # 0: lower = upper = rhs; 1: <= rhs; -1: >= rhs
        self.rhs = array("d")
        self.start = array("i", [0])  # HiGHS's indices are 32-bit
        self.index = array("i")
        self.value = array("d")

    def add(
        self,
        row: ConstraintData,
        kind: int,
        rhs: float,
        columns: list[int],
        values: Iterable[float],
    ) -> None:
        """Append one row: its kind of bound, right-hand side and terms."""
        self.constraints.append(row)
        self.kinds.append(kind)
        self.rhs.append(rhs)
        self.index.extend(columns)
        self.value.extend(values)
        self.start.append(len(self.index))


def _rows_of(
    row: ConstraintData, visitor: LinearRepnVisitor, order: dict[int, int], rows: _Rows
) -> None:
    """Add ``row`` to ``rows`` in mixed form, as ``LinearStandardFormCompiler`` does.

    An equality is one row; a ranged row two (its upper bound, then its
    lower); a row with no bound none. Its constant moves to the bounds.
    """
    lower, body, upper = row.to_bounded_expression()
    if lower.__class__ not in native_types:
        lower = pyo.value(lower)
    if upper.__class__ not in native_types:
        upper = pyo.value(upper)
    repn = visitor.walk_expression(body)
    if repn.nonlinear is not None:
        raise InvalidConstraintError(f"Model constraint ({row.name}) is not linear")
    if lower is None and upper is None:
        return
    constant = repn.constant
    if not repn.linear and constant.__class__ in native_types:
        if (lower is None or lower <= constant) and (upper is None or upper >= constant):
            return
        raise InfeasibleConstraintException(
            f"model contains a trivially infeasible constraint, '{row.name}'"
        )
    columns = [order[v] for v in repn.linear]
    values = repn.linear.values()
    if lower == upper:
        rows.add(row, 0, upper - constant, columns, values)
        return
    if upper is not None:
        rows.add(row, 1, upper - constant, columns, values)
    if lower is not None:
        rows.add(row, -1, lower - constant, columns, values)


def standard_form(model: pyo.ConcreteModel) -> StandardForm:
    """Compile ``model`` row by row with Pyomo's linear visitor, into arrays HiGHS takes.

    The same rows, columns and matrix as Pyomo's ``LinearStandardFormCompiler``
    (``mixed_form=True``): the same visitor, column order (each variable
    component whole, in the order they are first met, objective first),
    row order, and the same clean-up (duplicates summed, zeros dropped,
    columns with no nonzero left out, fixed variables moved to the bounds).
    What differs is memory: rows go into typed arrays as they are read
    (:class:`_Rows`), so the compile's peak is about 80 bytes a nonzero
    against the compiler's 280 (tests/test_handoff.py compares the two).

    Raises
    ------
    InfeasibleConstraintException
        When a row without variables cannot hold.
    """
    if TemplateVarRecorder is None:
        return compiled_by_pyomo(model)
    config = LinearStandardFormCompiler.CONFIG()
    sorter = FileDeterminism_to_SortComponents(config.file_determinism)
    var_map: dict[int, VarData] = {}
    initialize_var_map_from_column_order(model, config, var_map)
    recorder = TemplateVarRecorder(var_map, sorter)
    named: dict[int, Any] = {}  # the terms of each named Expression, read once
    visitor = LinearRepnVisitor(named, var_recorder=recorder)
    rows = _Rows()
    with PauseGC():
        objective_columns: list[int] = []
        objective_values: list[float] = []
        offset = 0.0
        for goal in model.component_data_objects(pyo.Objective, active=True, sort=sorter):
            repn = visitor.walk_expression(goal.expr)
            if repn.nonlinear is not None:
                raise InvalidExpressionError(f"Model objective ({goal.name}) is not linear")
            objective_columns += [recorder.var_order[v] for v in repn.linear]
            objective_values += repn.linear.values()
            offset += float(repn.constant)
        for row in ordered_active_constraints(model, config):
            _rows_of(row, visitor, recorder.var_order, rows)
    columns = list(var_map.values())
    # the visitor holds itself in a cycle (a bound method): empty its maps of a million
    # entries now rather than at the next garbage collection
    named.clear()
    var_map.clear()
    recorder.var_order.clear()
    recorder.env.clear()
    return _cleaned(rows, columns, objective_columns, objective_values, offset)


def compiled_by_pyomo(model: pyo.ConcreteModel) -> StandardForm:
    """Compile ``model`` with Pyomo's ``LinearStandardFormCompiler`` itself (more memory).

    Raises
    ------
    InfeasibleConstraintException
        When a row without variables cannot hold.
    """
    repn = LinearStandardFormCompiler().write(model, mixed_form=True, set_sense=None)
    columns = list(repn.columns)
    kinds = np.array([row.bound_type for row in repn.rows], dtype=int)
    rhs = np.asarray(repn.rhs, dtype=float)
    matrix = repn.A.tocsc()
    return StandardForm(
        rows=[row.constraint for row in repn.rows],
        columns=columns,
        cost=np.asarray(repn.c.toarray()).ravel() if columns else np.zeros(0),
        offset=float(repn.c_offset[0]) if len(repn.c_offset) else 0.0,
        col_lower=np.array([-INF if v.lb is None else v.lb for v in columns], dtype=float),
        col_upper=np.array([INF if v.ub is None else v.ub for v in columns], dtype=float),
        row_lower=np.where(kinds == 1, -INF, rhs),
        row_upper=np.where(kinds == -1, INF, rhs),
        start=matrix.indptr.astype(np.int32),
        index=matrix.indices.astype(np.int32),
        value=np.asarray(matrix.data, dtype=float),
        integer=np.array([v.is_integer() for v in columns], dtype=bool),
    )


def _cleaned(
    rows: _Rows,
    columns: list[VarData],
    objective_columns: list[int],
    objective_values: list[float],
    offset: float,
) -> StandardForm:
    """Return the form of compiled rows: by columns, duplicates summed, zeros dropped.

    Columns with no nonzero are left out; fixed ones move to the bounds.
    """
    shape = (len(rows.constraints), len(columns))
    by_rows = sparse.csr_array(
        (
            np.frombuffer(rows.value, dtype=float),
            np.frombuffer(rows.index, dtype=np.int32),
            np.frombuffer(rows.start, dtype=np.int32),
        ),
        shape=shape,
    )
    matrix = by_rows.tocsc()
    del by_rows
    rows.index, rows.value = array("i"), array("d")
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    cost = np.zeros(len(columns))
    np.add.at(cost, np.asarray(objective_columns, dtype=np.int64), objective_values)
    rhs = np.frombuffer(rows.rhs, dtype=float).copy()
    used = (np.diff(matrix.indptr) > 0) | (cost != 0)
    fixed = np.array([v.fixed for v in columns], dtype=bool) & used
    if fixed.any():
        values = np.array([columns[j].value for j in np.flatnonzero(fixed)], dtype=float)
        offset += float(cost[fixed] @ values)
        rhs -= matrix[:, fixed] @ values
        used &= ~fixed
        matrix = matrix[:, used]
    else:
        matrix = sparse.csc_array(
            (matrix.data, matrix.indices, matrix.indptr[np.append(used, True)]),
            shape=(shape[0], int(used.sum())),
        )
    if not used.all():
        columns = [v for v, keep in zip(columns, used.tolist(), strict=True) if keep]
        cost = cost[used]
    kinds = np.frombuffer(rows.kinds, dtype=np.int8)
    return StandardForm(
        rows=rows.constraints,
        columns=columns,
        cost=cost,
        offset=offset,
        col_lower=np.array([-INF if v.lb is None else v.lb for v in columns], dtype=float),
        col_upper=np.array([INF if v.ub is None else v.ub for v in columns], dtype=float),
        row_lower=np.where(kinds == 1, -INF, rhs),
        row_upper=np.where(kinds == -1, INF, rhs),
        start=matrix.indptr.astype(np.int32, copy=False),
        index=matrix.indices.astype(np.int32, copy=False),
        value=matrix.data,
        integer=np.array([v.is_integer() for v in columns], dtype=bool),
    )


class HighsModel:
    """A Pyomo model as HiGHS holds it: rows, columns, bounds and costs, in HiGHS's order.

    Attributes
    ----------
    highs
        The HiGHS instance holding the model.
    rows, columns
        The Pyomo constraint and variable of each HiGHS row and column.
    integer
        Which columns are integer.
    nonzeros
        Nonzeros of the constraint matrix at the hand-off.
    seconds
        How long the hand-off took.
    infeasible_constant
        The compiler's message when a row without variables cannot hold
        (nothing is handed to HiGHS then), else "".
    """

    def __init__(self, model: pyo.ConcreteModel) -> None:
        self.model = model
        started = time.perf_counter()
        self.infeasible_constant = ""
        self.highs = new_highs()
        try:
            form = standard_form(model)
        except InfeasibleConstraintException as error:
            self.infeasible_constant = str(error)
            form = StandardForm.empty()
        self.rows = form.rows
        self.columns = form.columns
        self.integer = form.integer
        self.nonzeros = len(form.value)
        self.released = False
        self._released_rows = 0
        self._kept_rows: dict[str, list[tuple[Any, int]]] = {}
        if not self.infeasible_constant:
            self._pass_model(form)
        self._keep_state(form)
        self.seconds = time.perf_counter() - started

    def _pass_model(self, form: StandardForm) -> None:
        """Pass ``form`` to HiGHS (it copies the arrays: nothing else holds them after)."""
        status = self.highs.passModel(
            len(self.columns),
            len(self.rows),
            len(form.value),
            int(highspy.MatrixFormat.kColwise),
            int(highspy.ObjSense.kMinimize),
            form.offset,
            form.cost,
            form.col_lower,
            form.col_upper,
            form.row_lower,
            form.row_upper,
            form.start,
            form.index,
            form.value,
            form.integer.astype(np.int32),  # HighsVarType: 1 integer, 0 continuous
        )
        if status == highspy.HighsStatus.kError:
            raise SolverError("HiGHS refused the model")

    def _keep_state(self, form: StandardForm) -> None:
        """Remember the bounds and costs HiGHS holds, so that :meth:`sync` pushes only differences.

        The maps from rows and columns to their positions are made on the
        first :meth:`sync` (:meth:`_index`), and the matrix is read back from
        HiGHS then (:meth:`_matrix`): a single solve never needs them, and at
        the largest sizes they are a few hundred MB.
        """
        self._column_of: dict[int, int] = {}
        self._row_of: dict[int, int] = {}
        self._family_rows: dict[str, list[int]] = {}
        self._held: sparse.csr_matrix | None = None  # the matrix, read from HiGHS on first sync
        self._row_lower = form.row_lower
        self._row_upper = form.row_upper
        self._col_lower = form.col_lower
        self._col_upper = form.col_upper
        self._cost = form.cost
        self._offset = form.offset

    def release_rows(self, keep: Iterable[str]) -> None:
        """Free the model's rows and objective once HiGHS holds them (a single solve's memory).

        HiGHS has its own copy of every row; the Pyomo constraints, their
        expressions and the objective are deleted from the model (at the
        largest benchmark size about two thirds of the model's memory, given
        back before the MIP starts). The variables stay: they receive the
        plan. The rows of the families in ``keep`` are remembered by family
        and index, for :meth:`row_keys` (the duals). After this the model
        cannot be changed in place: :meth:`sync` returns False.
        """
        self._kept_rows = {}
        with PauseGC():  # a list of 10^5-10^6 new tuples: no collections walking the model
            for name, index, position in self.row_keys(keep):
                self._kept_rows.setdefault(name, []).append((index, position))
        self._released_rows = len(self.rows)
        self.rows = []
        self._column_of, self._row_of, self._family_rows, self._held = {}, {}, {}, None
        self.released = True
        model = self.model
        for kind in (pyo.Constraint, pyo.Objective, pyo.Expression):
            for component in list(model.component_objects(kind, descend_into=True)):
                component.parent_block().del_component(component)
        if self.row_count >= COLLECT_FROM_ROWS:
            gc.collect()  # some expressions sit in reference cycles: free them before the MIP

    @property
    def row_count(self) -> int:
        """Rows HiGHS holds (those of a released model included)."""
        return self._released_rows if self.released else len(self.rows)

    def row_keys(self, families: Iterable[str]) -> Iterator[tuple[str, Any, int]]:
        """(family, index, position in HiGHS) of every active handed row of ``families``.

        Families come in the order given, each family's rows in the order of
        its index (as a fresh build hands them): a row added by :meth:`sync`
        sits at the end of HiGHS's rows but comes in its place here, and a row
        deactivated since (kept in HiGHS with open bounds) does not come.
        """
        wanted = list(families)
        if self.released:  # what this method gave at the release
            for name in wanted:
                for index, position in self._kept_rows.get(name, []):
                    yield name, index, position
            return
        position_of = self._row_of or {id(row): i for i, row in enumerate(self.rows)}
        for name in wanted:
            component = self.model.component(name)
            if component is None:
                continue
            for index, row in component.items():
                at = position_of.get(id(row)) if row.active else None
                if at is not None:
                    yield name, index, at

    def cost_of(self, plan: np.ndarray) -> float:
        """Return the objective of ``plan`` (a value per column) at the costs HiGHS holds."""
        return float(self._cost @ plan) + self._offset

    def _matrix(self) -> sparse.csr_matrix:
        """Return the constraint matrix HiGHS holds, by rows (copied from HiGHS once).

        Not kept from the hand-off: a single solve never needs it, and at
        the largest sizes it is a few hundred MB.
        """
        if self._held is None:
            matrix = self.highs.getLp().a_matrix_
            shape = (len(self.rows), len(self.columns))
            held = sparse.csc_matrix(
                (np.asarray(matrix.value_), np.asarray(matrix.index_), np.asarray(matrix.start_)),
                shape=shape,
            )
            self._held = held.tocsr()
        return self._held

    def sync(self, rebound: Rebound) -> bool:
        """Push what :func:`~planner.model.update.rebind` re-evaluated to HiGHS, in place.

        The re-evaluated rows are read into a sparse matrix and compared with
        what HiGHS holds: only coefficients, bounds and costs that differ are
        changed; rows deactivated since are freed (their coefficients kept),
        rows added since are appended. Returns False (HiGHS partly changed:
        discard this model) when a row uses a variable HiGHS has no column for.
        """
        if self.released or self.infeasible_constant or not self._index():
            return False
        try:
            self._sync_rows(rebound.families, rebound.rows)
            self._add_new_rows(rebound.families)
            if rebound.bounds:
                self._sync_bounds()
            if rebound.objective:
                self._sync_costs()
        except KeyError:
            return False
        return True

    def _index(self) -> bool:
        """Map rows and columns to their positions, once; False if a row was split in two."""
        if not self._row_of and self.rows:
            self._column_of = {id(var): j for j, var in enumerate(self.columns)}
            self._row_of = {id(row): i for i, row in enumerate(self.rows)}
            for i, row in enumerate(self.rows):
                self._family_rows.setdefault(row.parent_component().local_name, []).append(i)
        return len(self._row_of) == len(self.rows)

    def _linear_terms(self, body: Any) -> tuple[list[int], list[float], float]:
        """Column indices, coefficients and constant of a linear row body (a Pyomo expression)."""
        if isinstance(body, LinearExpression) and all(type(c) is float for c in body.linear_coefs):
            variables, coefficients, constant = body.linear_vars, body.linear_coefs, body.constant
        else:
            variables, coefficients, constant = coefficient_arrays(body)
        column_of = self._column_of
        # a variable whose every coefficient was 0 at the build has no column: skip its 0 terms
        # (an unknown variable with a coefficient still raises KeyError: build anew)
        terms = [
            (column_of[id(var)], float(c))
            for var, c in zip(variables, coefficients, strict=True)
            if c != 0 or id(var) in column_of
        ]
        return (
            [column for column, _ in terms],
            [c for _, c in terms],
            float(pyo.value(constant)),
        )

    @staticmethod
    def _row_bounds(row: ConstraintData, constant: float) -> tuple[float, float]:
        lower, upper = pyo.value(row.lower), pyo.value(row.upper)
        return (
            -INF if lower is None else float(lower) - constant,
            INF if upper is None else float(upper) - constant,
        )

    def _sync_rows(self, families: list[str], only: Mapping[str, list[Any]]) -> None:
        """Push the rows of ``families`` (of a family in ``only``, those indices) to HiGHS."""
        at: list[int] = []
        for name in families:
            if name not in only:
                at += self._family_rows.get(name, [])
                continue
            component = self.model.component(name)
            rows = (component[index] for index in only[name] if index in component)
            at += [self._row_of[id(row)] for row in rows if id(row) in self._row_of]
        positions = np.array(at, dtype=np.int64)
        if not len(positions):
            return
        width = len(self.columns)
        old = self._matrix()[positions]
        row_index: list[int] = []
        columns: list[int] = []
        values: list[float] = []
        lower = np.full(len(positions), -INF)
        upper = np.full(len(positions), INF)
        keep = np.zeros(len(positions))
        for r, i in enumerate(positions.tolist()):
            row = self.rows[i]
            if not row.active:
                keep[r] = 1.0  # freed: its bounds open, its coefficients as they were
                continue
            these, coefficients, constant = self._linear_terms(row.body)
            row_index += [r] * len(these)
            columns += these
            values += coefficients
            lower[r], upper[r] = self._row_bounds(row, constant)
        new = sparse.csr_matrix((values, (row_index, columns)), shape=(len(positions), width))
        if keep.any():
            new = (new + sparse.diags(keep) @ old).tocsr()
        new.sum_duplicates()
        new.eliminate_zeros()
        change = (new - old).tocoo()
        change.eliminate_zeros()
        if change.nnz:
            rows = positions[change.row]
            now = np.asarray(new[change.row, change.col]).ravel()
            for i, j, value in zip(rows.tolist(), change.col.tolist(), now.tolist(), strict=True):
                self.highs.changeCoeff(i, j, value)  # 0 removes the entry
            held = self._matrix()
            delta = sparse.csr_matrix((change.data, (rows, change.col)), shape=held.shape)
            self._held = (held + delta).tocsr()
            self._held.eliminate_zeros()
        moved = (lower != self._row_lower[positions]) | (upper != self._row_upper[positions])
        if moved.any():
            at = positions[moved]
            self.highs.changeRowsBounds(  # type: ignore[attr-defined]
                len(at), at, lower[moved], upper[moved]
            )
            self._row_lower[at], self._row_upper[at] = lower[moved], upper[moved]

    def _add_new_rows(self, families: list[str]) -> None:
        added = []
        base = None
        for name in families:
            for row in self.model.component(name).values():
                if not row.active or id(row) in self._row_of:
                    continue
                if base is None:
                    base = self._matrix()  # as HiGHS holds it before this row is added
                these, coefficients, constant = self._linear_terms(row.body)
                lower, upper = self._row_bounds(row, constant)
                entries = sparse.csr_matrix(
                    (coefficients, ([0] * len(these), these)), shape=(1, len(self.columns))
                )
                entries.sum_duplicates()
                entries.eliminate_zeros()
                self.highs.addRow(
                    lower, upper, entries.nnz, entries.indices.astype(np.int32), entries.data
                )
                self._row_of[id(row)] = len(self.rows)
                self._family_rows.setdefault(name, []).append(len(self.rows))
                self.rows.append(row)
                added.append(entries)
                self._row_lower = np.append(self._row_lower, lower)
                self._row_upper = np.append(self._row_upper, upper)
        if added:
            self._held = sparse.vstack([base, *added], format="csr")

    def _sync_bounds(self) -> None:
        lower = np.array([-INF if v.lb is None else v.lb for v in self.columns], dtype=float)
        upper = np.array([INF if v.ub is None else v.ub for v in self.columns], dtype=float)
        changed = np.flatnonzero((lower != self._col_lower) | (upper != self._col_upper))
        if len(changed):
            self.highs.changeColsBounds(len(changed), changed, lower[changed], upper[changed])
            self._col_lower, self._col_upper = lower, upper

    def _sync_costs(self) -> None:
        goal = next(self.model.component_data_objects(pyo.Objective, active=True))
        these, coefficients, offset = self._linear_terms(goal.expr)
        cost = np.zeros(len(self.columns))
        np.add.at(cost, these, coefficients)
        changed = np.flatnonzero(cost != self._cost)
        if len(changed):
            self.highs.changeColsCost(len(changed), changed, cost[changed])
            self._cost = cost
        if offset != self._offset:
            self.highs.changeObjectiveOffset(offset)
            self._offset = offset
