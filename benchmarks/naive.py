"""The worker a team writes in an afternoon: Jinja2 + premailer + a new SMTP connection per mail."""

from __future__ import annotations

import os
import smtplib
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import jinja2
import premailer
from celery import Celery

from worker.intake.events import parse_event
from worker.render.context import build_context
from worker.render.i18n import negotiate, translations
from worker.render.renderer import Renderer
from worker.resources import resource_dir
from worker.settings import from_env

QUEUE = "bench.naive"
TASK = "bench.naive.charge_failed"

app = Celery("naive", broker=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/12"))
# Nothing tuned: Celery's defaults, but the queue of its own and no result backend.
app.conf.update(
    task_default_queue=QUEUE,
    task_ignore_result=True,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)

settings = from_env()
_smtp = urlsplit(os.environ.get("SMTP_URL", "smtp://127.0.0.1:25"))
_envs: dict[str, jinja2.Environment] = {}


def environment(locale: str) -> jinja2.Environment:
    env = _envs.get(locale)
    if env is None:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(resource_dir("templates"))),
            extensions=["jinja2.ext.i18n"],
            autoescape=True,
        )
        env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
        # The helpers the templates call (e.g. ``w`` for wrapping), whatever they are today.
        ours = Renderer(settings).environment(locale).globals
        env.globals.update({k: v for k, v in ours.items() if k not in env.globals})
        _envs[locale] = env
    return env


@app.task(name=TASK)
def charge_failed(payload: dict[str, Any]) -> None:
    event = parse_event(payload)
    locale = negotiate(event.locale)
    context = build_context(event, locale, settings)
    env = environment(locale)
    subject = env.get_template("subject.txt").render(context).strip()
    text = env.get_template("notice.txt").render(context)
    html = premailer.transform(env.get_template("notice.html").render(context))
    msg = EmailMessage()
    msg["Subject"] = " ".join(subject.split())
    msg["From"] = str(settings.mail_from)
    msg["To"] = event.admin_email
    msg["X-Event-ID"] = event.event_id
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    with smtplib.SMTP(_smtp.hostname or "127.0.0.1", _smtp.port or 25, timeout=30) as smtp:
        smtp.send_message(msg)
