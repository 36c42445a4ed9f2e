"""docker-compose.yml, read as compose would: one image, health checks, nothing exposed."""

from __future__ import annotations

from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from tests.support.events import ROOT

APP_SERVICES = ("worker", "bounces", "web")


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    found: dict[str, Any] = data["services"]
    return found


def test_compose_builds_one_image_for_every_app_service(services: dict[str, Any]) -> None:
    assert [name for name, s in services.items() if "build" in s] == ["worker"]
    images = {services[name]["image"] for name in APP_SERVICES}
    assert images == {services["worker"]["image"]}


def test_compose_every_service_restarts_and_app_services_are_checked(
    services: dict[str, Any],
) -> None:
    for name, service in services.items():
        assert service.get("restart") == "unless-stopped", name
    for name in (*APP_SERVICES, "redis"):
        assert services[name]["healthcheck"]["test"], name
    # The web pages need the token, even for their health check.
    assert "OPS_TOKEN" in " ".join(services["web"]["healthcheck"]["test"])


def test_compose_redis_has_no_host_port_and_keeps_its_data(services: dict[str, Any]) -> None:
    redis = services["redis"]
    assert "ports" not in redis
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"


def test_compose_pins_its_images_and_binds_ports_to_loopback(services: dict[str, Any]) -> None:
    for name in ("redis", "mailpit"):
        image = services[name]["image"]
        assert ":" in image and not image.endswith(":latest"), image
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
