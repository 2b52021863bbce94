"""The text grammar of `/license` and `/subscription` (DESIGN.md §3), as pure functions.

Slack sends the text of a slash command with `&`, `<` and `>` escaped, mentions as `<@U123|name>`,
user groups as `<!subteam^S1|@name>` and auto-linked emails as `<mailto:a@b.com|a@b.com>` (the
manifest sets `should_escape`). Parsing turns that text into small frozen values, or raises
`InvalidCommand` with the usage to show: whatever the text, nothing else is ever raised.

One module per concern: `usage` (the forms as help shows them), `words` (words, length, characters,
Slack's escaping), `subcommands` (the subcommand and help topic, with typo suggestions), `targets`
(who a command names), `products` (products and `without` services), `license` and `subscription`
(each command's subcommands), `waste` (`/license reclaim` and `/license report`).
"""
