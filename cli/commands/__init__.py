"""Command groups of the ``triage`` CLI, one module per area; see ``cli.main``."""
