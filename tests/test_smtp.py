"""SMTP_URL parsing, reply classes and the transport against a real aiosmtpd server."""

from __future__ import annotations

import pytest

from tests.support.smtpd import Recorder
from worker.errors import (
    ConfigurationError,
    PermanentError,
    RecipientRefused,
    SMTPUnavailable,
    TransientError,
)
from worker.net import free_port
from worker.settings import Settings
from worker.smtp.client import Transport, xtext
from worker.smtp.replies import ReplyClass
from worker.smtp.server import ServerThread
from worker.smtp.target import SMTPTarget, TLSMode, check_credentials_allowed, parse_smtp_url


@pytest.mark.parametrize(
    ("url", "mode", "port"),
    [
        ("smtp://relay.example.com", TLSMode.OPPORTUNISTIC, 25),
        ("smtp+starttls://u:p%40ss@relay.example.com", TLSMode.STARTTLS, 587),
        ("smtps://relay.example.com:2465", TLSMode.IMPLICIT, 2465),
    ],
)
def test_smtp_url_is_parsed(url: str, mode: TLSMode, port: int) -> None:
    target = parse_smtp_url(url)
    assert (target.mode, target.port) == (mode, port)
    if target.username:
        assert target.password == "p@ss"
        assert "p@ss" not in repr(target)


@pytest.mark.parametrize("url", ["http://x", "smtp://", "smtp://host:notaport"])
def test_smtp_bad_url_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError):
        parse_smtp_url(url)


def test_smtp_reply_class_by_first_digit() -> None:
    assert [ReplyClass.of(c) for c in (250, 421, 550, None)] == [
        ReplyClass.SUCCESS,
        ReplyClass.TRANSIENT,
        ReplyClass.PERMANENT,
        ReplyClass.NONE,
    ]


def test_smtp_xtext_encodes_plus_and_equals() -> None:
    assert xtext("a+b=c@example.com") == "a+2Bb+3Dc@example.com"


def _send(settings: Settings, url: str) -> None:
    Transport(settings.with_(smtp_url=url)).send(
        b"Subject: x\r\n\r\nbody\r\n", "b@example.com", "a@example.com", "nid"
    )


@pytest.mark.parametrize(
    ("where", "reply", "error"),
    [
        ("rcpt", "550 5.1.1 user unknown", RecipientRefused),
        ("rcpt", "451 4.7.1 try later", TransientError),
        ("data", "554 5.7.1 rejected", PermanentError),
        ("data", "452 4.3.1 insufficient storage", TransientError),
    ],
)
def test_smtp_replies_map_to_errors(
    settings: Settings,
    recorder: Recorder,
    smtp_server: ServerThread,
    where: str,
    reply: str,
    error: type[Exception],
) -> None:
    if where == "rcpt":
        recorder.refuse_rcpt["a@example.com"] = reply
    else:
        recorder.data_reply = reply
    with pytest.raises(error) as caught:
        _send(settings, smtp_server.url)
    assert getattr(caught.value, "code", None) == int(reply[:3])
    if error is TransientError:
        assert not isinstance(caught.value, PermanentError)


def test_smtp_connection_refused_is_transient(settings: Settings) -> None:
    with pytest.raises(SMTPUnavailable):
        _send(settings, f"smtp://127.0.0.1:{free_port()}")


def test_smtp_connections_are_reused(settings: Settings, recorder: Recorder) -> None:
    sessions: list[object] = []

    class Counting(Recorder):
        async def handle_EHLO(self, server, session, envelope, hostname, responses):  # type: ignore[no-untyped-def]
            sessions.append(session)
            session.host_name = hostname
            return responses

    server = ServerThread(Counting())
    server.start()
    try:
        transport = Transport(settings.with_(smtp_url=server.url, smtp_concurrency=1))
        for _ in range(5):
            transport.send(b"Subject: x\r\n\r\nbody\r\n", "b@example.com", "a@example.com")
    finally:
        server.stop()
    assert len(sessions) == 1


def test_smtp_starttls_required_refuses_a_server_without_it(
    settings: Settings, smtp_server: ServerThread
) -> None:
    with pytest.raises(TransientError):
        _send(settings, smtp_server.url.replace("smtp://", "smtp+starttls://"))


@pytest.mark.parametrize(
    ("host", "encrypted", "allow", "refused"),
    [
        ("relay.example.com", False, False, True),
        ("relay.example.com", True, False, False),
        ("relay.example.com", False, True, False),
        ("127.0.0.1", False, False, False),
        ("localhost", False, False, False),
    ],
)
def test_smtp_credentials_are_not_sent_in_plain_text_to_a_remote_host(
    host: str, encrypted: bool, allow: bool, refused: bool
) -> None:
    target = SMTPTarget(host=host, port=25, mode=TLSMode.OPPORTUNISTIC, username="u", password="p")
    if refused:
        with pytest.raises(ConfigurationError, match="plain text"):
            check_credentials_allowed(target, encrypted, allow)
    else:
        check_credentials_allowed(target, encrypted, allow)


@pytest.mark.parametrize("how", ["hang up", "421"])
def test_smtp_a_connection_the_relay_closed_while_idle_is_replaced_not_deferred(
    settings: Settings, how: str
) -> None:
    class ClosesIdleSessions(Recorder):
        """Hangs up (or says 421) on the second MAIL of a session, as a relay whose idle
        timeout fired just before our next mail."""

        async def handle_MAIL(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]
            count = getattr(session, "mails", 0)
            session.mails = count + 1
            if count:
                if how == "421":
                    server.transport.close()
                    return "421 4.4.2 mx.example.net Error: timeout exceeded"
                server.transport.abort()
                return "250 OK"
            return await super().handle_MAIL(server, session, envelope, address, options)

    recorder = ClosesIdleSessions()
    server = ServerThread(recorder)
    server.start()
    try:
        transport = Transport(settings.with_(smtp_url=server.url, smtp_concurrency=1))
        for n in range(3):
            transport.send(
                f"Subject: {n}\r\n\r\nbody\r\n".encode(), "b@example.com", "a@example.com"
            )
    finally:
        server.stop()
    assert len(recorder.messages) == 3


def test_smtp_helo_name_is_configurable(settings: Settings, recorder: Recorder) -> None:
    names: list[str] = []

    class Helo(Recorder):
        async def handle_EHLO(self, server, session, envelope, hostname, responses):  # type: ignore[no-untyped-def]
            names.append(hostname)
            session.host_name = hostname
            return responses

    server = ServerThread(Helo())
    server.start()
    try:
        Transport(settings.with_(smtp_url=server.url, smtp_helo_name="mail.example.com")).send(
            b"Subject: x\r\n\r\nbody\r\n", "b@example.com", "a@example.com"
        )
    finally:
        server.stop()
    assert names == ["mail.example.com"]
