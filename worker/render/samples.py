"""The shipped sample events: the cases, and the sequence steps rendered from them.

samples/cases.json holds the cases; samples/steps.json renders some of them as a
reminder, a final or a disabled notice.
"""

from __future__ import annotations

import json
from typing import Any

from worker.render.context import StepInfo
from worker.resources import resource_dir


def cases() -> dict[str, dict[str, Any]]:
    """The sample cases (read on every call, so edits show at once)."""
    path = resource_dir("samples") / "cases.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    return {str(k): v for k, v in data.items() if isinstance(v, dict)}


def step_cases() -> dict[str, tuple[dict[str, Any], StepInfo]]:
    """Each sample step: its event (a case with the step's fields) and the step."""
    path = resource_dir("samples") / "steps.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    base = cases()
    out: dict[str, tuple[dict[str, Any], StepInfo]] = {}
    for name, spec in data.items():
        if not isinstance(spec, dict) or spec.get("case") not in base:
            continue
        event = {**base[spec["case"]], **spec.get("event", {})}
        step = StepInfo(
            str(spec.get("step", "first")),
            int(spec.get("step_no", 1)),
            spec.get("days_past_due"),
        )
        out[str(name)] = (event, step)
    return out
