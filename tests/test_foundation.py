"""The foundation: class list, CLI mounting, README commands and the import rules."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from cli.main import app
from vision.classes import THREAT_CLASSES, category_id, coco_categories

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_category_ids_are_one_based_and_round_trip() -> None:
    categories = coco_categories()
    assert [c["id"] for c in categories] == list(range(1, len(THREAT_CLASSES) + 1))
    for category in categories:
        assert category_id(str(category["name"])) == category["id"]


def test_unknown_class_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="unknown threat class 'banana'"):
        category_id("banana")


def test_cli_lists_serve() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "serve" in result.output


def test_ci_runs_the_readme_test_command() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "<!-- test-command -->" in readme and "<!-- main-command -->" in readme
    assert "test-command" in script


def assert_imports_none_of(modules: str, forbidden: tuple[str, ...]) -> None:
    """Importing ``modules`` (comma-separated) in a fresh interpreter loads no module under ``forbidden``."""
    code = (
        f"import sys, {modules}\n"
        f"under = lambda m: any(m == f or m.startswith(f + '.') for f in {forbidden!r})\n"
        "bad = sorted(filter(under, sys.modules))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_runtime_imports_no_torch() -> None:
    """The service, the CLI, inference, the registry and evaluation run without the training extra."""
    assert_imports_none_of(
        "cli.main, vision.classes, vision.registry, vision.datasets, vision.evaluation.evaluate, "
        "vision.evaluation.gate, vision.evaluation.real",
        ("torch", "torchvision", "onnx"),
    )


def test_the_http_app_does_not_import_the_cli() -> None:
    """``service`` is the HTTP app alone; the command line (``cli``) calls into it, never the reverse."""
    assert_imports_none_of("service.app", ("cli",))


def test_inference_and_the_service_do_not_import_the_simulator_or_ray() -> None:
    """Raw pairs are coloured by ``vision.physics`` (shared with the simulator), not by ``vision.synth``;
    Ray is loaded only by ``triage serve --ray``."""
    assert_imports_none_of("service.app, vision.io, vision.infer", ("vision.synth", "ray"))
