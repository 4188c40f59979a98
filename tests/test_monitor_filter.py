"""--print-filter: esp-idf-monitor's semantics."""

from __future__ import annotations

import pytest

from espmon.errors import UserError
from espmon.monitor.print_filter import PrintFilter


@pytest.mark.parametrize(
    "spec, line, shown",
    [
        ("wifi:W", "W (10) wifi: weak", True),
        ("wifi:W", "I (10) wifi: connected", False),
        ("wifi:W", "I (10) boot: hello", False),  # only the listed tags
        ("wifi:W", "plain text", False),
        ("wifi:I *:E", "E (1) boot: bad", True),
        ("wifi:I *:E", "W (1) boot: meh", False),
        ("wifi:I *:E", "plain text", True),
        ("*:N", "plain text", False),
        ("boot", "V (1) boot: very verbose", True),
        ("app:D", "D (12:34:56.789) app: system time stamp", True),
        ("app:I", "D (12:34:56.789) app: system time stamp", False),
    ],
)
def test_filter(spec, line, shown):
    assert PrintFilter(spec).match(line) is shown


@pytest.mark.parametrize("spec", [":W", "wifi:Q", "a:b:c"])
def test_bad_filter_is_a_user_error(spec):
    with pytest.raises(UserError, match="--print-filter"):
        PrintFilter(spec)
