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


# Events that never make a finding on their own (the bulk of a log): skipped before any work.
_QUIET = frozenset({"LogLine", "RomBanner", "RomBuild", "RomLoad", "RomEntry", "RomFlashMode", "SavedPC", "ElfSha256",
                    "AppLoaded", "BootloaderStart", "Rebooting", "Backtrace", "GuruMeditation", "Abort",
                    "AssertFailed", "StackOverflow", "StackSmashing", "HeapCorruption", "CpuHalted",
                    "Esp8266Exception", "BootLoop"})


def guide_for_event(event: Any, chip: Any = None) -> tuple[str, str] | None:
    """(rule id, guide section) of the rule one device event makes fire on its own, for the
    console's note under that line; None for most events. (A panic is judged once whole:
    its ``Panic`` event, not the header lines that come before it.)"""
    if type(event).__name__ in _QUIET:
        return None
    facts = Facts()
    facts.add_device(event, chip)
    # a reset line alone says a brownout or a strap, not why the boot before it ended
    reset = type(event).__name__ in ("ResetInfo", "Esp8266Reset")
    for finding in findings(facts):
        if reset and finding["rule"] not in ("brownout", "download-mode"):
            continue
        if finding["guide_section"]:
            return finding["rule"], finding["guide_section"]
    return None
