"""Template previews: every sample case in every locale, and an editor for one's own event."""

from __future__ import annotations

import email
import json
import re
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from flask import Blueprint, Response, abort, render_template, request

from worker.errors import InvalidEvent, TemplateProblem
from worker.intake.events import Event, decode, parse_event
from worker.notices.record import notice_id_for
from worker.render.i18n import LANG_TAGS
from worker.render.message import POLICY, message_bytes
from worker.render.renderer import Rendered
from worker.resources import resource_dir
from worker.web.security import SANDBOX_CSP
from worker.web.state import state

bp = Blueprint("preview", __name__)

#: The locales every case is shown in, in this order.
LOCALES = ("zh_TW", "en")
WIDTHS = {"desktop": 600, "mobile": 375}
#: The page icon: a small SVG (browsers ask for /favicon.ico on every page).
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<rect width="16" height="16" rx="3" fill="#0b57d0"/>'
    '<path d="M3 5h10v7H3z" fill="none" stroke="#fff" stroke-width="1.5"/>'
    '<path d="M3 5l5 4 5-4" fill="none" stroke="#fff" stroke-width="1.5"/></svg>'
)


@dataclass(frozen=True)
class Preview:
    """One notice as it would be sent, with its headers and raw message."""

    rendered: Rendered
    headers: list[tuple[str, str]]
    eml: bytes
    notice_id: str


@dataclass(frozen=True)
class Problem:
    """Why a notice could not be shown: an invalid event, or a broken template."""

    kind: str  #: "event" or "template"
    message: str
    template: str | None = None
    line: int | None = None


def cases() -> dict[str, dict[str, Any]]:
    """The shipped sample cases (read on every request, so edits show at once)."""
    path = resource_dir("samples") / "cases.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    return {str(k): v for k, v in data.items() if isinstance(v, dict)}


def canonical_locale(text: str) -> str | None:
    """``zh-TW``, ``zh_TW`` or ``zh_tw`` → ``zh_TW``: URLs take the event spelling too."""
    wanted = text.replace("-", "_").lower()
    return next((locale for locale in LOCALES if locale.lower() == wanted), None)


def case_payload(name: str, locale: str) -> dict[str, Any]:
    """The sample event ``name`` in ``locale`` (as the dev mode builds it)."""
    found = cases().get(name)
    canonical = canonical_locale(locale)
    if found is None or canonical is None:
        abort(404)
    locale = canonical
    tag = LANG_TAGS[locale]
    return {**found, "event_id": f"sample-{name}-{tag}", "locale": tag}


def build_preview(event: Event, locale: str | None) -> Preview:
    """Render ``event`` exactly as the worker would send it (raises TemplateProblem)."""
    st = state()
    rendered = st.renderer.render(event, locale)
    notice_id = notice_id_for(event.event_id)
    raw = message_bytes(
        rendered, to=event.admin_email, notice_id=notice_id, generation=0, settings=st.settings
    )
    msg = email.message_from_bytes(raw, policy=POLICY)
    return Preview(rendered, [(k, str(v)) for k, v in msg.items()], raw, notice_id)


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


def try_preview(payload_text: str, locale: str | None) -> tuple[Preview | None, Problem | None]:
    """Decode, validate and render; any failure comes back as a Problem, never raised."""
    try:
        event = parse_event(decode(payload_text))
    except InvalidEvent as exc:
        return None, Problem("event", exc.reason)
    try:
        return build_preview(event, locale), None
    except (TemplateProblem, jinja2.TemplateError) as exc:
        return None, template_problem(exc, state().renderer.template_dir)
    except InvalidEvent as exc:
        return None, Problem("event", exc.reason)


def sandboxed(html: str) -> Response:
    """Notice HTML, served so that it cannot run script or reach the network."""
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = SANDBOX_CSP
    return response


def _width() -> int:
    return WIDTHS.get(request.args.get("width", ""), WIDTHS["desktop"])


def _one(name: str, locale: str) -> Preview:
    payload = case_payload(name, locale)
    preview, problem = try_preview(json.dumps(payload), canonical_locale(locale))
    if preview is None:
        assert problem is not None
        abort(
            Response(
                render_template(
                    "error.html", title="Cannot render", message=problem.message, problem=problem
                ),
                422,
            )
        )
    return preview


@bp.get("/")
def index() -> str:
    return render_template("index.html", cases=list(cases()), locales=LOCALES)


def eml_name(case: str, locale: str) -> str:
    """``card_declined.zh_TW.eml``: the case and locale, in characters safe in a header."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", case).strip("-")[:60] or "event"
    return f"{stem}.{locale}.eml"


@bp.get("/favicon.ico")
def favicon() -> Response:
    """A tiny icon, so browsers stop asking for one that is not there."""
    return Response(FAVICON, mimetype="image/svg+xml")


@bp.get("/preview/<name>/<locale>")
def show(name: str, locale: str) -> str:
    preview = _one(name, locale)
    locale = canonical_locale(locale) or locale
    return render_template(
        "preview.html",
        name=name,
        locale=locale,
        preview=preview,
        width=_width(),
        widths=WIDTHS,
        locales=LOCALES,
    )


@bp.get("/preview/<name>/<locale>/mail.html")
def mail_html(name: str, locale: str) -> Response:
    return sandboxed(_one(name, locale).rendered.html)


@bp.get("/preview/<name>/<locale>/notice.eml")
def mail_eml(name: str, locale: str) -> Response:
    return eml_response(_one(name, locale).eml, eml_name(name, canonical_locale(locale) or locale))


def eml_response(data: bytes, filename: str) -> Response:
    response = Response(data, mimetype="message/rfc822")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/preview/<name>")
def both(name: str) -> str:
    previews = {locale: _one(name, locale) for locale in LOCALES}
    return render_template(
        "compare.html", name=name, previews=previews, width=_width(), widths=WIDTHS
    )


@bp.route("/editor", methods=["GET", "POST"])
def editor() -> tuple[str, int]:
    locale = request.values.get("locale") or None
    if locale is not None and locale not in LOCALES:
        locale = None
    if request.method == "GET":
        name = request.args.get("case") or next(iter(cases()), "")
        payload = case_payload(name, locale or LOCALES[0]) if name else {}
        text = json.dumps(payload, ensure_ascii=False, indent=2)
    else:
        text = request.form.get("event", "")
    preview, problem = try_preview(text, locale)
    return render_template(
        "editor.html",
        text=text,
        locale=locale or "",
        locales=LOCALES,
        preview=preview,
        problem=problem,
        width=_width(),
        widths=WIDTHS,
        cases=list(cases()),
        case=request.values.get("case", ""),
    ), 200 if preview else 422


@bp.post("/editor/notice.eml")
def editor_eml() -> Response | tuple[str, int]:
    locale = request.form.get("locale") or None
    preview, problem = try_preview(
        request.form.get("event", ""), locale if locale in LOCALES else None
    )
    if preview is None:
        return render_template(
            "error.html",
            title="Cannot render",
            message=problem.message if problem else "",
            problem=problem,
        ), 422
    case = request.form.get("case", "")
    return eml_response(preview.eml, eml_name(case, preview.rendered.locale))
