"""Provider webhook payloads, written from the providers' documented formats, and signers
with keys made in the test (an SNS self-signed certificate, an ECDSA key, HMAC keys)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from worker.webhooks.sns import string_to_sign

TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-notices"
CERT_NAME = "SimpleNotificationService-0123456789abcdef.pem"
CERT_URL = f"https://sns.us-east-1.amazonaws.com/{CERT_NAME}"
MAILGUN_KEY = "key-mailgun-test-0123456789"
POSTMARK_USER, POSTMARK_PASSWORD = "postmark-hooks", "pm-pass-0123456789"


class SnsSigner:
    """Signs SNS messages with a self-signed certificate kept in ``cert_dir``."""

    def __init__(self, cert_dir: Path) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .sign(self.key, hashes.SHA256())
        )
        self.cert_dir = cert_dir
        self.pem = cert.public_bytes(serialization.Encoding.PEM)
        (cert_dir / CERT_NAME).write_bytes(self.pem)

    def sign(
        self, message: dict[str, Any], version: str = "1", cert_url: str = CERT_URL
    ) -> dict[str, Any]:
        signed = {**message, "SignatureVersion": version, "SigningCertURL": cert_url}
        digest = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = self.key.sign(string_to_sign(signed), padding.PKCS1v15(), digest)
        signed["Signature"] = base64.b64encode(signature).decode()
        return signed


def sns_notification(ses_event: dict[str, Any], topic: str = TOPIC) -> dict[str, Any]:
    return {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": topic,
        "Message": json.dumps(ses_event),
        "Timestamp": "2026-12-02T03:30:00.000Z",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&x=1",
    }


def sns_confirmation(topic: str = TOPIC, subscribe_url: str | None = None) -> dict[str, Any]:
    return {
        "Type": "SubscriptionConfirmation",
        "MessageId": str(uuid.uuid4()),
        "Token": "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f7948",
        "TopicArn": topic,
        "Message": f"You have chosen to subscribe to the topic {topic}.",
        "SubscribeURL": subscribe_url
        or f"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={topic}",
        "Timestamp": "2026-12-02T03:30:00.000Z",
    }


def ses_event(kind: str, message_id: str, recipient: str) -> dict[str, Any]:
    """An SES notification (the notification format, original headers included)."""
    mail = {
        "timestamp": "2026-12-02T03:29:58.000Z",
        "source": "billing@example.com",
        "messageId": "0100018c-ses-own-id-000000",
        "destination": [recipient],
        "headersTruncated": False,
        "headers": [
            {"name": "From", "value": "Billing <billing@example.com>"},
            {"name": "To", "value": recipient},
            {"name": "Message-ID", "value": message_id},
        ],
        "commonHeaders": {"to": [recipient], "messageId": message_id},
    }
    event: dict[str, Any] = {"notificationType": kind, "mail": mail}
    if kind == "Bounce":
        event["bounce"] = {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": recipient,
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
            "timestamp": "2026-12-02T03:30:00.000Z",
            "feedbackId": "0100018c-feedback-bounce",
        }
    elif kind == "Complaint":
        event["complaint"] = {
            "complainedRecipients": [{"emailAddress": recipient}],
            "complaintFeedbackType": "abuse",
            "timestamp": "2026-12-02T03:31:00.000Z",
            "feedbackId": "0100018c-feedback-complaint",
        }
    elif kind == "Delivery":
        event["delivery"] = {
            "timestamp": "2026-12-02T03:30:01.000Z",
            "recipients": [recipient],
            "smtpResponse": "250 2.0.0 OK queued",
            "processingTimeMillis": 412,
        }
    elif kind == "DeliveryDelay":
        event["deliveryDelay"] = {
            "timestamp": "2026-12-02T03:40:00.000Z",
            "delayType": "TransientCommunicationFailure",
            "delayedRecipients": [
                {"emailAddress": recipient, "status": "4.4.1", "diagnosticCode": "timeout"}
            ],
        }
    return event


class SendGridSigner:
    """An ECDSA P-256 key pair; the public half as SendGrid's settings page shows it."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_b64 = base64.b64encode(der).decode()

    def headers(self, body: bytes, timestamp: str | None = None) -> dict[str, str]:
        stamp = timestamp or str(int(time.time()))
        signature = self.key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        }


def sendgrid_event(kind: str, message_id: str, recipient: str, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "email": recipient,
        "timestamp": 1764646200,
        "smtp-id": message_id,
        "event": kind,
        "sg_event_id": base64.b64encode(uuid.uuid4().bytes).decode(),
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "category": ["notice"],
    }
    if kind == "bounce":
        event.update(
            type="bounce",
            status="5.1.1",
            reason="550 5.1.1 The email account that you tried to reach does not exist",
            bounce_classification="Invalid Address",
        )
    elif kind == "deferred":
        event.update(response="400 try again later", attempt="1")
    elif kind == "delivered":
        event.update(response="250 OK", ip="168.1.1.1")
    event.update(extra)
    return event


def mailgun_body(
    event_data: dict[str, Any],
    key: str = MAILGUN_KEY,
    timestamp: int | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    tok = token or uuid.uuid4().hex + uuid.uuid4().hex[:18]
    signature = hmac.new(key.encode(), (stamp + tok).encode(), hashlib.sha256).hexdigest()
    return {
        "signature": {"timestamp": stamp, "token": tok, "signature": signature},
        "event-data": event_data,
    }


def mailgun_event(kind: str, message_id: str, recipient: str, **extra: Any) -> dict[str, Any]:
    bare = message_id.strip("<>")  # Mailgun gives the Message-ID without angle brackets
    event: dict[str, Any] = {
        "event": kind,
        "id": uuid.uuid4().hex[:22],
        "timestamp": 1764646200.123456,
        "recipient": recipient,
        "message": {"headers": {"message-id": bare, "subject": "Payment failed"}},
        "log-level": "info",
    }
    if kind == "failed":
        event.update(
            severity="permanent",
            reason="bounce",
            **{
                "log-level": "error",
                "delivery-status": {
                    "code": 550,
                    "message": "5.1.1 The email account that you tried to reach does not exist",
                    "description": "",
                    "attempt-no": 1,
                },
            },
        )
    elif kind == "delivered":
        event["delivery-status"] = {"code": 250, "message": "OK", "attempt-no": 1}
    event.update(extra)
    return event


def postmark_auth(user: str = POSTMARK_USER, password: str = POSTMARK_PASSWORD) -> dict[str, str]:
    value = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {value}"}


def postmark_event(record_type: str, token: str | None, recipient: str) -> dict[str, Any]:
    metadata = {"notice": token} if token is not None else {}
    base: dict[str, Any] = {
        "RecordType": record_type,
        "MessageID": str(uuid.uuid4()),
        "ServerID": 23,
        "MessageStream": "outbound",
        "Metadata": metadata,
        "Tag": "",
    }
    if record_type == "Delivery":
        base.update(
            Recipient=recipient,
            DeliveredAt="2026-12-02T03:30:01.000Z",
            Details="Message delivered to the recipient's mail server",
        )
    else:  # Bounce, SpamComplaint
        hard = record_type == "Bounce"
        base.update(
            ID=4323372036854775807 if hard else 4323372036854775808,
            Type="HardBounce" if hard else "SpamComplaint",
            TypeCode=1 if hard else 512,
            Name="Hard bounce" if hard else "Spam complaint",
            Description="The server was unable to deliver your message (unknown user).",
            Details="smtp;550 5.1.1 The email account that you tried to reach does not exist",
            Email=recipient,
            From="billing@example.com",
            BouncedAt="2026-12-02T03:30:00.000Z",
            Inactive=hard,
            CanActivate=True,
            Subject="Payment failed",
        )
    return base
