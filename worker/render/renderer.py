"""The renderer: one event through the templates and catalogs to subject, text and HTML."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from worker.errors import TemplateProblem
from worker.intake.events import Event
from worker.render.context import StepInfo, build_context, layout_context, without_bidi
from worker.render.i18n import LANG_TAGS, negotiate, translations
from worker.render.inline import Placeholders, inline_css
from worker.render.textwrap_cjk import Helpers
from worker.resources import resource_dir
from worker.settings import Settings

SUBJECT_MAX = 78


@dataclass(frozen=True)
class Rendered:
    """One notice as it will be sent."""

    locale: str  #: the catalog used: "en" or "zh_TW"
    lang: str  #: the BCP 47 tag of that locale: "en" or "zh-TW"
    subject: str
    text: str
    html: str


class Renderer:
    """Renders notices; one Jinja2 environment per locale, templates reloaded when edited."""

    def __init__(
        self, settings: Settings, template_dir: Path | None = None, cache_layouts: bool = True
    ) -> None:
        self.settings = settings
        self.template_dir = template_dir or resource_dir("templates")
        #: Inline each layout once (see worker.render.inline); off, every mail goes to premailer.
        self.cache_layouts = cache_layouts
        self._envs: dict[str, jinja2.Environment] = {}
        self._lock = threading.Lock()

    def environment(self, locale: str) -> jinja2.Environment:
        trans = translations(locale)
        with self._lock:
            env = self._envs.get(locale)
            if env is None or getattr(env, "_catalog", None) is not trans:
                env = jinja2.Environment(
                    loader=jinja2.FileSystemLoader(str(self.template_dir)),
                    # .html is escaped; .txt is plain text, which no mail client interprets.
                    autoescape=jinja2.select_autoescape(
                        enabled_extensions=("html", "htm", "xml", "html.j2"),
                        default_for_string=True,
                        default=False,
                    ),
                    undefined=jinja2.StrictUndefined,
                    extensions=["jinja2.ext.i18n"],
                    trim_blocks=True,
                    lstrip_blocks=True,
                    auto_reload=True,
                )
                env.install_gettext_translations(trans, newstyle=True)  # type: ignore[attr-defined]
                # Wrapping in Python: the same loop as a Jinja macro cost milliseconds.
                env.globals["w"] = Helpers
                env._catalog = trans  # type: ignore[attr-defined]
                self._envs[locale] = env
            return env

    def render(
        self, event: Event, locale: str | None = None, step: StepInfo | None = None
    ) -> Rendered:
        """Render ``event`` in ``locale`` (default: negotiated from the event), as the
        sequence ``step`` (default: the first notice)."""
        chosen = negotiate(locale if locale is not None else event.locale)
        event = without_bidi(event)
        env = self.environment(chosen)
        context = build_context(event, chosen, self.settings, step)
        # Reminders and the final notice say so in the subject; the others keep theirs.
        subject_template = (
            "step_subject.txt" if context["step"] in ("reminder", "final") else "subject.txt"
        )
        try:
            subject = env.get_template(subject_template).render(context)
            text = env.get_template("notice.txt").render(context)
            html = self._html(env, event, context)
        except jinja2.TemplateError as exc:
            where = (
                f" ({exc.name}, line {exc.lineno})"
                if isinstance(exc, jinja2.TemplateSyntaxError)
                else ""
            )
            raise TemplateProblem(f"template error{where}: {exc}") from exc
        return Rendered(
            locale=chosen,
            lang=LANG_TAGS[chosen],
            subject=clean_subject(subject),
            text=tidy_text(text),
            html=html,
        )

    def _html(self, env: jinja2.Environment, event: Event, context: dict[str, Any]) -> str:
        template = env.get_template("notice.html")
        if self.cache_layouts:
            ph = Placeholders()
            layout = template.render(layout_context(event, context, ph))
            html = ph.inline(layout)
            if html is not None:
                return html
        return inline_css(template.render(context))


def clean_subject(subject: str) -> str:
    """One line, no control characters, at most SUBJECT_MAX characters."""
    line = " ".join("".join(c if c.isprintable() else " " for c in subject).split())
    if len(line) > SUBJECT_MAX:
        line = line[: SUBJECT_MAX - 1].rstrip() + "…"
    return line


def tidy_text(text: str) -> str:
    """Trailing spaces off, at most one blank line in a row, one final newline."""
    lines = [line.rstrip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip("\n") + "\n"
