"""What the ops forms say and show: replay refusals in the form's words, payloads to edit."""

from __future__ import annotations

import json

from worker.errors import InvalidEvent
from worker.intake.addresses import normalize_address
from worker.notices.replay import check_replay
from worker.web.state import state

#: The replay refusals that name the CLI's option, said for the form on the timeline.
_WEB_WORDING = {
    "replay only with --to a corrected address": (
        "replay only with a corrected address in the To field"
    ),
    "--to is the address that bounced": "the To field holds the address that bounced",
}


def web_wording(message: str) -> str:
    """A replay refusal in the words of the web form rather than the CLI's ``--to``."""
    for cli, web in _WEB_WORDING.items():
        message = message.replace(cli, web)
    return message


def replay_refusal(record: dict[str, str], to: str | None) -> str | None:
    """Why the web form may not replay this notice (to ``to``), before anyone confirms."""
    new_to: str | None = None
    if to:
        try:
            new_to = normalize_address(to, "to")
        except InvalidEvent as exc:
            return exc.reason
    problem = check_replay(state().pipeline(), record, new_to)
    return web_wording(problem) if problem else None


def pretty_payload(text: str) -> str:
    """A dead letter's payload indented when it is JSON; as stored when it is not."""
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, indent=2)
    except ValueError:
        return text
