"""The hand-off: a Pyomo model passed to HiGHS once, and changed there in place.

Pyomo's standard-form compiler turns the model into sparse matrices in one
pass and ``Highs.passModel`` takes them, much faster than generating each
row through a persistent interface. :class:`HighsModel` keeps what it takes
to change that model in place for a re-solve: the Pyomo rows and columns in
HiGHS's order and the bounds and costs HiGHS holds, so that :meth:`HighsModel.sync`
pushes only differences. Running HiGHS and reading its answer is
:mod:`planner.solve`'s job.
"""

from __future__ import annotations

import time
from typing import Any

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.common.errors import InfeasibleConstraintException
from pyomo.common.tee import capture_output
from pyomo.core.base.constraint import ConstraintData
from pyomo.core.base.var import VarData
from pyomo.core.expr.numeric_expr import LinearExpression
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler, LinearStandardFormInfo
from scipy import sparse

from planner.errors import SolverError
from planner.model.linear import coefficient_arrays
from planner.model.update import Rebound

INF = highspy.kHighsInf


def new_highs() -> highspy.Highs:
    """Return a silent HiGHS instance (newer versions print a banner from the constructor)."""
    with capture_output(capture_fd=True):
        highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    return highs


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
        repn: LinearStandardFormInfo | None
        try:
            repn = LinearStandardFormCompiler().write(model, mixed_form=True, set_sense=None)
        except InfeasibleConstraintException as error:
            self.infeasible_constant = str(error)
            repn = None
        self.highs = new_highs()
        self.rows: list[ConstraintData] = [] if repn is None else [r.constraint for r in repn.rows]
        self.columns: list[VarData] = [] if repn is None else list(repn.columns)
        self.nonzeros = 0 if repn is None else int(repn.A.nnz)
        self.integer = np.zeros(0, dtype=bool)
        if repn is not None:
            self._pass_model(repn)
        else:
            self._keep_state(highspy.HighsLp())
        self.seconds = time.perf_counter() - started

    def _pass_model(self, repn: LinearStandardFormInfo) -> None:
        columns = self.columns
        lp = highspy.HighsLp()
        lp.num_col_ = len(columns)
        lp.num_row_ = len(self.rows)
        lp.col_cost_ = np.asarray(repn.c.toarray()).ravel() if columns else np.zeros(0)
        lp.offset_ = float(repn.c_offset[0]) if len(repn.c_offset) else 0.0
        lp.col_lower_ = np.array([-INF if v.lb is None else v.lb for v in columns], dtype=float)
        lp.col_upper_ = np.array([INF if v.ub is None else v.ub for v in columns], dtype=float)
        rhs = np.asarray(repn.rhs, dtype=float)
        kinds = np.array([row.bound_type for row in repn.rows], dtype=int)
        lp.row_lower_ = np.where(kinds == 1, -INF, rhs)
        lp.row_upper_ = np.where(kinds == -1, INF, rhs)
        matrix = repn.A.tocsc()
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = matrix.indptr
        lp.a_matrix_.index_ = matrix.indices
        lp.a_matrix_.value_ = matrix.data
        lp.a_matrix_.num_col_ = len(columns)
        lp.a_matrix_.num_row_ = len(self.rows)
        self.integer = np.array([v.is_integer() for v in columns], dtype=bool)
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if integer else highspy.HighsVarType.kContinuous
            for integer in self.integer
        ]
        status = self.highs.passModel(lp)
        if status == highspy.HighsStatus.kError:
            raise SolverError("HiGHS refused the model")
        self._keep_state(lp)

    def _keep_state(self, lp: highspy.HighsLp) -> None:
        """Remember what HiGHS holds, so that :meth:`sync` pushes only differences.

        The maps from rows and columns to their positions are made on the
        first :meth:`sync` (:meth:`_index`): a single solve never needs them,
        and at the largest sizes they are a few hundred MB.
        """
        self._column_of: dict[int, int] = {}
        self._row_of: dict[int, int] = {}
        self._family_rows: dict[str, list[int]] = {}
        self._held: sparse.csr_matrix | None = None  # the matrix, read from HiGHS on first sync
        self._row_lower = np.array(lp.row_lower_, dtype=float)
        self._row_upper = np.array(lp.row_upper_, dtype=float)
        self._col_lower = np.array(lp.col_lower_, dtype=float)
        self._col_upper = np.array(lp.col_upper_, dtype=float)
        self._cost = np.array(lp.col_cost_, dtype=float)
        self._offset = float(lp.offset_)

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
        if self.infeasible_constant or not self._index():
            return False
        try:
            self._sync_rows(rebound.families)
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

    def _sync_rows(self, families: list[str]) -> None:
        positions = np.array(
            [i for name in families for i in self._family_rows.get(name, [])], dtype=np.int64
        )
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
