"""The ``triage`` command line: offline commands (synth, train, evaluate, export, import, watch, ...) and
``serve``, which starts the HTTP app in :mod:`service`. The service never imports this package."""
