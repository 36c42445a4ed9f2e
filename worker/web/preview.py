"""Template previews: every sample case in every locale, and an editor for one's own event."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, Response, abort, render_template, request

from worker.render import samples
from worker.render.context import StepInfo
from worker.render.i18n import LANG_TAGS
from worker.web.building import Preview, try_preview
from worker.web.security import SANDBOX_CSP

bp = Blueprint("preview", __name__)

#: The locales every case is shown in, in this order.
LOCALES = ("zh_TW", "en")
WIDTHS = {"desktop": 600, "tablet": 768, "phone": 375}
#: Older links said ``?width=mobile``.
WIDTH_ALIASES = {"mobile": "phone"}
#: The page icon: a small SVG (browsers ask for /favicon.ico on every page).
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<rect width="16" height="16" rx="3" fill="#0b57d0"/>'
    '<path d="M3 5h10v7H3z" fill="none" stroke="#fff" stroke-width="1.5"/>'
    '<path d="M3 5l5 4 5-4" fill="none" stroke="#fff" stroke-width="1.5"/></svg>'
)


def cases() -> dict[str, dict[str, Any]]:
    """The shipped sample cases, then each sample sequence step (read on every request,
    so edits show at once)."""
    return {**samples.cases(), **{k: v[0] for k, v in samples.step_cases().items()}}


def case_step(name: str) -> StepInfo | None:
    """The sequence step a sample renders (None: a first notice)."""
    found = samples.step_cases().get(name)
    return found[1] if found else None


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


def sandboxed(html: str) -> Response:
    """Notice HTML, served so that it cannot run script or reach the network."""
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = SANDBOX_CSP
    return response


def _width() -> int:
    name = request.args.get("width", "")
    return WIDTHS.get(WIDTH_ALIASES.get(name, name), WIDTHS["desktop"])


def _one(name: str, locale: str) -> Preview:
    payload = case_payload(name, locale)
    preview, problem = try_preview(json.dumps(payload), canonical_locale(locale), case_step(name))
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


def step_name(name: str) -> str:
    """Which step of a sequence a case previews: ``first``, ``reminder 1``, ``final``,
    ``disabled``."""
    step = case_step(name)
    if step is None:
        return "first"
    return f"{step.step} {step.step_no}" if step.step == "reminder" else step.step


def subjects() -> dict[str, dict[str, str]]:
    """Each case's subject in each locale ("" when it does not render)."""
    out: dict[str, dict[str, str]] = {}
    for name in cases():
        out[name] = {}
        for locale in LOCALES:
            preview, _ = try_preview(
                json.dumps(case_payload(name, locale)), locale, case_step(name)
            )
            out[name][locale] = preview.rendered.subject if preview else ""
    return out


@bp.get("/")
def index() -> str:
    query = request.args.get("q", "").strip()
    found = subjects()
    if query:
        wanted = query.casefold()
        found = {
            name: subj
            for name, subj in found.items()
            if wanted in " ".join([name, step_name(name), *subj.values()]).casefold()
        }
    return render_template(
        "index.html",
        cases=list(found),
        subjects=found,
        steps={name: step_name(name) for name in found},
        locales=LOCALES,
        query=query,
    )


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
