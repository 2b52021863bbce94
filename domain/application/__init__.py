"""The application layer of the domain: use cases that drive the ports (tenant, storage, Slack).

The pure model (``domain.model``, ``domain.changes``, ``domain.rules``, ``domain.catalog``,
``domain.errors``, ``domain.commands``, ``domain.workflows``, ``domain.ports`` and their kin) decides;
the modules here read the tenant, ask the model, and record the result in short transactions. The
model never imports this package (an import-linter contract in ``pyproject.toml``).
"""
