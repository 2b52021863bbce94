"""A local Microsoft Graph v1.0 (the subset licensebot uses) over the simulated tenant."""

from __future__ import annotations

from storage.graph_sim.faults import FaultKind, FaultPlan
from storage.graph_sim.rules import GraphRules
from storage.graph_sim.server import GraphSimulator, SimApp
from storage.graph_sim.stats import SimStats
from storage.graph_sim.tenant import DatabaseTenant, SimTenant, TenantSource

__all__ = [
    "DatabaseTenant",
    "FaultKind",
    "FaultPlan",
    "GraphRules",
    "GraphSimulator",
    "SimApp",
    "SimStats",
    "SimTenant",
    "TenantSource",
]
