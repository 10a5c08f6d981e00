"""Contract decisions from PH's scenario solutions, to fix in the extensive form.

A PH scenario solution gives the binaries on its path: contracts signed now
and activities adopted (ROOT), and the later offers signed at each node. A
candidate plan takes each node's binaries from the most probable PH scenario
through it (xhatshuffle's rule, one scenario per node), so that scenarios
sharing a node share its decisions; the extensive form with them fixed is an
LP whose optimum is the plan written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from planner.decompose.tree import PhTree
from planner.model.parameters import ModelData
from planner.results import Plan


@dataclass(frozen=True)
class Binaries:
    """Every binary of the extensive form, rounded: a candidate's contract decisions."""

    contract: np.ndarray  # [offer]
    adopt: np.ndarray  # [activity]
    signed: np.ndarray  # [offer, node]

    def key(self) -> bytes:
        """Equal for equal decisions (to try each candidate once)."""
        return b"".join(
            a.astype(np.int8).tobytes() for a in (self.contract, self.adopt, self.signed)
        )


def binaries_of(pieces: dict[str, Plan], data: ModelData, tree: PhTree) -> Binaries | None:
    """Return the binaries of PH scenario solutions, one scenario per node (None: one missing)."""
    if any(scenario.name not in pieces for scenario in tree.scenarios):
        return None
    order = sorted(tree.scenarios, key=lambda scenario: -scenario.probability)
    first = pieces[order[0].name]
    signed = np.zeros((len(data.offers), len(data.nodes)))
    seen = np.zeros(len(data.nodes), dtype=bool)
    for scenario in order:
        piece = pieces[scenario.name]
        for t, n in enumerate(scenario.path):
            if not seen[n]:
                signed[:, n] = piece.signed[:, t, 0]
                seen[n] = True
    return Binaries(
        contract=np.round(first.contract), adopt=np.round(first.adopt), signed=np.round(signed)
    )


def fix_binaries(model: pyo.ConcreteModel, data: ModelData, binaries: Binaries) -> None:
    """Fix the extensive form's binaries at ``binaries``, by their bounds.

    Offers signed before the horizon stay at 1.
    """
    for o in model.NOW_OFFERS:
        value = 1.0 if data.offer_contracted[o] else float(binaries.contract[o])
        model.contract[o].setlb(value)
        model.contract[o].setub(value)
    for k in model.ACTIVITIES:
        model.adopt[k].setlb(float(binaries.adopt[k]))
        model.adopt[k].setub(float(binaries.adopt[k]))
    for o, n in model.SIGNING_NODES:
        model.signed[o, n].setlb(float(binaries.signed[o, n]))
        model.signed[o, n].setub(float(binaries.signed[o, n]))


def assemble(pieces: dict[str, Plan], data: ModelData, tree: PhTree) -> Plan:
    """Join the PH scenarios' plans into the tree's: each scenario takes its leaf's piece."""
    first = pieces[tree.scenarios[0].name]
    n_w = len(data.scenarios)

    def widen(values: np.ndarray) -> np.ndarray:
        return np.zeros((*values.shape[:2], n_w))

    fields = ("signed", "purchase", "level", "stock", "unmet", "by_use", "cover_gap", "change")
    arrays = {name: widen(getattr(first, name)) for name in fields}
    for scenario in tree.scenarios:
        piece = pieces[scenario.name]
        for name in fields:
            arrays[name][:, :, list(scenario.scenarios)] = getattr(piece, name)
    return Plan(contract=first.contract, adopt=first.adopt, **arrays)
