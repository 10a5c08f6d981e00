"""The planner's scenario tree as mpi-sppy's multi-stage tree (formulation rule 12).

The planner's tree (``parameters.scenario_tree``) branches at any period where
scenarios can first be told apart, possibly at different periods in different
subtrees. mpi-sppy wants every scenario to pass through the same number of
stages, its nodes named ``ROOT``, ``ROOT_0``, ``ROOT_0_1``..., one leaf per
scenario. The mapping:

* the *branch periods* are every period at which some node of the planner's
  tree has a sibling (period 0 when it has more than one node);
* mpi-sppy stage 1 (``ROOT``) holds the first-stage decisions and the periods
  before the first branch period; stage ``s`` the periods from the ``s-1``-th
  branch period up to the next; the leaf stage the rest. Within a stage no
  node of the planner's tree branches, so a scenario's nodes in a stage are
  a chain fixed by the node at the stage's first period: that node names the
  mpi-sppy node. A subtree that does not branch at a branch period gets a
  single-child mpi-sppy node there;
* a PH scenario is a leaf of the planner's tree (scenarios the tree cannot
  tell apart share every node, so they are one PH scenario with their summed
  probability).
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.model.parameters import ModelData


@dataclass(frozen=True)
class Stage:
    """One mpi-sppy node on a PH scenario's path.

    ``periods`` are the planner periods whose node variables are its
    non-anticipative variables (plus the first-stage decisions at ROOT);
    ``key`` is the planner node at its first period (None for ROOT).
    """

    name: str
    stage: int
    cond_prob: float
    parent: str | None
    periods: tuple[int, ...]
    key: int | None


@dataclass(frozen=True)
class PhScenario:
    """A leaf of the planner's tree: one PH scenario."""

    name: str
    leaf: int  # the planner node at the last period
    path: tuple[int, ...]  # the planner node at each period
    probability: float
    scenarios: tuple[int, ...]  # the planner's scenarios it stands for
    stages: tuple[Stage, ...]  # its non-leaf mpi-sppy nodes, ROOT first
    leaf_periods: tuple[int, ...]  # the periods of its leaf stage (recourse)


@dataclass(frozen=True)
class PhTree:
    """The planner's tree as mpi-sppy sees it."""

    scenarios: tuple[PhScenario, ...]  # in mpi-sppy's order (depth first)
    branch_periods: tuple[int, ...]
    all_nodenames: list[str] | None  # None for two stages

    @property
    def names(self) -> list[str]:
        """The PH scenario names, in order."""
        return [scenario.name for scenario in self.scenarios]

    @property
    def stages(self) -> int:
        """The number of mpi-sppy stages (the leaf stage included)."""
        return len(self.scenarios[0].stages) + 1

    def scenario(self, name: str) -> PhScenario:
        """Return the PH scenario called ``name``."""
        return self.scenarios[self.names.index(name)]


def ph_tree(data: ModelData) -> PhTree:
    """Map ``data``'s scenario tree to mpi-sppy's stages (see the module's docstring)."""
    nodes = data.nodes
    n_t = len(data.periods)
    children: dict[int | None, list[int]] = {}
    for node in nodes:
        children.setdefault(node.parent, []).append(node.id)
    branch = sorted({nodes[kids[0]].period for kids in children.values() if len(kids) > 1})
    leaves = [node for node in nodes if node.period == n_t - 1]
    paths: list[tuple[int, ...]] = []
    for leaf in leaves:
        up = [leaf.id]
        parent = leaf.parent
        while parent is not None:
            up.append(parent)
            parent = nodes[parent].parent
        paths.append(tuple(reversed(up)))
    order = sorted(range(len(leaves)), key=lambda i: tuple(paths[i][t] for t in branch))
    # the stages' periods: ROOT [0, b1), then [b_i, b_i+1); the leaf stage [b_k, T)
    bounds = [0, *branch, n_t] if branch else [0, n_t, n_t]
    spans = [tuple(range(bounds[i], bounds[i + 1])) for i in range(len(bounds) - 1)]
    names: dict[tuple[int | None, int], str] = {}  # (parent key, child key) -> name
    counts: dict[str, int] = {}
    scenarios = []
    all_nodenames = ["ROOT"]
    for position, i in enumerate(order):
        path = paths[i]
        stages = [Stage("ROOT", 1, 1.0, None, spans[0], None)]
        parent_name, parent_probability = "ROOT", 1.0
        for s, period in enumerate(branch[:-1], start=2):
            key = path[period]
            name = names.get((stages[-1].key, key))
            if name is None:
                name = f"{parent_name}_{counts.get(parent_name, 0)}"
                counts[parent_name] = counts.get(parent_name, 0) + 1
                names[(stages[-1].key, key)] = name
                all_nodenames.append(name)
            probability = nodes[key].probability
            stages.append(
                Stage(name, s, probability / parent_probability, parent_name, spans[s - 1], key)
            )
            parent_name, parent_probability = name, probability
        leaf = nodes[path[-1]]
        if len(branch) > 1:
            all_nodenames.append(f"{parent_name}_{counts.get(parent_name, 0)}")
            counts[parent_name] = counts.get(parent_name, 0) + 1
        scenarios.append(
            PhScenario(
                name=f"scen{position}",
                leaf=leaf.id,
                path=path,
                probability=leaf.probability,
                scenarios=leaf.scenarios,
                stages=tuple(stages),
                leaf_periods=spans[-1],
            )
        )
    return PhTree(
        scenarios=tuple(scenarios),
        branch_periods=tuple(branch),
        all_nodenames=all_nodenames if len(branch) > 1 else None,
    )
