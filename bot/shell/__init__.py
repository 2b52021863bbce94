"""`licensebot shell`: a local chat console that drives the real bot, like Errbot's text backend.

What you type becomes the request Slack would send (a signed slash command, a signed button press,
a form submission, App Home being opened) and goes through the same Bolt app and listeners as in
production; the bot's replies land in a local fake of the Slack Web API (`bot.local_slack`) and are
printed as readable text. Buttons are pressed by typing their number; a form is filled in with
`:set FIELD VALUE` and sent with `:submit` (`bot.shell.form_filling`). Lines are read from standard
input when it is not a terminal, so sessions can be scripted.

Slack shows a message in its latest state only, so each message a request touches is printed in
full once, in its final state. The states it went through on the way (a change's progress, updated
in place per batch) are shown as one line each: on a terminal a single line rewritten in place as
they happen, otherwise a line per state, printed as the next one replaces it.

One module per concern: `session` (reading lines until `:quit`), `console` (a typed line into the
request Slack would send), `console_commands` (`:tick`, `:add-users` and the console's help),
`screen` (what is printed, and the buttons and form on screen), `people` (tenant users as Slack
users, mentions and emails as the Slack client links them), `form_filling` (`:set` and `:submit`)
and `demo_tenant` (what the shell adds to the simulated tenant).
"""
