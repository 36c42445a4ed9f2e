"""One preview: an event rendered exactly as it would be sent, or why it cannot be."""

from __future__ import annotations

import email
import traceback
from dataclasses import dataclass
from pathlib import Path

import jinja2

from worker.errors import ConfigurationError, InvalidEvent, TemplateProblem
from worker.intake.events import Event, decode, parse_event
from worker.notices.record import notice_id_for
from worker.render.context import StepInfo
from worker.render.message import POLICY, message_bytes
from worker.render.renderer import Rendered
from worker.smtp.proof import envelope_id, envelope_sender
from worker.web.state import state


@dataclass(frozen=True)
class Preview:
    """One notice as it would be sent, with its headers and raw message."""

    rendered: Rendered
    headers: list[tuple[str, str]]
    eml: bytes
    notice_id: str
    #: What the SMTP envelope would carry: return path (MAIL FROM), ENVID, recipient.
    envelope: tuple[tuple[str, str], ...] = ()

    @property
    def raw(self) -> str:
        """The message as text, for reading on the page (CRLFs as line breaks)."""
        return self.eml.decode("utf-8", "replace").replace("\r\n", "\n")


@dataclass(frozen=True)
class Problem:
    """Why a notice could not be shown: an invalid event, or a broken template."""

    kind: str  #: "event" or "template"
    message: str
    template: str | None = None
    line: int | None = None


def build_preview(event: Event, locale: str | None, step: StepInfo | None = None) -> Preview:
    """Render ``event`` exactly as the worker would send it (raises TemplateProblem)."""
    st = state()
    rendered = st.renderer.render(event, locale, step)
    notice_id = notice_id_for(event.event_id)
    raw = message_bytes(
        rendered, to=event.admin_email, notice_id=notice_id, generation=0, settings=st.settings
    )
    msg = email.message_from_bytes(raw, policy=POLICY)
    return Preview(
        rendered,
        [(k, str(v)) for k, v in msg.items()],
        raw,
        notice_id,
        envelope_of(notice_id, event.admin_email),
    )


def envelope_of(notice_id: str, to: str) -> tuple[tuple[str, str], ...]:
    """The envelope a send of this notice would use (signed, so it needs SECRET_KEY)."""
    settings = state().settings
    try:
        sender = envelope_sender(notice_id, settings)
        envid = envelope_id(notice_id, settings)
    except ConfigurationError:
        sender = envid = "(needs SECRET_KEY)"
    return (("Return-Path (MAIL FROM)", sender), ("ENVID", envid), ("RCPT TO", to))


def template_problem(exc: Exception, template_dir: Path) -> Problem:
    """Name the template and line at fault, from the Jinja error or its traceback."""
    cause = exc.__cause__ if isinstance(exc, TemplateProblem) and exc.__cause__ else exc
    name: str | None = None
    line: int | None = None
    if isinstance(cause, jinja2.TemplateSyntaxError):
        name, line = cause.name or cause.filename, cause.lineno
    else:
        root = str(template_dir.resolve()) + "/"
        for frame, lineno in traceback.walk_tb(cause.__traceback__):
            filename = frame.f_code.co_filename
            if filename.startswith(root):
                name, line = str(Path(filename).relative_to(root)), lineno
    message = str(cause) if cause is not exc else str(exc)
    return Problem("template", f"{cause.__class__.__name__}: {message}", name, line)


def try_preview(
    payload_text: str, locale: str | None, step: StepInfo | None = None
) -> tuple[Preview | None, Problem | None]:
    """Decode, validate and render; any failure comes back as a Problem, never raised."""
    try:
        event = parse_event(decode(payload_text))
    except InvalidEvent as exc:
        return None, Problem("event", exc.reason)
    try:
        return build_preview(event, locale, step), None
    except (TemplateProblem, jinja2.TemplateError) as exc:
        return None, template_problem(exc, state().renderer.template_dir)
    except InvalidEvent as exc:
        return None, Problem("event", exc.reason)
