"""How a raw value of a feature becomes the number the booster sees: the rules the built-in stages
apply to data files and serving applies to request values, so both give the same number.

- missing-value tokens (pandas' defaults plus ``?``; ``data.missing_values`` replaces them): such a
  string is a missing value for every feature;
- booleans: ``true``/``false``, ``1``/``0``, ``yes``/``no`` (any case, as JSON booleans, numbers or
  strings) -> 1.0/0.0;
- datetimes: ISO 8601 text (``2024-05-01``, ``2024-05-01T13:45:00``, optional ``Z`` or ``+02:00``)
  -> seconds since 1970-01-01 UTC (a time without an offset is taken as UTC).

Runtime module: carried by deploy bundles (standard library only).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

#: pandas' default missing-value strings (``pandas.read_csv``) plus ``?``.
MISSING_TOKENS = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>",
    "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null", "?",
)
TRUE_TOKENS = frozenset({"true", "1", "yes"})
FALSE_TOKENS = frozenset({"false", "0", "no"})
#: ISO 8601 dates with an optional time and UTC offset: what the datetime role reads.
ISO_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?(?:Z|[+-]\d{2}:?\d{2})?$"
)


def parse_bool(value: object) -> float:
    """1.0/0.0 for a boolean in any accepted spelling; ValueError otherwise."""
    if value is True or value is False:
        return float(value)
    if type(value) in (int, float) and value in (0, 1):
        return float(value)  # type: ignore[arg-type]
    if isinstance(value, str):
        text = value.strip().lower()
        if text in TRUE_TOKENS:
            return 1.0
        if text in FALSE_TOKENS:
            return 0.0
    raise ValueError("expected true/false, 1/0 or yes/no")


def parse_datetime(value: object) -> float:
    """Seconds since 1970-01-01 UTC for ISO 8601 text; ValueError otherwise."""
    if not isinstance(value, str) or not ISO_DATETIME.match(value.strip()):
        raise ValueError("expected an ISO 8601 date or date-time string such as 2024-05-01T13:45:00")
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    if "." in text:  # fromisoformat takes at most 6 fractional digits
        head, _, rest = text.partition(".")
        digits = re.match(r"\d+", rest)
        frac = digits.group(0) if digits else ""
        text = f"{head}.{(frac + '000000')[:6]}{rest[len(frac):]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a valid date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
