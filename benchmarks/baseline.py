"""An array-built model of the spec (v1 and A1), for the benchmark only: numpy and highspy.

It is what the planner's model would be if written straight into arrays: one
variable per scenario-tree node, the supply ``S[e,n]`` and the node cost
``C[n]`` defined once where rows use them, each constraint family a few
vectorised index operations. The data come from the planner's own reader
and derived parameters (``planner.load``, ``derive``), so both models solve
the same numbers; only the model building and the hand-off differ. Not used
by the planner: it covers the v1 spec (plus A1 and joint
products) and refuses cases with other v2 features.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np

from planner.model.parameters import TOTAL, ModelData

INF = highspy.kHighsInf


@dataclass
class Built:
    """The model as arrays, ready for ``Highs.passModel``."""

    lp: Any
    rows: int
    columns: int
    nonzeros: int
    seconds: dict[str, float] = field(default_factory=dict)


class _Rows:
    """Rows in COO form, appended one family at a time."""

    def __init__(self) -> None:
        self.count = 0
        self.entries: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.lower: list[np.ndarray] = []
        self.upper: list[np.ndarray] = []

    def add(self, count: int, lower: Any, upper: Any, *terms: tuple[np.ndarray, Any, Any]) -> int:
        """Add ``count`` rows; each term is (local row, column, value) arrays. Returns the first."""
        first = self.count
        for row, column, value in terms:
            row = np.asarray(row, dtype=np.int64)
            self.entries.append(
                (
                    first + row,
                    np.broadcast_to(np.asarray(column, dtype=np.int64), row.shape),
                    np.broadcast_to(np.asarray(value, dtype=float), row.shape),
                )
            )
        self.lower.append(np.broadcast_to(np.asarray(lower, dtype=float), (count,)))
        self.upper.append(np.broadcast_to(np.asarray(upper, dtype=float), (count,)))
        self.count += count
        return first


def _unsupported(data: ModelData) -> list[str]:
    found = []
    if data.offer_later.any():
        found.append("later signings")
    if data.offer_contracted.any() or not np.isnan(data.commitment).all():
        found.append("contracts and commitments")
    if data.previous_offers.any() and data.change_cost > 0:
        found.append("change cost")
    if any(policy == "country_share_max" for policy, _ in data.caps):
        found.append("country_share_max")
    return found


def build(data: ModelData) -> Built:
    """Build the MIP of ``data`` as highspy arrays."""
    missing = _unsupported(data)
    if missing:
        raise NotImplementedError(f"the array baseline covers v1 only, not: {', '.join(missing)}")
    n_o, n_k, n_e = len(data.offers), len(data.activities), len(data.elements)
    period = np.array([node.period for node in data.nodes])
    rep = np.array([node.scenarios[0] for node in data.nodes])
    parent = np.array([-1 if node.parent is None else node.parent for node in data.nodes])
    probability = np.array([node.probability for node in data.nodes])
    n_n = len(data.nodes)
    lam, alpha = float(data.cvar_weight), float(data.cvar_alpha)
    # columns: y, z, x, r, s, u, g, S, C, eta, v
    xo, xn = np.nonzero(data.deliverable()[:, period])
    rk, rn = np.nonzero(data.activity_window[:, period])
    target = data.cover_target()[:, period, rep]  # [e, n]
    ge, gn = np.nonzero(target > 0)
    supply_at = _supply_nodes(data, period, n_e, n_n)
    se, sn = np.nonzero(supply_at)
    sizes = {
        "y": n_o,
        "z": n_k,
        "x": len(xo),
        "r": len(rk),
        "s": n_e * n_n,
        "u": n_e * n_n,
        "g": len(ge),
        "S": len(se),
        "C": n_n if lam > 0 else 0,
        "eta": 1 if lam > 0 else 0,
        "v": len(data.scenarios) if lam > 0 else 0,
    }
    start = dict(zip(sizes, np.cumsum([0, *sizes.values()])[:-1].tolist(), strict=True))
    n_cols = sum(sizes.values())
    x_col = start["x"] + np.arange(len(xo))
    r_col = start["r"] + np.arange(len(rk))
    s_col = start["s"] + np.arange(n_e * n_n).reshape(n_e, n_n)
    u_col = start["u"] + np.arange(n_e * n_n).reshape(n_e, n_n)
    g_col = start["g"] + np.arange(len(ge))
    supply_col = np.full((n_e, n_n), -1)
    supply_col[se, sn] = start["S"] + np.arange(len(se))
    lower = np.zeros(n_cols)
    upper = np.full(n_cols, INF)
    upper[: n_o + n_k] = 1.0
    upper[s_col] = np.where(np.isinf(data.storage_capacity), INF, data.storage_capacity)[:, None]
    demand = data.demand[:, period, rep]  # [e, n]
    upper[u_col] = demand  # A1: u <= d, a bound (a row where substitution adds demand)
    rows = _Rows()
    # 1: x - cap y <= 0; x - m y >= 0 where m > 0
    capacity = data.capacity[xo, period[xn], rep[xn]]
    pairs = np.arange(len(xo))
    rows.add(len(xo), -INF, 0.0, (pairs, x_col, 1.0), (pairs, xo, -capacity))
    minimum = data.min_take()[xo, period[xn], rep[xn]]
    taken = np.flatnonzero(minimum > 0)
    local = np.arange(len(taken))
    rows.add(len(taken), 0.0, INF, (local, x_col[taken], 1.0), (local, xo[taken], -minimum[taken]))
    # 2: r - acap z <= 0
    acap = data.activity_capacity[rk, period[rn], rep[rn]]
    local = np.arange(len(rk))
    rows.add(len(rk), -INF, 0.0, (local, r_col, 1.0), (local, start["z"] + rk, -acap))
    # 3: s - s_parent - sum a x - sum yield r - u = -d (+ initial stock at the root)
    xi, xe = np.nonzero(data.contents[xo])  # supply pairs (x pair, element)
    ri, re = np.nonzero(data.yields[rk])
    balance = np.arange(n_e * n_n).reshape(n_e, n_n)
    right = -demand + np.where(parent < 0, 1.0, 0.0)[None, :] * data.initial_stock[:, None]
    child = np.flatnonzero(parent >= 0)
    every = np.arange(n_e * n_n)
    rows.add(
        n_e * n_n,
        right.ravel(),
        right.ravel(),
        (every, s_col.ravel(), 1.0),
        (every, u_col.ravel(), -1.0),
        (balance[:, child].ravel(), s_col[:, parent[child]].ravel(), -1.0),
        (balance[xe, xn[xi]], x_col[xi], -data.contents[xo[xi], xe]),
        (balance[re, rn[ri]], r_col[ri], -data.yields[rk[ri], re]),
    )
    # 4: substitution that avoids demand avoids at most the demand
    substitution = np.array([kind == "substitution" for kind in data.activity_kind], dtype=bool)
    avoid = substitution[rk[ri]] & (data.yields[rk[ri], re] > 0)
    cells = np.unique(re[avoid] * n_n + rn[ri][avoid])
    index = np.searchsorted(cells, re[avoid] * n_n + rn[ri][avoid])
    rows.add(
        len(cells),
        -INF,
        demand.ravel()[cells],
        (index, r_col[ri][avoid], data.yields[rk[ri][avoid], re[avoid]]),
    )
    # A1: u <= d + sum_{k sub} max(0, -yield) r, a row where some substitution adds demand
    adds = substitution[rk[ri]] & (data.yields[rk[ri], re] < 0)
    cells = np.unique(re[adds] * n_n + rn[ri][adds])
    index = np.searchsorted(cells, re[adds] * n_n + rn[ri][adds])
    upper[u_col.ravel()[cells]] = INF
    rows.add(
        len(cells),
        -INF,
        demand.ravel()[cells],
        (np.arange(len(cells)), u_col.ravel()[cells], 1.0),
        (index, r_col[ri][adds], data.yields[rk[ri][adds], re[adds]]),
    )
    # 6: s + g >= q where q > 0
    local = np.arange(len(ge))
    rows.add(len(ge), target[ge, gn], INF, (local, s_col[ge, gn], 1.0), (local, g_col, 1.0))
    # 7: S - sum a x - sum_rec yield r = 0 where S is used
    recycling = ~substitution
    xs = supply_col[xe, xn[xi]] >= 0
    rs = (supply_col[re, rn[ri]] >= 0) & recycling[rk[ri]]
    rows_of_supply = np.full((n_e, n_n), -1)
    rows_of_supply[se, sn] = np.arange(len(se))
    rows.add(
        len(se),
        0.0,
        0.0,
        (np.arange(len(se)), supply_col[se, sn], 1.0),
        (rows_of_supply[xe[xs], xn[xi][xs]], x_col[xi][xs], -data.contents[xo[xi][xs], xe[xs]]),
        (rows_of_supply[re[rs], rn[ri][rs]], r_col[ri][rs], -data.yields[rk[ri][rs], re[rs]]),
    )
    # 8, 9: W - v S <= 0 per element or TOTAL
    supply_terms = (xi, xe, ri[recycling[rk[ri]]], re[recycling[rk[ri]]])
    for (policy, basis), caps in data.caps.items():
        if policy == "china_share_max":
            weights = (data.offer_china[basis].astype(float), data.activity_china.astype(float))
        elif policy == "risk_max":
            weights = (data.offer_risk, data.activity_risk)
        else:
            continue
        _share_rows(
            rows,
            data,
            caps,
            weights,
            supply_terms,
            period,
            xo,
            xn,
            rk,
            rn,
            x_col,
            r_col,
            supply_col,
        )
    # 10: a x - v S <= 0 for each element an offer carries
    caps = data.caps.get(("offer_share_max", ""), {})
    if caps:
        value = np.ones((n_e, len(data.periods)))
        for (name, t), cap in caps.items():
            if name != TOTAL:
                value[data.elements.index(name), t] = cap.value
        v = value[xe, period[xn[xi]]]
        kept = np.flatnonzero(v < 1)
        local = np.arange(len(kept))
        rows.add(
            len(kept),
            -INF,
            0.0,
            (local, x_col[xi[kept]], data.contents[xo[xi[kept]], xe[kept]]),
            (local, supply_col[xe[kept], xn[xi[kept]]], -v[kept]),
        )
    # 11: sum_{o in O_e} y >= n_e
    for element, cap in data.min_offers.items():
        if cap.value > 0:
            offers = data.offers_of(data.elements.index(element))
            rows.add(1, cap.value, INF, (np.zeros(len(offers), dtype=np.int64), offers, 1.0))
    # objective: F + (1 - lam) sum_n p_n cost(n) + lam (eta + sum_w p_w v_w / (1 - alpha))
    cost = np.zeros(n_cols)
    cost[:n_o] = data.offer_fixed_cost
    cost[n_o : n_o + n_k] = data.activity_fixed_cost
    node_terms = [
        (xn, x_col, data.unit_cost[xo, period[xn], rep[xn]]),
        (rn, r_col, data.activity_cost[rk, period[rn], rep[rn]]),
        (np.tile(np.arange(n_n), n_e), s_col.ravel(), np.repeat(data.holding_cost, n_n)),
        (np.tile(np.arange(n_n), n_e), u_col.ravel(), np.repeat(data.shortage_cost, n_n)),
        (gn, g_col, data.cover_penalty[ge]),
    ]
    if lam > 0:
        c_col = start["C"] + np.arange(n_n)
        rows.add(
            n_n,
            0.0,
            0.0,
            (np.arange(n_n), c_col, 1.0),
            *((node, column, -value) for node, column, value in node_terms),
        )
        cost[c_col] = (1 - lam) * probability
        cost[start["eta"]] = lam
        lower[start["eta"]] = -INF
        n_w = len(data.scenarios)
        v_col = start["v"] + np.arange(n_w)
        cost[v_col] = lam * data.probability / (1 - alpha)
        path = data.node_of  # [t, w]
        rows.add(
            n_w,
            0.0,
            INF,
            (np.arange(n_w), v_col, 1.0),
            (np.arange(n_w), start["eta"], 1.0),
            (np.tile(np.arange(n_w), path.shape[0]), c_col[path.ravel()], -1.0),
        )
    else:
        for node, column, value in node_terms:
            cost[column] += probability[node] * value
    return _assemble(rows, cost, lower, upper, n_o + n_k)


def _supply_nodes(data: ModelData, period: np.ndarray, n_e: int, n_n: int) -> np.ndarray:
    """Bool [e, n]: where a share, risk or offer-share cap uses S[e,n]."""
    used = np.zeros((n_e, len(data.periods)), dtype=bool)
    for (policy, _), caps in data.caps.items():
        if policy in ("china_share_max", "risk_max", "offer_share_max"):
            for name, t in caps:
                used[slice(None) if name == TOTAL else data.elements.index(name), t] = True
    return used[:, period]


def _share_rows(
    rows: _Rows,
    data: ModelData,
    caps: dict[tuple[str, int], Any],
    weights: tuple[np.ndarray, np.ndarray],
    supply_terms: tuple[np.ndarray, ...],
    period: np.ndarray,
    xo: np.ndarray,
    xn: np.ndarray,
    rk: np.ndarray,
    rn: np.ndarray,
    x_col: np.ndarray,
    r_col: np.ndarray,
    supply_col: np.ndarray,
) -> None:
    """Rows ``sum_j a_j w_j q_j - v sum_e S[e,n] <= 0``, skipped where no w_j > v."""
    n_e, n_n = supply_col.shape
    xi, xe, ri, re = supply_terms
    value = np.full((n_e + 1, len(data.periods)), np.nan)  # last row: TOTAL
    for (name, t), cap in caps.items():
        value[n_e if name == TOTAL else data.elements.index(name), t] = cap.value
    for total in (False, True):
        v = value[n_e] if total else value[:n_e]  # [t] or [e, t]
        row_v = np.broadcast_to(v[period] if total else v[:, period], (n_e, n_n))
        has = ~np.isnan(row_v)
        row_id = np.full((n_e, n_n), -1)
        if total:
            cells = np.flatnonzero(has[0])
            row_id[:, cells] = np.arange(len(cells))[None, :]
        else:
            cells_e, cells_n = np.nonzero(has)
            row_id[cells_e, cells_n] = np.arange(len(cells_e))
            cells = cells_e
        count = len(cells)
        if not count:
            continue
        wx = weights[0][xo[xi]] * data.contents[xo[xi], xe]
        wr = weights[1][rk[ri]] * data.yields[rk[ri], re]
        rx, rr = row_id[xe, xn[xi]], row_id[re, rn[ri]]
        keep_x, keep_r = (rx >= 0) & (wx != 0), (rr >= 0) & (wr != 0)
        binds = np.zeros(count, dtype=bool)
        vx, vr = row_v[xe, xn[xi]], row_v[re, rn[ri]]
        binds[rx[keep_x & (weights[0][xo[xi]] > vx)]] = True
        binds[rr[keep_r & (weights[1][rk[ri]] > vr)]] = True
        se, sn = np.nonzero(row_id >= 0)
        rs = row_id[se, sn]
        new = np.full(count, -1)
        new[binds] = np.arange(binds.sum())
        keep_s = binds[rs] & (row_v[se, sn] != 0)
        keep_x &= binds[np.maximum(rx, 0)]
        keep_r &= binds[np.maximum(rr, 0)]
        rows.add(
            int(binds.sum()),
            -INF,
            0.0,
            (new[rx[keep_x]], x_col[xi[keep_x]], wx[keep_x]),
            (new[rr[keep_r]], r_col[ri[keep_r]], wr[keep_r]),
            (new[rs[keep_s]], supply_col[se[keep_s], sn[keep_s]], -row_v[se, sn][keep_s]),
        )


def _assemble(
    rows: _Rows, cost: np.ndarray, lower: np.ndarray, upper: np.ndarray, n_int: int
) -> Built:
    from scipy import sparse

    row = np.concatenate([e[0] for e in rows.entries])
    col = np.concatenate([e[1] for e in rows.entries])
    val = np.concatenate([e[2] for e in rows.entries])
    matrix = sparse.csc_matrix((val, (row, col)), shape=(rows.count, len(cost)))
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = len(cost), rows.count
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, lower, upper
    lp.row_lower_ = np.concatenate(rows.lower)
    lp.row_upper_ = np.concatenate(rows.upper)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr
    lp.a_matrix_.index_ = matrix.indices
    lp.a_matrix_.value_ = matrix.data
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = len(cost), rows.count
    kinds = np.full(len(cost), highspy.HighsVarType.kContinuous)
    kinds[:n_int] = highspy.HighsVarType.kInteger
    lp.integrality_ = kinds.tolist()
    return Built(lp, rows.count, len(cost), int(matrix.nnz))


def solve(path: Any, time_limit: float, mip_gap: float) -> dict[str, Any]:
    """Read, build and solve the case at ``path``; seconds per stage, sizes and the objective."""
    import planner
    from planner.model import derive
    from planner.solve import new_highs

    seconds = {}
    started = time.perf_counter()
    data = derive(planner.load(path))
    seconds["read"] = time.perf_counter() - started
    started = time.perf_counter()
    built = build(data)
    highs = new_highs()
    highs.passModel(built.lp)
    seconds["build"] = time.perf_counter() - started
    set_options(highs, time_limit, mip_gap)
    started = time.perf_counter()
    highs.run()
    seconds["solve"] = time.perf_counter() - started
    info = highs.getInfo()
    status = highs.modelStatusToString(highs.getModelStatus())
    objective = float(info.objective_function_value)
    highs.setOptionValue("time_limit", INF)  # a run that hit its limit leaves none for presolve
    highs.presolve()
    presolved = highs.getPresolvedLp()
    return {
        "rows": built.rows,
        "columns": built.columns,
        "nonzeros": built.nonzeros,
        "presolved": [presolved.num_row_, presolved.num_col_, len(presolved.a_matrix_.value_)],
        "status": status,
        "objective": objective,
        "seconds": seconds,
    }


def set_options(highs: Any, time_limit: float, mip_gap: float) -> None:
    """The planner's solver settings (one thread, seed 0, no absolute gap), for a fair run."""
    for option, value in (
        ("threads", 1),
        ("random_seed", 0),
        ("mip_abs_gap", 0.0),
        ("time_limit", time_limit),
        ("mip_rel_gap", mip_gap),
    ):
        highs.setOptionValue(option, value)
