"""The rule table applied to the facts of one input: ranked findings with their evidence."""

from __future__ import annotations

from typing import Any

from espmon.diagnose.facts import Facts
from espmon.diagnose.guide import GUIDE, for_chip, section_name
from espmon.diagnose.rules import RULES, Rule

__all__ = ["findings", "advice_text"]


def advice_text(rule: Rule, facts: Facts | None = None) -> str:
    """The guide's words for a rule (its first section, then 'See also' the others), for the chip."""
    chip = facts.chip if facts is not None else None
    if not rule.sections:
        return rule.advice
    first, *others = rule.sections
    text = for_chip(GUIDE[first], chip)
    for key in others:
        text += f" See also \u201c{section_name(key)}\u201d: {for_chip(GUIDE[key], chip)}"
    return text


def findings(facts: Facts) -> list[dict[str, Any]]:
    """Each rule that fires, in the table's order (the likeliest cause first)."""
    out = []
    for rule in RULES:
        present = [key for key in rule.needs if key in facts.evidence]
        if not present:
            continue
        if rule.unless and facts.has(*rule.unless):
            continue
        if rule.when is not None and not rule.when(facts):
            continue
        detail = rule.detail(facts) if rule.detail is not None else None
        cause = rule.cause + (f" ({detail})" if detail else "")
        out.append({
            "rule": rule.id, "title": rule.title, "cause": cause, "advice": advice_text(rule, facts),
            "guide_section": section_name(rule.sections[0]) if rule.sections else "",
            "evidence": facts.lines(*present)[:50],
        })
    return out
