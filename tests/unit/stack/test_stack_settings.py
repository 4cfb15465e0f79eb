"""What the launcher reads from the environment, and what it records."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures_stack.probes import STANDIN_MODULE

from infra.streams import Profile
from interforces.stack.services import ServiceSpec
from interforces.stack.stack import StackSettings, redact_url
from interforces.stack.supervisor import missing_modules

pytestmark = pytest.mark.unit


def test_without_server_urls_the_stack_embeds_its_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    # given an environment naming no server
    monkeypatch.delenv("NATS_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("IFC_DATA_DIR", raising=False)
    # when the settings are read
    settings = StackSettings()
    # then both servers are to be embedded, under var/, with secrets beside their data
    assert settings.nats_url is None
    assert settings.database_url is None
    assert settings.data_dir == Path("var")
    assert settings.resolved_secrets_dir == Path("var/secrets").resolve()


def test_configured_servers_charters_and_profile_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NATS_URL", "nats://a:4222,nats://b:4222")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db/interforces")
    monkeypatch.setenv("IFC_CHARTERS", '["infra/charters/concert-stade.yaml", "more"]')
    monkeypatch.setenv("IFC_STREAM_PROFILE", "cluster")
    settings = StackSettings()
    assert settings.nats_url == "nats://a:4222,nats://b:4222"
    assert settings.database_url == "postgresql://u@db/interforces"
    assert settings.charters == (Path("infra/charters/concert-stade.yaml"), Path("more"))
    assert settings.stream_profile is Profile.CLUSTER


def test_options_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IFC_DATA_DIR", "/elsewhere")
    assert StackSettings(data_dir=Path("here")).data_dir == Path("here")


@pytest.mark.parametrize(
    ("url", "recorded"),
    [
        ("postgresql://ifc:s3cret@db:5432/interforces", "postgresql://ifc:***@db:5432/interforces"),
        ("nats://a:4222, nats://u:p@b:4222", "nats://a:4222,nats://u:***@b:4222"),
        (
            "postgresql://postgres:@/interforces?host=/x",
            "postgresql://postgres:@/interforces?host=/x",
        ),
    ],
)
def test_recorded_urls_keep_no_password(url: str, recorded: str) -> None:
    assert redact_url(url) == recorded


def test_modules_python_cannot_run_are_named_before_anything_starts() -> None:
    specs = [
        ServiceSpec("standin", STANDIN_MODULE),
        ServiceSpec("absent", "services.no_such_service"),
        ServiceSpec("package", "contracts"),
        ServiceSpec("runnable package", "pytest"),
    ]
    assert missing_modules(specs) == ["services.no_such_service", "contracts"]
