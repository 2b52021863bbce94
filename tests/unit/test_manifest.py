"""manifest.yml is valid against Slack's own manifest JSON Schema and declares what the app uses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"


def _manifest() -> dict[str, Any]:
    data = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_manifest_validates_against_slacks_schema(reference_dir: Path) -> None:
    schema = json.loads((reference_dir / "slack-manifest.schema.1.0.0.json").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(_manifest()), key=str)
    assert not errors, "\n".join(e.message for e in errors)


def test_manifest_declares_commands_scopes_and_interactivity() -> None:
    manifest = _manifest()
    commands = {c["command"]: c for c in manifest["features"]["slash_commands"]}
    assert set(commands) == {"/license", "/subscription"}
    assert all(c["should_escape"] for c in commands.values()), "mentions must arrive as <@U…|name>"
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "users:read", "users:read.email", "usergroups:read"} <= scopes
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert "app_home_opened" in manifest["settings"]["event_subscriptions"]["bot_events"]


def test_the_schema_check_would_catch_a_wrong_manifest(reference_dir: Path) -> None:
    schema = json.loads((reference_dir / "slack-manifest.schema.1.0.0.json").read_text(encoding="utf-8"))
    broken = _manifest()
    broken["features"]["slash_commands"][0]["command"] = "license"  # must start with "/"
    broken["settings"]["surprise"] = True  # additionalProperties: false
    assert len(list(jsonschema.Draft7Validator(schema).iter_errors(broken))) == 2
