"""The promotion gate (`triage compare`), gated and forced promotion, the history and rollback."""

from __future__ import annotations

import json
import logging
import pathlib
import subprocess
import sys
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cli.main import app
from service.models import ModelManager
from tests.service.gating import copy_model, gate, gate_data, set_threshold
from vision.evaluation.gate import judge
from vision.files import file_sha256

__all__ = ["gate_data"]  # a fixture, imported for pytest


def _report(auroc: float | None, recalls: dict[str, float]) -> dict[str, Any]:
    classes = {label: {"instances": 5, "recall": value} for label, value in recalls.items()}
    return {"overall": {"auroc": auroc, "dr_at_far_0.05": 0.5, "classes": classes}}


def test_judge_fails_a_class_or_auroc_falling_more_than_the_margin() -> None:
    base = _report(0.9, {"blade": 0.8, "firearm": 0.9})
    assert judge(base, _report(0.88, {"blade": 0.78, "firearm": 0.95}), 0.02)["passed"]
    fallen = judge(base, _report(0.9, {"blade": 0.7, "firearm": 0.95}), 0.02)
    assert not fallen["passed"] and fallen["failures"] == ["blade recall 0.800 -> 0.700"]
    assert fallen["classes"]["firearm"]["passed"] and fallen["classes"]["blade"]["delta"] == -0.1
    assert not judge(base, _report(0.85, {"blade": 0.8, "firearm": 0.9}), 0.02)["passed"]
    assert judge(base, _report(0.85, {"blade": 0.8, "firearm": 0.9}), 0.1)["passed"]
    # A class the candidate reports nothing for is not measurable, not a pass by silence of the baseline.
    missing = judge(base, _report(0.9, {"blade": 0.8}), 0.02)
    assert missing["classes"]["firearm"]["candidate"] is None and missing["passed"]


def test_judge_with_alpha_lets_a_fall_within_chance_pass_and_fails_a_real_one() -> None:
    base = _report(0.9, {"blade": 0.8, "firearm": 0.8})
    cand = _report(0.9, {"blade": 0.7, "firearm": 0.4})
    # blade: 10 knives, 2 lost and 1 gained (p 0.5); firearm: 10 guns, 4 lost and none gained (p 1/16)
    paired = {
        "blade": ([True] * 8 + [False] * 2, [False, False] + [True] * 6 + [True, False]),
        "firearm": ([True] * 8 + [False] * 2, [False] * 4 + [True] * 4 + [False] * 2),
    }
    strict = judge(base, cand, 0.02, paired)
    assert strict["failures"] == [
        "blade recall 0.800 -> 0.700 (2 lost, 1 gained, p 0.500)",
        "firearm recall 0.800 -> 0.400 (4 lost, 0 gained, p 0.062)",
        "recall of all instances 0.800 -> 0.550 (6 lost, 1 gained, p 0.062)",
    ]
    assert "within_chance" not in strict["classes"]["blade"]
    lenient = judge(base, cand, 0.02, paired, alpha=0.1)
    assert lenient["classes"]["blade"]["passed"] and lenient["classes"]["blade"]["within_chance"]
    assert lenient["failures"] == strict["failures"][1:]
    # Pooled, 6 lost and 1 gained of 20 (p 0.0625): 4 of 10 guns is not enough to tell at 5%.
    assert lenient["recall"] == {
        "instances": 20,
        "baseline": 0.8,
        "candidate": 0.55,
        "delta": -0.25,
        "passed": False,
        "lost": 6,
        "gained": 1,
        "p": 0.0625,
    }
    assert judge(base, cand, 0.02, paired, alpha=0.05)["passed"]
    with pytest.raises(ValueError, match="baseline hits"):
        judge(base, cand, 0.02, {"blade": ([True], [True, False])})


def _compare(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["compare", *args])
    return result.exit_code, result.stdout, result.stderr


def test_compare_blocks_a_worse_model_and_writes_the_verdict(
    models_root: pathlib.Path, gate_data: pathlib.Path
) -> None:
    base, worse = models_root / "tiny-threat" / "0.0.1", models_root / "tiny-threat" / "0.0.2"
    set_threshold(worse, 1.0)  # never alarms: every class's recall falls to 0
    code, out, err = _compare("--candidate", str(worse), "--baseline", str(base), "--data", str(gate_data))
    assert code == 1, err
    assert "FAIL" in out and "FAILED:" in out
    verdict = json.loads((worse / "gate.json").read_text())
    assert verdict["passed"] is False and verdict["failures"]
    # readable as the card beside it is (a service may run as another user), no temporary left behind
    assert (worse / "gate.json").stat().st_mode & 0o777 == (worse / "model.json").stat().st_mode & 0o777
    assert [p.name for p in worse.iterdir() if p.name.startswith(".")] == []
    assert verdict["baseline"]["name"] == "tiny-threat" and verdict["baseline"]["version"] == "0.0.1"
    assert verdict["data"]["annotations_sha256"] == file_sha256(gate_data / "annotations.json")
    assert verdict["margin"] == 0.02 and verdict["time"].endswith("+00:00")
    assert all(row["candidate"] == 0.0 and not row["passed"] for row in verdict["classes"].values())
    assert all(row["baseline"] > 0 for row in verdict["classes"].values())
    lost = verdict["recall"]["lost"]
    assert lost == verdict["recall"]["instances"] * verdict["recall"]["baseline"] and verdict["alpha"] is None
    # The same network behind a stricter threshold: at the baseline's clean alarms it finds what it finds.
    matched = verdict["at_baseline_false_alarms"]
    clean_scans = verdict["data"]["images"] - verdict["data"]["threat_images"]
    assert sum(count["clean"] for count in matched["clean_alarms"].values()) == clean_scans
    assert matched["recall"]["lost"] == matched["recall"]["gained"] == 0 and matched["recall"]["baseline"] > 0
    assert "passed" not in matched["recall"] and set(matched["classes"]) == set(verdict["classes"])
    assert "both at the baseline's clean alarms per kind" in out
    # Judged by the sign test, each class alone loses too few instances to tell, all of them pooled do.
    code, out, _ = _compare(
        "--candidate", str(worse), "--baseline", str(base), "--data", str(gate_data), "--alpha", "0.05"
    )
    verdict = json.loads((worse / "gate.json").read_text())
    assert code == 1 and verdict["alpha"] == 0.05 and "ok (chance)" in out
    assert all(row["passed"] and row["within_chance"] for row in verdict["classes"].values())
    assert verdict["failures"] == [
        f"recall of all instances {verdict['recall']['baseline']:.3f} -> 0.000 "
        f"({lost} lost, 0 gained, p {0.5**lost:.3f})"
    ]
    code, _, err = _compare(
        "--candidate", str(worse), "--baseline", str(base), "--data", str(gate_data), "--alpha", "1.5"
    )
    assert code == 2 and "alpha" in err and err.count("\n") == 1
    # The same network under another version passes; --json prints the verdict.
    same = models_root / "tiny-threat" / "0.0.3"
    same.mkdir()
    for name in ("model.onnx", "model.json"):
        (same / name).write_bytes((base / name).read_bytes())
    code, out, _ = _compare(
        "--candidate", str(same), "--baseline", str(base), "--data", str(gate_data), "--json"
    )
    assert code == 0 and json.loads(out)["passed"] is True
    code, _, err = _compare(
        "--candidate", str(same), "--baseline", str(base), "--data", str(gate_data / "no")
    )
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1


def test_service_refuses_a_failed_gate_and_records_a_forced_promotion(
    client: TestClient,
    admin: dict[str, str],
    models_root: pathlib.Path,
    gate_data: pathlib.Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    base, worse = models_root / "tiny-threat" / "0.0.1", models_root / "tiny-threat" / "0.0.2"
    assert not gate(set_threshold(worse, 1.0), base, gate_data)["passed"]
    listed = {m["version"]: m["gate"] for m in client.get("/v1/models", headers=admin).json()}
    assert listed["0.0.1"] is None  # never gated
    assert listed["0.0.2"]["passed"] is False and listed["0.0.2"]["baseline"] == "tiny-threat/0.0.1"
    refused = client.post("/v1/models/tiny-threat/0.0.2/promote", headers=admin)
    assert refused.status_code == 409
    assert (
        "failed its gate" in refused.json()["detail"]
        and "still serving tiny-threat/0.0.1" in refused.json()["detail"]
    )
    no_reason = client.post("/v1/models/tiny-threat/0.0.2/promote", headers=admin, json={"force": True})
    assert no_reason.status_code == 422
    unknown = client.post("/v1/models/tiny-threat/0.0.2/promote", headers=admin, json={"forse": True})
    assert unknown.status_code == 422
    assert not (models_root / "PROMOTED").exists() and not (models_root / "HISTORY.jsonl").exists()
    with caplog.at_level(logging.WARNING, logger="triage.models"):
        forced = client.post(
            "/v1/models/tiny-threat/0.0.2/promote",
            headers=admin,
            json={"force": True, "reason": "port X needs the new threshold today"},
        )
    assert forced.status_code == 200, forced.text
    assert forced.json()["serving"]["version"] == "0.0.2"
    entry = json.loads((models_root / "HISTORY.jsonl").read_text().splitlines()[-1])
    assert entry["model"] == "tiny-threat/0.0.2" and entry["previous"] == "tiny-threat/0.0.1"
    assert entry["forced"] is True and entry["reason"] == "port X needs the new threshold today"
    assert "failed its gate" in entry["gate"]
    uuid.UUID(entry["key_id"])
    record = next(r for r in caplog.records if r.getMessage() == "forced promotion")
    assert record.reason == "port X needs the new threshold today" and record.key_id == entry["key_id"]  # type: ignore[attr-defined]


def test_a_gate_applies_only_to_the_files_and_baseline_it_measured(
    client: TestClient, admin: dict[str, str], models_root: pathlib.Path, gate_data: pathlib.Path
) -> None:
    base, candidate = models_root / "tiny-threat" / "0.0.1", models_root / "tiny-threat" / "0.0.2"
    assert gate(candidate, base, gate_data)["passed"]
    set_threshold(candidate, 0.9)  # edited after the gate
    changed = client.post("/v1/models/tiny-threat/0.0.2/promote", headers=admin)
    assert changed.status_code == 409 and "changed after its gate" in changed.json()["detail"]
    assert gate(candidate, candidate, gate_data)["passed"]  # measured against the wrong baseline
    wrong = client.post("/v1/models/tiny-threat/0.0.2/promote", headers=admin)
    assert wrong.status_code == 409 and "gated against tiny-threat/0.0.2" in wrong.json()["detail"]
    assert gate(candidate, base, gate_data)["passed"]
    assert client.post("/v1/models/tiny-threat/0.0.2/promote", headers=admin).status_code == 200
    entry = json.loads((models_root / "HISTORY.jsonl").read_text().splitlines()[-1])
    assert entry["gate"] == "passed" and entry["forced"] is False


def test_http_rollback_goes_back_one_promotion(
    client: TestClient, admin: dict[str, str], models_root: pathlib.Path
) -> None:
    assert client.post("/v1/models/rollback", headers=admin).status_code == 409  # nothing promoted yet
    forced = {"force": True, "reason": "rollback test"}
    assert client.post("/v1/models/tiny-threat/0.0.2/promote", headers=admin, json=forced).status_code == 200
    back = client.post("/v1/models/rollback", headers=admin)
    assert back.status_code == 200, back.text
    assert back.json() == {
        "serving": {"name": "tiny-threat", "version": "0.0.1"},
        "previous": {"name": "tiny-threat", "version": "0.0.2"},
    }
    assert (models_root / "PROMOTED").read_text().strip() == "tiny-threat/0.0.1"
    again = client.post("/v1/models/rollback", headers=admin)
    assert again.status_code == 409 and "no earlier model" in again.json()["detail"]
    actions = [
        json.loads(line)["action"] for line in (models_root / "HISTORY.jsonl").read_text().splitlines()
    ]
    assert actions == ["promote", "rollback"]


def _models(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["models", *args])
    return result.exit_code, result.stdout, result.stderr


def test_cli_promote_is_gated_forced_with_a_reason_and_rolled_back(models_root: pathlib.Path) -> None:
    root = ("--models-root", str(models_root))
    # Nothing promoted yet: the first promotion needs no gate.
    assert _models("promote", "tiny-threat/0.0.1", *root)[0] == 0
    code, _, err = _models("promote", "tiny-threat/0.0.2", *root)
    assert code == 2 and "gate.json" in err and err.count("\n") == 1
    code, _, err = _models("promote", "tiny-threat/0.0.2", "--force", *root)
    assert code == 2 and "--reason" in err
    code, out, err = _models("promote", "tiny-threat/0.0.2", "--force", "--reason", "urgent fix", *root)
    assert code == 0, err
    assert "promoted tiny-threat/0.0.2 (was tiny-threat/0.0.1)" in out
    code, out, _ = _models("list", *root)
    assert code == 0
    starred = [line.split()[1] for line in out.splitlines() if line.startswith("*")]
    assert starred == ["tiny-threat/0.0.2"]
    code, out, err = _models("rollback", *root)
    assert code == 0, err
    assert (models_root / "PROMOTED").read_text().strip() == "tiny-threat/0.0.1"
    code, _, err = _models("rollback", *root)
    assert code == 2 and "no earlier model" in err
    history = [json.loads(line) for line in (models_root / "HISTORY.jsonl").read_text().splitlines()]
    assert [(h["action"], h["model"], h["forced"]) for h in history] == [
        ("promote", "tiny-threat/0.0.1", False),
        ("promote", "tiny-threat/0.0.2", True),
        ("rollback", "tiny-threat/0.0.1", False),
    ]
    assert history[1]["reason"] == "urgent fix" and history[1]["key_id"].startswith("cli")
    assert _models("promote", "nonsense", *root)[0] == 2


def _with_int8_graph(model_dir: pathlib.Path) -> pathlib.Path:
    """Give a model folder an INT8 entry (its FP32 graph copied as the INT8 file: the gate only loads it)."""
    (model_dir / "model_int8.onnx").write_bytes((model_dir / "model.onnx").read_bytes())
    card = json.loads((model_dir / "model.json").read_text())
    card["int8"] = {"file": "model_int8.onnx", "threshold": card["threshold"]}
    (model_dir / "model.json").write_text(json.dumps(card))
    return model_dir


def test_a_model_with_an_int8_graph_is_promoted_only_when_that_graph_passed_its_gate_too(
    models_root: pathlib.Path, gate_data: pathlib.Path
) -> None:
    root = ("--models-root", str(models_root))
    base, candidate = models_root / "tiny-threat" / "0.0.1", models_root / "tiny-threat" / "0.0.2"
    assert _models("promote", "tiny-threat/0.0.1", *root)[0] == 0
    # --int8 of a candidate without an INT8 graph is a one-line error, and writes nothing
    code, _, err = _compare(
        "--candidate", str(candidate), "--baseline", str(base), "--data", str(gate_data), "--int8"
    )
    assert code == 2 and "no INT8 graph" in err and err.count("\n") == 1
    assert not (candidate / "gate_int8.json").exists()
    _with_int8_graph(candidate)
    assert _compare("--candidate", str(candidate), "--baseline", str(base), "--data", str(gate_data))[0] == 0
    code, _, err = _models("promote", "tiny-threat/0.0.2", *root)
    assert code == 2 and "INT8 graph of tiny-threat/0.0.2 has no readable gate_int8.json" in err
    assert "triage compare --int8" in err
    # judged as a TRIAGE_INT8 service serves them: its INT8 graph against the baseline's FP32 (it has none)
    code, out, err = _compare(
        "--candidate", str(candidate), "--baseline", str(base), "--data", str(gate_data), "--int8"
    )
    assert code == 0, err
    assert "tiny-threat/0.0.2 INT8 (threshold" in out and "gate_int8.json" in out
    verdict = json.loads((candidate / "gate_int8.json").read_text())
    assert verdict["candidate"]["precision"] == "int8" and verdict["baseline"]["precision"] == "fp32"
    assert set(verdict["candidate"]["sha256"]) == {"model_int8.onnx", "model.json"}
    assert json.loads((candidate / "gate.json").read_text())["candidate"]["precision"] == "fp32"
    # an INT8 graph changed after its gate is refused as an FP32 graph would be
    graph = (candidate / "model_int8.onnx").read_bytes()
    (candidate / "model_int8.onnx").write_bytes(graph + b" ")
    code, _, err = _models("promote", "tiny-threat/0.0.2", *root)
    assert code == 2 and "INT8 graph of tiny-threat/0.0.2 changed after its gate" in err
    (candidate / "model_int8.onnx").write_bytes(graph)
    code, out, _ = _models("list", *root)
    assert code == 0 and "; INT8 gate passed vs tiny-threat/0.0.1" in out
    code, out, err = _models("promote", "tiny-threat/0.0.2", *root)
    assert code == 0, err


def test_compare_needs_no_torch(models_root: pathlib.Path, gate_data: pathlib.Path) -> None:
    base, same = models_root / "tiny-threat" / "0.0.1", models_root / "tiny-threat" / "0.0.2"
    # Importing torch, torchvision or onnx fails in this interpreter: the gate runs on onnxruntime alone.
    script = (
        "import sys\n"
        "for name in ('torch', 'torchvision', 'onnx'):\n"
        "    sys.modules[name] = None\n"
        "from cli.main import main\n"
        f"sys.argv = ['triage', 'compare', '--candidate', {str(same)!r}, '--baseline', {str(base)!r},"
        f" '--data', {str(gate_data)!r}, '--json', '--quiet']\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["passed"] is True


def test_the_registry_lists_versions_by_number(models_root: pathlib.Path) -> None:
    copy_model(
        models_root / "tiny-threat" / "0.0.1", models_root / "tiny-threat" / "0.0.10", version="0.0.10"
    )
    entries = ModelManager(models_root).entries()
    # 0.0.10 is newer than 0.0.2, whatever the text order says; a name that is no number goes last
    assert [entry.version for entry in entries] == ["0.0.1", "0.0.2", "0.0.10", "bad"]
