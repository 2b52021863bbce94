"""The people of the shell's local Slack workspace: the tenant's users as Slack users, and what the
Slack client does to a typed message (mentions and emails become links)."""

from __future__ import annotations

import re

from bot.local_slack import LocalSlack
from domain.ports import TenantDirectory

__all__ = ["LocalPeople"]

_MENTION = re.compile(r"(?<![<\w])@([A-Za-z0-9._-]+)")
_EMAIL = re.compile(r"(?<![<|:\w])([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})")


class LocalPeople:
    """The tenant's users, each a Slack user of the local workspace once the shell meets them."""

    def __init__(self, slack: LocalSlack, directory: TenantDirectory) -> None:
        self._slack = slack
        self._directory = directory
        self._domains = self._tenant_domains()
        self._slack_ids: dict[str, str] = {}

    def slack_user_ids(self) -> list[str]:
        """The Slack user of everyone the shell has met so far."""
        return list(self._slack_ids.values())

    def slack_user(self, email: str, *, real_name: str | None = None) -> str:
        email = email.strip().lower()
        if email not in self._slack_ids:
            name = email.partition("@")[0]
            self._slack_ids[email] = self._slack.add_user(
                name, real_name=real_name or name.title(), email=email
            )
        return self._slack_ids[email]

    def person(self, word: str) -> str | None:
        """A Slack user id for `@alice` or an email of the tenant."""
        if "@" in word.lstrip("@"):
            return self.slack_user(word)
        email = self.tenant_email(word.lstrip("@"))
        return self.slack_user(email) if email else None

    def slackify(self, text: str) -> str:
        """What the Slack client does to a typed message: mentions and emails become links."""

        def mention(match: re.Match[str]) -> str:
            name = match.group(1)
            email = self.tenant_email(name)
            if email is not None:
                return f"<@{self.slack_user(email)}|{name}>"
            group = self._slack.usergroup(name)
            if group is not None:
                return f"<!subteam^{group.id}|@{group.handle}>"
            return match.group(0)

        text = _EMAIL.sub(lambda m: f"<mailto:{m.group(1)}|{m.group(1)}>", text)
        return _MENTION.sub(mention, text)

    def tenant_email(self, name: str) -> str | None:
        for domain in self._domains:
            user = self._directory.user(f"{name}@{domain}")
            if user is not None:
                return user.mail or user.user_principal_name
        return None

    def _tenant_domains(self) -> list[str]:
        organization = self._directory.organization()
        preferred = organization.default_domain
        return [preferred, *sorted(d for d in organization.verified_domains if d != preferred)]
