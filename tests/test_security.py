"""The security checklist, one test (or a few) per item.

- no header injection from any event field; addresses validated
- Jinja2 autoescape everywhere; user text never becomes template source (SSTI)
- premailer / cssutils never fetch a URL
- SMTP certificates verified by default; credentials never sent in clear across a network
- the bounce endpoint: forged tokens, relaying, size and rate limits
- logs: addresses masked, no card data, no secrets

The web pages are covered by their own tests (tests/test_web*.py), not here.
"""

from __future__ import annotations

import email
import email.policy
import http.server
import io
import json
import logging
import shutil
import smtplib
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult

from tests.support.bounces import make_dsn
from tests.support.bounces import processor as make_processor
from tests.support.events import SECRET, make_event
from tests.support.smtpd import Recorder
from worker.bounces.ingest import BounceProcessor
from worker.bounces.server import make_server
from worker.errors import ConfigurationError, InvalidEvent, TransientError
from worker.intake.events import parse_event
from worker.net import free_port
from worker.notices.pipeline import Pipeline
from worker.notices.record import notice_id_for
from worker.render.inline import inline_css
from worker.render.message import build_message, to_bytes
from worker.render.renderer import Renderer
from worker.resources import resource_dir
from worker.settings import Settings
from worker.smtp.client import Transport
from worker.smtp.proof import envelope_sender
from worker.smtp.server import ServerThread
from worker.smtp.target import SMTPTarget, TLSMode, check_credentials_allowed

CARD = "4111111111111111"
#: Every free-text field of the contract, with the longest value it accepts.
STRING_FIELDS = {
    "event_id": 128,
    "subscription_id": 128,
    "admin_name": 256,
    "account_name": 256,
    "subscription_name": 256,
    "card_brand": 32,
}
SSTI = [
    "{{ 7*7 }}",
    "{% raw %}",
    "{{ config }}",
    "{{ self.__init__.__globals__ }}",
    "{{ ''.__class__.__mro__ }}",
    "{% for x in range(3) %}X{% endfor %}",
    "${7*7}",
    "#{7*7}",
    "{{ _('x') }}",
    "%(name)s %s",
]


def _parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def _render_mail(settings: Settings, payload: dict[str, Any]) -> email.message.EmailMessage:
    event = parse_event(payload)
    rendered = Renderer(settings).render(event)
    nid = notice_id_for(event.event_id)
    return _parse(
        to_bytes(
            build_message(
                rendered, to=event.admin_email, notice_id=nid, generation=0, settings=settings
            )
        )
    )


# -- headers and addresses ------------------------------------------------------------------
INJECTIONS = [
    "\r\nBcc: evil@example.net",
    "\nBcc: evil@example.net",
    "\rBcc: evil@example.net",
    "x\r\n\r\nbody",
    "\u2028Bcc: evil@example.net",
    "\x85Bcc: evil@example.net",
    "=?utf-8?q?a=0D=0ABcc:_evil@example.net?=",
    "\0Bcc: evil@example.net",
]


@pytest.mark.parametrize("field", list(STRING_FIELDS))
@pytest.mark.parametrize("injection", INJECTIONS)
def test_security_no_header_injection_from_any_event_field(
    settings: Settings, field: str, injection: str
) -> None:
    payload = make_event(locale="en", **{field: ("Acme" + injection)[: STRING_FIELDS[field]]})
    if field in ("event_id", "subscription_id") and not injection.isprintable():
        # An id is used exactly as given or refused: one with a control character is refused.
        with pytest.raises(InvalidEvent, match=field):
            parse_event(payload)
        return
    msg = _render_mail(settings, payload)
    for header in ("To", "From", "Subject", "Message-ID", "Date"):
        assert len(msg.get_all(header) or []) == 1, header
    assert msg["Bcc"] is None and msg["Cc"] is None
    assert str(msg["To"]) == "admin@example.com"
    assert not msg.defects


@pytest.mark.parametrize(
    "address",
    [
        "a@example.com\r\nBcc: evil@example.net",
        "a@example.com\nBcc: evil@example.net",
        "a@example.com, evil@example.net",
        "a@example.com>\r\nRCPT TO:<evil@example.net",
        "Evil <a@example.com>",
        "a@example.com\0",
    ],
)
def test_security_addresses_are_validated_before_anything_is_sent(address: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        parse_event(make_event(admin_email=address))
    assert info.value.field == "admin_email"


def test_security_message_builder_refuses_a_line_break_in_any_header(settings: Settings) -> None:
    rendered = Renderer(settings).render(parse_event(make_event()))
    with pytest.raises(InvalidEvent):
        build_message(
            rendered,
            to="a@example.com\r\nBcc: x@example.net",
            notice_id="n" * 20,
            generation=0,
            settings=settings,
        )
    with pytest.raises(InvalidEvent):
        build_message(
            rendered,
            to="a@example.com",
            notice_id="n" * 20,
            generation=0,
            settings=settings.with_(reply_to="r@example.com\r\nBcc: x@example.net"),
        )


# -- templates: autoescape, SSTI ------------------------------------------------------------
def test_security_autoescape_is_on_for_every_html_template(settings: Settings) -> None:
    renderer = Renderer(settings)
    for locale in ("en", "zh_TW"):
        env = renderer.environment(locale)
        for name in env.list_templates():
            if name.endswith((".html", ".htm", ".xml")):
                assert env.autoescape(name) is True, name  # type: ignore[operator]
        assert env.autoescape(None) is True  # type: ignore[operator]  # from_string too


@pytest.mark.parametrize("field", list(STRING_FIELDS))
@pytest.mark.parametrize("locale", ["en", "zh-TW"])
def test_security_template_syntax_in_every_field_renders_literally(
    settings: Settings, field: str, locale: str
) -> None:
    renderer = Renderer(settings)
    limit = STRING_FIELDS[field]
    for payload in SSTI:
        value = payload[:limit]
        event = parse_event(make_event(locale=locale, reason="card_declined", **{field: value}))
        out = renderer.render(event)
        whole = "\n".join((out.subject, out.text, out.html))
        assert "49" not in whole, (field, payload)
        assert "<Config" not in whole and "__globals__" not in whole.replace(value, "")
        assert "<class" not in whole
        if field != "card_brand" or event.card_last4:
            shown = value.replace("'", "&#39;").replace('"', "&#34;")
            assert value in out.text or shown in out.html or value in out.html, (field, value)


def test_security_html_in_a_field_is_escaped_in_html_and_plain_in_text(settings: Settings) -> None:
    out = Renderer(settings).render(
        parse_event(
            make_event(
                locale="en",
                admin_name='<img src=x onerror="alert(1)">',
                account_name="</td><script>alert(2)</script>",
                subscription_name="<a href='javascript:alert(3)'>x</a>",
            )
        )
    )
    assert "<img" not in out.html and "<script>" not in out.html
    assert "<a href='javascript" not in out.html and '<a href="javascript' not in out.html
    assert "&lt;img src=x onerror=" in out.html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in out.html
    assert '<img src=x onerror="alert(1)">' in out.text


# -- premailer never reaches the network ----------------------------------------------------
class _Recording(http.server.BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        body = b"body { color: red } td { background: url(http://127.0.0.1/z.png) }"
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def css_server() -> Iterator[tuple[int, list[str]]]:
    hits: list[str] = []
    handler = type("Handler", (_Recording,), {"hits": hits})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], hits
    server.shutdown()
    server.server_close()


def test_security_premailer_fetches_no_stylesheet_while_rendering(
    settings: Settings, tmp_path: Path, css_server: tuple[int, list[str]]
) -> None:
    port, hits = css_server
    base = f"http://127.0.0.1:{port}"
    templates = tmp_path / "templates"
    shutil.copytree(resource_dir("templates"), templates)
    html = (templates / "notice.html").read_text(encoding="utf-8")
    hostile = (
        f'<link rel=stylesheet href="{base}/x.css">'
        f'<link href="{base}/x2.css" rel="stylesheet" type="text/css">'
        f"<style>@import url({base}/y.css);\n@import '{base}/y2.css' screen;"
        f'\n@IMPORT url("{base}/y3.css"); p {{ color: blue }}</style>'
    )
    assert "</head>" in html
    (templates / "notice.html").write_text(
        html.replace("</head>", hostile + "</head>"), encoding="utf-8"
    )
    # The check itself works: the server answers when asked.
    import urllib.request

    with urllib.request.urlopen(f"{base}/probe.css", timeout=5) as response:
        assert response.status == 200
    hits.clear()
    out = Renderer(settings, template_dir=templates).render(parse_event(make_event()))
    time.sleep(0.2)
    assert hits == []
    assert "@import" not in out.html.lower()
    assert f"{base}/x" not in out.html and "stylesheet" not in out.html.lower()


@pytest.mark.parametrize(
    "snippet",
    [
        '<link rel="alternate stylesheet" href="{base}/alt.css">',
        '<link rel="preload" as="style" href="{base}/pre.css">',
        "<link rel='StyleSheet' href='{base}/case.css'>",
        "<style>@import url({base}/a.css) screen and (min-width: 1px);</style>",
        "<style>@import/**/url({base}/comment.css);</style>",
        "<style>@\\69mport url({base}/escaped.css);</style>",
        "<style>@import url({base}/nosemicolon.css)</style>",
        "<style>@media screen {{ @import url({base}/nested.css); }}</style>",
        "<style>p {{ background: url({base}/bg.png) }}</style>",
        '<p style="background: url({base}/inline.png)">x</p>',
    ],
)
def test_security_css_inlining_never_fetches_any_url(
    snippet: str, css_server: tuple[int, list[str]]
) -> None:
    port, hits = css_server
    base = f"http://127.0.0.1:{port}"
    html = (
        "<html><head>" + snippet.format(base=base) + "<style>p { color: red }</style>"
        "</head><body><p>hi</p></body></html>"
    )
    out = inline_css(html)
    time.sleep(0.1)
    assert hits == [], snippet
    assert "import" not in out.lower().replace("important", ""), out


# -- SMTP: TLS verification, credentials -----------------------------------------------------
@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed (and neither is the cryptography package)")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_server(self_signed: tuple[Path, Path]) -> Iterator[tuple[ServerThread, Recorder]]:
    cert, key = self_signed
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    recorder = Recorder()
    server = ServerThread(recorder, tls_context=context, require_starttls=True)
    server.start()
    yield server, recorder
    server.stop()


def _starttls_url(server: ServerThread) -> str:
    return f"smtp+starttls://127.0.0.1:{server.port}"


def test_security_smtp_self_signed_certificate_is_refused_by_default(
    settings: Settings, fake_redis: Any, tls_server: tuple[ServerThread, Recorder]
) -> None:
    server, recorder = tls_server
    with pytest.raises(TransientError) as info:
        Transport(settings.with_(smtp_url=_starttls_url(server))).send(
            b"Subject: x\r\n\r\nbody\r\n", "b@example.com", "a@example.com"
        )
    assert "certificate" in str(info.value).lower()
    pipeline = Pipeline(settings.with_(smtp_url=_starttls_url(server)), fake_redis)
    intake = pipeline.handle_event(make_event())
    assert intake.status == "deferred"
    record = pipeline.tracker.get(intake.notice_id or "") or {}
    assert "certificate" in record["last_error"].lower()
    assert recorder.messages == [] and recorder.rcpt_attempts == []


def test_security_smtp_certificate_accepted_with_ca_file_or_verification_off(
    settings: Settings,
    fake_redis: Any,
    self_signed: tuple[Path, Path],
    tls_server: tuple[ServerThread, Recorder],
) -> None:
    server, recorder = tls_server
    cert, _ = self_signed
    variants: tuple[dict[str, Any], ...] = ({"smtp_ca_file": str(cert)}, {"smtp_tls_verify": False})
    for n, changes in enumerate(variants):
        pipeline = Pipeline(settings.with_(smtp_url=_starttls_url(server), **changes), fake_redis)
        assert pipeline.handle_event(make_event(event_id=f"tls-{n}")).status == "sent"
    assert len(recorder.messages) == 2


def test_security_smtp_starttls_required_is_never_downgraded(
    settings: Settings, smtp_server: ServerThread, recorder: Recorder
) -> None:
    # smtp_server offers no STARTTLS: smtp+starttls:// must refuse to send in clear.
    with pytest.raises(TransientError) as info:
        Transport(settings.with_(smtp_url=f"smtp+starttls://127.0.0.1:{smtp_server.port}")).send(
            b"Subject: x\r\n\r\nbody\r\n", "b@example.com", "a@example.com"
        )
    assert "STARTTLS" in str(info.value)
    assert recorder.messages == []


@pytest.mark.parametrize(
    ("host", "encrypted", "allow_plain", "refused"),
    [
        ("relay.example.com", False, False, True),
        ("192.0.2.10", False, False, True),
        ("relay.example.com", True, False, False),
        ("relay.example.com", False, True, False),
        ("127.0.0.1", False, False, False),
        ("localhost", False, False, False),
        ("::1", False, False, False),
    ],
)
def test_security_smtp_credentials_refused_in_plain_text_across_a_network(
    host: str, encrypted: bool, allow_plain: bool, refused: bool
) -> None:
    target = SMTPTarget(host, 25, TLSMode.OPPORTUNISTIC, "user", "pw")
    if refused:
        with pytest.raises(ConfigurationError):
            check_credentials_allowed(target, encrypted, allow_plain)
    else:
        check_credentials_allowed(target, encrypted, allow_plain)


# -- the bounce endpoint --------------------------------------------------------------------
@pytest.fixture
def bounce_rig(
    settings: Settings, fake_redis: Any, smtp_server: ServerThread, recorder: Recorder
) -> Iterator[tuple[Pipeline, BounceProcessor]]:
    pipeline = Pipeline(settings.with_(smtp_url=smtp_server.url), fake_redis)
    yield pipeline, make_processor(pipeline)


def _bounce_server(processor: BounceProcessor, settings: Settings) -> ServerThread:
    server = make_server(processor, settings, "127.0.0.1", free_port())
    server.start()
    return server


def test_security_bounce_with_forged_token_changes_nothing(
    bounce_rig: tuple[Pipeline, BounceProcessor],
) -> None:
    pipeline, processor = bounce_rig
    intake = pipeline.handle_event(make_event())
    nid = intake.notice_id or ""
    assert intake.status == "sent"
    genuine = envelope_sender(nid, pipeline.settings)
    local, _, domain = genuine.partition("@")
    prefix, day, sig = local.rsplit(".", 2)
    other = notice_id_for("someone-else")
    forgeries = [
        f"{prefix}.{day}.{'0' * 16}@{domain}",  # wrong signature
        f"{prefix}.{day}.{sig[:-1]}{'0' if sig[-1] != '0' else '1'}@{domain}",  # one digit off
        f"bounces+{other}.{day}.{sig}@{domain}",  # someone else's signature
        f"{prefix}.{'1'}.{sig}@{domain}",  # another day
        f"bounces+{nid}@{domain}",  # no signature at all
    ]
    server = _bounce_server(processor, pipeline.settings)
    try:
        for forged in forgeries:
            with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
                client.sendmail(
                    "MAILER-DAEMON@mx.example.net",
                    [forged],
                    make_dsn(
                        to=forged,
                        recipient="admin@example.com",
                        message_id=f"<{nid}.0@example.com>",
                        envid=nid,
                    ),
                )
    finally:
        server.stop()
    record = pipeline.tracker.get(nid) or {}
    assert record["status"] == "sent"
    assert [h["status"] for h in pipeline.tracker.history(nid)] == ["queued", "sent"]
    assert pipeline.suppressions.get("admin@example.com") is None
    whys = [u["why"] for u in processor.unmatched()]
    assert whys == ["forged"] * len(forgeries)
    # ...and the genuine token does apply, so the check above is not vacuous.
    assert (
        processor.process(make_dsn(to=genuine, recipient="admin@example.com"), [genuine])[0].effect
        == "bounced"
    )


def test_security_bounce_endpoint_never_relays(
    bounce_rig: tuple[Pipeline, BounceProcessor],
) -> None:
    pipeline, processor = bounce_rig
    server = _bounce_server(processor, pipeline.settings)
    try:
        for rcpt in (
            "victim@other.example",
            "bounces@example.com.evil.example",
            "bounces+x@EXAMPLE.NET",
            "postmaster@[127.0.0.1]",
        ):
            with (
                smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client,
                pytest.raises(smtplib.SMTPRecipientsRefused) as info,
            ):
                client.sendmail("spammer@example.org", [rcpt], b"Subject: hi\r\n\r\nspam\r\n")
            code, _ = info.value.recipients[rcpt]
            assert code == 550, rcpt
    finally:
        server.stop()
    assert processor.unmatched() == []


def test_security_bounce_endpoint_refuses_oversized_messages(
    bounce_rig: tuple[Pipeline, BounceProcessor],
) -> None:
    pipeline, processor = bounce_rig
    settings = pipeline.settings.with_(bounce_max_bytes=4096)
    server = _bounce_server(processor, settings)
    try:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
            client.ehlo()
            assert "4096" in client.esmtp_features.get("size", "")
            with pytest.raises((smtplib.SMTPDataError, smtplib.SMTPSenderRefused)) as info:
                client.sendmail(
                    "MAILER-DAEMON@mx.example.net",
                    ["bounces@example.com"],
                    b"Subject: big\r\n\r\n" + b"x" * 8000 + b"\r\n",
                )
        assert info.value.smtp_code == 552
    finally:
        server.stop()


def test_security_bounce_endpoint_rate_limits_one_peer(
    bounce_rig: tuple[Pipeline, BounceProcessor],
) -> None:
    pipeline, processor = bounce_rig
    server = _bounce_server(processor, pipeline.settings.with_(bounce_rate_per_minute=3))
    codes = []
    try:
        for _ in range(5):
            with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
                client.ehlo()
                code, _ = client.mail("MAILER-DAEMON@mx.example.net")
                codes.append(code)
    finally:
        server.stop()
    assert codes == [250, 250, 250, 421, 421]


# -- logs --------------------------------------------------------------------------------------
@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    from worker.logs import setup

    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    stream = io.StringIO()
    setup("DEBUG", fmt="json", stream=stream)
    yield stream
    for handler in list(root.handlers):
        if handler not in before[0]:
            root.removeHandler(handler)
    root.setLevel(before[1])


def test_security_logs_mask_addresses_and_hold_no_card_data_or_secrets(
    settings: Settings, fake_redis: Any, captured_logs: io.StringIO
) -> None:
    password = "smtp-pass-Zq7xW"
    address = "alice.secret@customer.example"

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        return AuthResult(success=True)

    recorder = Recorder()
    recorder.refuse_rcpt["gone.user@customer.example"] = (
        "550 5.1.1 <gone.user@customer.example>: user unknown"
    )
    server = ServerThread(recorder, auth_require_tls=False, authenticator=authenticator)
    server.start()
    try:
        url = f"smtp://relay-user:{password}@127.0.0.1:{server.port}"
        pipeline = Pipeline(settings.with_(smtp_url=url), fake_redis)
        sent = pipeline.handle_event(make_event(event_id="log-1", admin_email=address))
        assert sent.status == "sent"
        bounced = pipeline.handle_event(
            make_event(event_id="log-2", admin_email="gone.user@customer.example")
        )
        assert bounced.status == "bounced"
        # a DSN for the sent notice, through the bounce processor
        token = envelope_sender(sent.notice_id or "", pipeline.settings)
        make_processor(pipeline).process(make_dsn(to=token, recipient=address), [token])
        # an invalid event carrying a card number, and one with the address in a bad field
        pipeline.handle_event(
            make_event(event_id="log-3", admin_name=f"card {CARD}", admin_email=address)
        )
        pipeline.handle_event(make_event(event_id="log-4", admin_email=address, amount=1.5))
        # a relay that refuses the password
        refusing = ServerThread(
            Recorder(), auth_require_tls=False, authenticator=lambda *a: AuthResult(success=False)
        )
        refusing.start()
        try:
            bad = Pipeline(
                settings.with_(smtp_url=f"smtp://relay-user:{password}@127.0.0.1:{refusing.port}"),
                fake_redis,
            )
            assert (
                bad.handle_event(
                    make_event(event_id="log-5", admin_email="carol.secret@customer.example")
                ).status
                == "deferred"
            )
        finally:
            refusing.stop()
    finally:
        server.stop()
    logs = captured_logs.getvalue()
    lines = [json.loads(line) for line in logs.splitlines() if line.strip()]
    assert len(lines) >= 8, logs
    assert any("a***@customer.example" in line["msg"] for line in lines)
    for secret in (address, "gone.user@", "carol.secret@", CARD, "4111 1111", SECRET, password):
        assert secret not in logs, secret
    assert settings.secret_key == SECRET  # the value grepped for is the one in use
