"""End to end: notices sent by a real worker through the SMTP sink, then each provider's
webhooks posted to the real waitress server → status, history and suppression show them."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.events import ROOT, make_event
from tests.support.processes import publish_events, run_cli, show, wait_for, worker_env
from tests.support.receiver import Receiver
from tests.support.smtpd import Recorder
from tests.support.webhooks import (
    MAILGUN_KEY,
    POSTMARK_PASSWORD,
    POSTMARK_USER,
    TOPIC,
    SendGridSigner,
    SnsSigner,
    mailgun_body,
    mailgun_event,
    postmark_auth,
    postmark_event,
    sendgrid_event,
    ses_event,
    sns_notification,
)
from worker.bounces.ingest import BounceProcessor
from worker.net import free_port
from worker.notices import keys
from worker.notices.outbound import verify
from worker.notices.pipeline import Pipeline
from worker.settings import from_env
from worker.smtp.server import ServerThread
from worker.webhooks.server import build_app, serve

pytestmark = pytest.mark.e2e

OUTBOUND_SECRET = "outbound-e2e-secret-0123456789"


class Service:
    """The webhook service on a real waitress server (port 0), over the real Redis."""

    def __init__(self, env: dict[str, str], sns: SnsSigner, sendgrid: SendGridSigner) -> None:
        self.env = env
        self.sns = sns
        self.sendgrid = sendgrid
        self.port = 0
        #: The billing platform's endpoint the worker tells of each change.
        self.receiver: Receiver | None = None

    def post(self, provider: str, body: Any, headers: dict[str, str] | None = None) -> int:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        connection.request(
            "POST",
            f"/webhooks/{provider}",
            body=data,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        reply = connection.getresponse()
        reply.read()
        connection.close()
        return reply.status


@pytest.fixture
def service(
    real_redis: Any, smtp_server: ServerThread, tmp_path: Path, start_worker: Any
) -> Iterator[Service]:
    sns, sendgrid = SnsSigner(tmp_path), SendGridSigner()
    receiver = Receiver()
    outbound = {"OUTBOUND_WEBHOOK_URL": receiver.url, "OUTBOUND_WEBHOOK_SECRET": OUTBOUND_SECRET}
    env = worker_env(
        smtp_server.url,
        **outbound,
        SMTP_PROVIDER="postmark",
        SES_TOPIC_ARNS=TOPIC,
        SNS_CERT_DIR=str(tmp_path),
        SENDGRID_WEBHOOK_PUBLIC_KEY=sendgrid.public_b64,
        MAILGUN_WEBHOOK_SIGNING_KEY=MAILGUN_KEY,
        POSTMARK_WEBHOOK_USER=POSTMARK_USER,
        POSTMARK_WEBHOOK_PASSWORD=POSTMARK_PASSWORD,
    )
    settings = from_env(env)
    pipeline = Pipeline(settings, real_redis)
    processor = BounceProcessor(pipeline.tracker, pipeline.suppressions, settings)
    app, served = build_app(processor, settings)
    assert len(served) == 4
    server = serve(app, settings, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    start_worker(smtp_server.url, SMTP_PROVIDER="postmark", **outbound)
    found = Service(env, sns, sendgrid)
    found.port = server.effective_port
    found.receiver = receiver
    try:
        yield found
    finally:
        server.close()
        thread.join(10)
        receiver.close()


def _send(service: Service, recorder: Recorder, event_id: str, address: str) -> dict[str, Any]:
    result = publish_events([make_event(event_id=event_id, admin_email=address)], service.env)
    assert result.returncode == 0, result.stderr
    record: dict[str, Any] = wait_for(
        lambda: (r := show(event_id, service.env)).get("status") == "sent" and r
    )
    raw = next(m for _, rcpts, m in recorder.messages if rcpts == [address])
    found = re.search(rb"X-PM-Metadata-notice: (\S+)", raw)
    assert found is not None  # SMTP_PROVIDER=postmark: the token is on the mail itself
    record["token"] = found.group(1).decode()
    return record


def _post(service: Service, provider: str, kind: str, record: dict[str, Any]) -> int:
    mid, token, to = record["message_id"], record["token"], record["to"]
    if provider == "ses":
        name = {"delivered": "Delivery", "bounced": "Bounce", "complained": "Complaint"}[kind]
        body = service.sns.sign(sns_notification(ses_event(name, mid, to)), "2")
        return service.post("ses", body, {"Content-Type": "text/plain; charset=UTF-8"})
    if provider == "sendgrid":
        name = {"delivered": "delivered", "bounced": "bounce", "complained": "spamreport"}[kind]
        data = json.dumps([sendgrid_event(name, mid, to)]).encode()
        return service.post("sendgrid", data, service.sendgrid.headers(data))
    if provider == "mailgun":
        name = {"delivered": "delivered", "bounced": "failed", "complained": "complained"}[kind]
        return service.post("mailgun", mailgun_body(mailgun_event(name, mid, to)))
    name = {"delivered": "Delivery", "bounced": "Bounce", "complained": "SpamComplaint"}[kind]
    return service.post("postmark", postmark_event(name, token, to), postmark_auth())


@pytest.mark.parametrize("provider", ["ses", "sendgrid", "mailgun", "postmark"])
def test_e2e_webhooks_each_provider_moves_notices(
    service: Service, recorder: Recorder, provider: str, real_redis: Any
) -> None:
    first = _send(service, recorder, f"wh-{provider}-1", f"dora.{provider}@example.net")
    second = _send(service, recorder, f"wh-{provider}-2", f"eve.{provider}@example.net")
    assert _post(service, provider, "delivered", first) == 200
    assert show(first["id"], service.env)["status"] == "delivered"
    assert _post(service, provider, "complained", first) == 200
    shown = show(first["id"], service.env)
    assert shown["status"] == "delivered"
    # The newest provider entry (the worker may note its outbound delivery after it).
    complaint = next(h for h in reversed(shown["history"]) if "webhook" in h)
    assert complaint["kind"] == "complaint"
    assert complaint["webhook"]["provider"] == provider
    assert _post(service, provider, "bounced", second) == 200
    bounced = show(second["id"], service.env)
    assert bounced["status"] == "bounced"
    assert bounced["bounce"]["reason"] == "userunknown"
    assert next(h for h in reversed(bounced["history"]) if "webhook" in h)["webhook"]["raw"]
    listing = run_cli("suppressions", "list", "--json", env=service.env).stdout
    assert f"dora.{provider}@example.net" in listing  # the complaint
    assert f"eve.{provider}@example.net" in listing  # the hard bounce
    # A forged request for the delivered notice changes nothing.
    forged = json.dumps([sendgrid_event("bounce", first["message_id"], first["to"])]).encode()
    assert service.post("sendgrid", forged, SendGridSigner().headers(forged)) == 401
    assert show(first["id"], service.env)["status"] == "delivered"
    # The billing platform hears of it on both channels: the stream at once, the signed
    # webhook from the worker's delivery loop.
    changes = [f for _, f in real_redis.xrange(keys.EVENTS)]
    assert {"delivered", "bounced"} <= {
        c["status"]
        for c in changes
        if c["notice_id"] == first["id"] or c["notice_id"] == second["id"]
    }
    receiver = service.receiver
    assert receiver is not None

    def told() -> list[dict[str, str]]:
        return [json.loads(body) for _, body in receiver.posts]

    wanted = {
        (first["id"], "delivered", None),
        (first["id"], "delivered", "admin_unreachable"),  # the complaint
        (second["id"], "bounced", None),
        (second["id"], "bounced", "admin_unreachable"),
    }
    wait_for(lambda: wanted <= {(b["notice_id"], b["status"], b.get("event")) for b in told()})
    for headers, body in receiver.posts:
        assert verify(OUTBOUND_SECRET, body, headers["x-notices-signature"])


def test_e2e_webhooks_cli_serves_only_configured_providers(
    real_redis: Any, smtp_server: ServerThread, tmp_path: Path
) -> None:
    env = worker_env(smtp_server.url, MAILGUN_WEBHOOK_SIGNING_KEY=MAILGUN_KEY)
    none = {k: v for k, v in env.items() if k != "MAILGUN_WEBHOOK_SIGNING_KEY"}
    refused = run_cli("webhooks", "serve", "--port", str(free_port()), env=none)
    assert refused.returncode == 2
    assert "no provider is configured" in refused.stderr
    port = free_port()
    log = (tmp_path / "webhooks.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker", "webhooks", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    client = Service(env, SnsSigner(tmp_path), SendGridSigner())
    client.port = port
    try:

        def ready() -> bool:
            try:
                return client.post("ses", {}) == 404
            except OSError:
                return False

        wait_for(ready, timeout=20)
        assert client.post("mailgun", mailgun_body({}, key="wrong")) == 401
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
    assert "webhooks on http://127.0.0.1:" in (tmp_path / "webhooks.log").read_text()
