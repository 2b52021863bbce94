"""Every module directly under `domain/` is classified: the pure model (a source of the import
contract that keeps it from importing the application layer) or `domain/application`."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DOMAIN = ROOT / "domain"
CONTRACT = "The pure domain model imports nothing of the application layer"


def _pure_model() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (contract,) = [c for c in contracts if c["name"] == CONTRACT]
    assert contract["type"] == "forbidden"
    assert contract["forbidden_modules"] == ["domain.application"]
    return set(contract["source_modules"])


def _top_level_modules() -> set[str]:
    """`domain.X` for every module and package directly under `domain/` but the application's."""
    found = {f"domain.{path.stem}" for path in DOMAIN.glob("*.py") if path.stem != "__init__"}
    found |= {
        f"domain.{path.name}"
        for path in DOMAIN.iterdir()
        if path.is_dir() and (path / "__init__.py").exists() and path.name != "application"
    }
    return found


def test_every_domain_module_is_the_pure_model_or_the_application() -> None:
    unclassified = _top_level_modules() - _pure_model()
    assert not unclassified, (
        f"{sorted(unclassified)}: put a module that drives ports (reads the tenant, opens a unit of "
        "work) in domain/application, or add a pure one to the contract's source_modules in "
        "pyproject.toml."
    )


def test_the_contract_names_only_modules_that_exist() -> None:
    assert _pure_model() <= _top_level_modules()
