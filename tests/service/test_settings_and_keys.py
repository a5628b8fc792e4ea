"""Strict settings, the bootstrap admin key, and the ``triage keys`` commands."""

from __future__ import annotations

import pathlib

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from typer.testing import CliRunner

from cli.main import app as cli
from service.app import create_app
from service.settings import Settings, load_settings
from tests.service.conftest import ADMIN_KEY, bearer, png_bytes


def test_environment_prefix_and_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    monkeypatch.setenv("TRIAGE_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("TRIAGE_MAX_IN_FLIGHT", "3")
    settings = Settings()
    assert settings.data_dir == tmp_path / "d" and settings.max_in_flight == 3
    assert settings.resolved_database_url == f"sqlite:///{(tmp_path / 'd' / 'triage.db').resolve()}"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TRIAGE_ADMIN_KEY", "short", "at least 24"),
        ("TRIAGE_ADMIN_KEY", "changeme-Xq7Zp3Kw9RbT-4hd", "well-known"),
        ("TRIAGE_ADMIN_KEY", "a" * 40, "repetitive"),
        ("TRIAGE_DATABASE_URL", "postgresql://triage:changethis@db/triage", "database password"),
        ("TRIAGE_MAX_IN_FLIGHT", "0", "max_in_flight"),
    ],
)
def test_insecure_or_invalid_values_are_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=message):
        load_settings()


def test_config_file_is_strict(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    config = tmp_path / "triage.yaml"
    config.write_text("data_dir: /srv/triage\nmax_in_flight: 4\n")
    monkeypatch.setenv("TRIAGE_CONFIG_FILE", str(config))
    settings = load_settings()
    assert settings.data_dir == pathlib.Path("/srv/triage") and settings.max_in_flight == 4
    monkeypatch.setenv("TRIAGE_MAX_IN_FLIGHT", "6")  # the environment wins over the file
    assert load_settings().max_in_flight == 6
    config.write_text("data_dir: /srv/triage\nmax_inflight: 4\n")  # a typo
    with pytest.raises(ValueError, match="max_inflight"):
        load_settings()


def test_unknown_environment_variables_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_CAMERA_FILE", "/etc/triage/cameras.yaml")  # a typo of TRIAGE_CAMERAS_FILE
    with pytest.raises(ValueError, match=r"setting.*TRIAGE_CAMERA_FILE; known: .*TRIAGE_CAMERAS_FILE"):
        load_settings()


def test_camera_settings_are_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    config = tmp_path / "triage.yaml"
    config.write_text(
        f"cameras_file: {tmp_path / 'cameras.yaml'}\nevent_webhook_url: https://ops.example/hook\n"
    )
    monkeypatch.setenv("TRIAGE_CONFIG_FILE", str(config))
    settings = load_settings()
    assert settings.cameras_file == tmp_path / "cameras.yaml"
    monkeypatch.setenv("TRIAGE_EVENT_WEBHOOK_URL", "ftp://ops.example/hook")
    with pytest.raises(ValueError, match="http:// or https://"):
        load_settings()


def test_first_start_prints_one_admin_key_once(
    settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path
) -> None:
    keyless = Settings(**{**settings.model_dump(), "admin_key": None, "data_dir": tmp_path / "fresh"})
    with TestClient(create_app(keyless)):
        pass
    printed = [
        line.strip() for line in capsys.readouterr().out.splitlines() if line.strip().startswith("tri_")
    ]
    assert len(printed) == 1
    with TestClient(create_app(keyless)) as client:
        assert "tri_" not in capsys.readouterr().out
        files = {"file": ("scan.png", png_bytes(), "image/png")}
        assert client.post("/v1/scans", files=files, headers=bearer(printed[0])).status_code == 201


def test_rotating_the_bootstrap_key_retires_the_old_one(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/models", headers=bearer(ADMIN_KEY)).status_code == 200
    rotated = Settings(
        **{**settings.model_dump(), "admin_key": SecretStr("Zx9Vb8Nm7Lk6Jh5Gf4Ds3Aq2Wr1Ty0Up")}
    )
    with TestClient(create_app(rotated)) as client:
        assert client.get("/v1/models", headers=bearer("Zx9Vb8Nm7Lk6Jh5Gf4Ds3Aq2Wr1Ty0Up")).status_code == 200
        assert client.get("/v1/models", headers=bearer(ADMIN_KEY)).status_code == 401


def test_keys_create_list_revoke(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("TRIAGE_DATA_DIR", str(settings.data_dir))
    runner = CliRunner()
    created = runner.invoke(
        cli, ["keys", "create", "--scope", "scan", "--scope", "feedback", "--name", "lane-3"]
    )
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[0]
    assert key.startswith("tri_") and len(key) > 40
    listed = runner.invoke(cli, ["keys", "list"])
    assert listed.exit_code == 0 and "lane-3\tscan,feedback" in listed.stdout and key not in listed.stdout
    key_id = listed.stdout.split("\t")[0]
    with TestClient(create_app(settings)) as client:
        files = {"file": ("scan.png", png_bytes(), "image/png")}
        assert client.post("/v1/scans", files=files, headers=bearer(key)).status_code == 201
        assert runner.invoke(cli, ["keys", "revoke", key_id]).exit_code == 0
        assert client.post("/v1/scans", files=files, headers=bearer(key)).status_code == 401
    bad_scope = runner.invoke(cli, ["keys", "create", "--scope", "root"])
    assert bad_scope.exit_code != 0 and "unknown scope" in bad_scope.output
    assert runner.invoke(cli, ["keys", "revoke", "not-an-id"]).exit_code != 0
