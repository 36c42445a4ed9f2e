"""Bounce messages for tests: an RFC 3464 report as a real MTA writes one."""

from __future__ import annotations

from worker.bounces.ingest import BounceProcessor
from worker.notices.pipeline import Pipeline


def make_dsn(
    *,
    to: str,
    recipient: str,
    action: str = "failed",
    status: str = "5.1.1",
    diagnostic: str = "smtp; 550 5.1.1 <{rcpt}>: Recipient address rejected: User "
    "unknown in local recipient table",
    envid: str | None = None,
    message_id: str | None = None,
    also: tuple[str, ...] = (),
    return_path: str | None = None,
) -> bytes:
    """An RFC 3464 report as Postfix writes one, addressed to ``to`` (our return path).

    ``also`` adds recipients to the same report; ``return_path`` puts a Return-Path in the
    returned headers.
    """
    boundary = "dsn-boundary-1"
    per_message = "Reporting-MTA: dns; mx.example.net\r\n"
    if envid:
        per_message = f"Original-Envelope-Id: {envid}\r\n" + per_message
    diag = f"Diagnostic-Code: {diagnostic.format(rcpt=recipient)}\r\n" if diagnostic else ""
    returned = (
        (f"Return-Path: <{return_path}>\r\n" if return_path else "")
        + (f"Message-ID: {message_id}\r\n" if message_id else "")
        + "From: Billing <billing@example.com>\r\nSubject: notice\r\n"
    )
    more = "".join(
        f"\r\nFinal-Recipient: rfc822; {other}\r\nAction: {action}\r\nStatus: {status}\r\n"
        for other in also
    )
    text = (
        f"From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n"
        f"To: {to}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: multipart/report; report-type=delivery-status; "
        f'boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nDelivery report.\r\n"
        f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n{per_message}\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nOriginal-Recipient: rfc822;{recipient}\r\n"
        f"Action: {action}\r\nStatus: {status}\r\n{diag}{more}\r\n"
        f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n{returned}\r\n"
        f"--{boundary}--\r\n"
    )
    return text.encode()


def processor(pipeline: Pipeline) -> BounceProcessor:
    """The bounce processor over a pipeline's stores, as ``bounces ingest`` builds it."""
    return BounceProcessor(pipeline.tracker, pipeline.suppressions, pipeline.settings)


def make_arf(
    *, to: str, complainer: str, return_path: str | None = None, message_id: str | None = None
) -> bytes:
    """An ARF complaint (RFC 5965) as a mailbox provider's feedback loop sends one."""
    boundary = "arf-boundary-1"
    returned = (
        (f"Return-Path: <{return_path}>\r\n" if return_path else "")
        + (f"Message-ID: {message_id}\r\n" if message_id else "")
        + f"From: Billing <billing@example.com>\r\nTo: {complainer}\r\nSubject: notice\r\n"
    )
    text = (
        f"From: feedback@fbl.example.net\r\nTo: {to}\r\nSubject: Complaint about message\r\n"
        f"MIME-Version: 1.0\r\n"
        f"Content-Type: multipart/report; report-type=feedback-report; "
        f'boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nThis is an abuse report.\r\n"
        f"--{boundary}\r\nContent-Type: message/feedback-report\r\n\r\n"
        f"Feedback-Type: abuse\r\nUser-Agent: ExampleFBL/1.0\r\nVersion: 1\r\n"
        f"Original-Rcpt-To: {complainer}\r\n\r\n"
        f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n{returned}\r\n"
        f"--{boundary}--\r\n"
    )
    return text.encode()
