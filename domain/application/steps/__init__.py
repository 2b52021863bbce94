"""Workflow steps, one module per kind of step (`StepName`), each a `StepKind`: its label, what it
runs, what it observes in a tenant snapshot, and what each of its choices does.

`registry` collects them; `observing` advances a workflow from one read of the directory with them.
Adding a step: its name in `domain.workflows.steps`, a module here, its line in `registry`, its
rendering in `handlers.blocks.workflows`, and a test.
"""
