"""``python -m cli ...`` runs the ``triage`` command."""

from cli.main import main

main()
