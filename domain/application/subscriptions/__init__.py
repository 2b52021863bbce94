"""Subscription workflows (buy, seats, switch plans, upgrade from E4, cancel), split by reason to change.

- `start`: starting each kind of workflow (authorize, validate, build, run its first steps);
  `builders`: the new workflows themselves, also started as follow-ups by a step's choice.
- `decide`: the decisions people take at waiting steps — choices, approvals, admin tasks.
- `queries`: what is in flight and what waits on whom.
- `tick`: the scheduler's poll, resuming crashed steps, reminders, and stopping.
- `workflows`: all of them wired on one engine (`subscription_workflows`).

The steps themselves run in `domain.application.workflow_engine`, one kind of step per module of
`domain.application.steps`.
"""
