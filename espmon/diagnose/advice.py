"""What esptool's troubleshooting guide says to try, for an error text alone.

``espmon decode`` (the session story) and the flash engine have only words: esptool's
error, or the evidence espmon found. This is the rule table (``espmon.diagnose.rules``)
over those words: the first rule whose ``text`` pattern matches gives its guide sections.
"""

from __future__ import annotations

from espmon.diagnose.guide import GUIDE, section_name
from espmon.diagnose.rules import RULES

__all__ = ["advice_for", "rule_for"]


def rule_for(*texts: str | None) -> str | None:
    """The id of the rule the first matching text falls under, or None."""
    for text in texts:
        if not text:
            continue
        for rule in RULES:
            if rule.text is not None and rule.sections and rule.text.search(text):
                return rule.id
    return None


def advice_for(*texts: str | None) -> list[dict[str, str]]:
    """The guide's advice for the first text that matches a rule, or ``[]``."""
    rule_id = rule_for(*texts)
    if rule_id is None:
        return []
    from espmon.diagnose.rules import RULES_BY_ID

    return [{"section": section_name(key), "text": GUIDE[key]} for key in RULES_BY_ID[rule_id].sections]
