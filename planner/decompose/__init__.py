"""Decomposed solves: progressive hedging on mpi-sppy over the planner's scenario tree.

``tree`` maps the planner's tree to mpi-sppy's stages, ``scenario`` builds
one PH scenario's model with the planner's own model code, ``ph`` runs the
PH hub, the Lagrangian bound and the xhat search (in one process or under
``mpiexec``), ``candidates`` turns their plans into contract decisions for
the extensive form. mpi-sppy and mpi4py are the optional ``mpi`` extra,
imported only when a decomposed solve runs.
"""
