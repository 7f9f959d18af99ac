"""Column roles: what each column of the data is, inferred before training and overridable in the
``data`` config group (``data.roles: {column: role}``).

Roles: ``numeric``, ``boolean``, ``datetime`` and ``categorical`` columns are features; ``id``,
``text`` and ``ignore`` columns are left out. Inference, per column (the target excepted):

1. ``data.roles`` names the role, or ``data.drop_columns`` lists the column (``ignore``);
2. booleans (``true/false``, ``yes/no`` in any case, gaps allowed) -> ``boolean``;
3. numbers, once missing-value tokens (``data.missing_values``) are read as missing -> ``numeric``,
   except a whole-number column whose values are distinct and consecutive (a row number) -> ``id``;
4. ISO 8601 dates or date-times (every value) -> ``datetime``: a numeric feature, seconds since
   1970-01-01 UTC (set the role ``ignore`` to leave it out);
5. other text: a value on every row, all distinct -> ``id`` (one word each) or ``text``; an average
   of at least three words, or more than half the values distinct -> ``text``; else ``categorical``.

Rules 5's "all distinct" and "half distinct" apply from :data:`MIN_ROWS` rows on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from gitmlops.errors import ConfigError, DataError
from gitmlops.serve.values import FALSE_TOKENS, ISO_DATETIME, MISSING_TOKENS, TRUE_TOKENS

ROLES = ("id", "datetime", "text", "categorical", "numeric", "boolean", "ignore")
FEATURE_ROLES = ("numeric", "boolean", "datetime", "categorical")
MIN_ROWS = 20
#: Written by prepare next to train/test.parquet; train copies it into schema.json.
ROLES_FILE = "roles.json"
#: What evaluate and serving do with a category value not seen in training (``data.unseen_categories``).
UNSEEN_RULES = ("missing", "strict")
TEXT_MIN_WORDS = 3.0
_SAMPLE = 10_000


@dataclass(frozen=True)
class ColumnRole:
    """One row of the role table."""

    name: str
    role: str
    used: bool
    source: str  # inferred | data.roles | data.drop_columns
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (roles.json, schema.json, `--json`)."""
        return asdict(self)


def missing_tokens(data: dict[str, Any]) -> list[str]:
    """``data.missing_values`` (a list of strings), or pandas' defaults plus ``?``."""
    tokens = data.get("missing_values")
    if tokens is None:
        return list(MISSING_TOKENS)
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise ConfigError("data.missing_values must be a list of strings", "e.g. data.missing_values=['?','NA']")
    return list(tokens)


def unseen_rule(data: dict[str, Any]) -> str:
    """``data.unseen_categories``: ``missing`` (the default, as XGBoost does) or ``strict``."""
    rule = data.get("unseen_categories") or "missing"
    if rule not in UNSEEN_RULES:
        raise ConfigError(f"data.unseen_categories={rule!r} is not a rule", f"use one of: {', '.join(UNSEEN_RULES)}")
    return str(rule)


def check_data_settings(data: dict[str, Any]) -> None:
    """``data.roles``, ``data.missing_values`` and ``data.unseen_categories`` checked (ConfigError)."""
    roles = data.get("roles") or {}
    if not isinstance(roles, dict):
        raise ConfigError("data.roles must map column names to roles", f"roles are: {', '.join(ROLES)}")
    for column, role in roles.items():
        if role not in ROLES:
            raise ConfigError(f"data.roles.{column}: unknown role {role!r}", f"roles are: {', '.join(ROLES)}")
    missing_tokens(data)
    unseen_rule(data)


def _explicit(data: dict[str, Any], columns: list[str], target: str) -> dict[str, tuple[str, str]]:
    check_data_settings(data)
    roles = data.get("roles") or {}
    chosen: dict[str, tuple[str, str]] = {}
    for column in data.get("drop_columns") or []:
        if column != target:
            chosen[str(column)] = ("ignore", "data.drop_columns")
    for column, role in roles.items():
        if column == target:
            raise ConfigError(f"data.roles names the target column {column!r}", "the target has no role; remove it")
        chosen[str(column)] = (str(role), "data.roles")
    unknown = sorted(c for c in chosen if c not in columns)
    if unknown:
        raise DataError(f"data.roles/data.drop_columns name unknown columns: {', '.join(unknown)}",
                        f"columns are: {', '.join(columns)}")
    return chosen


def _is_bool_values(values: Any) -> bool:
    for v in values:
        if isinstance(v, bool):
            continue
        if not isinstance(v, str) or v.strip().lower() not in (TRUE_TOKENS | FALSE_TOKENS) - {"1", "0"}:
            return False
    return True


def _infer(col: Any) -> tuple[str, str]:
    import pandas as pd

    n = len(col)
    present = col.dropna() if col.hasnans else col  # (dropna copies the column)
    if present.empty:
        return "ignore", "no values"
    if pd.api.types.is_bool_dtype(col):
        return "boolean", "true/false values"
    if pd.api.types.is_datetime64_any_dtype(col):
        return "datetime", "dates -> seconds since 1970-01-01 UTC"
    if pd.api.types.is_numeric_dtype(col):
        if pd.api.types.is_integer_dtype(present) and n >= MIN_ROWS and present.is_unique and len(present) == n \
                and int(present.max()) - int(present.min()) == n - 1:
            return "id", "distinct consecutive whole numbers (a row number)"
        return "numeric", "numbers"
    uniques = pd.unique(present)
    if _is_bool_values(uniques):
        return "boolean", "true/false or yes/no values"
    as_numbers = pd.to_numeric(pd.Series(uniques), errors="coerce")
    if as_numbers.notna().all():
        return "numeric", "numbers written as text"
    texts = pd.Series(uniques).astype(str)
    if texts.str.match(ISO_DATETIME).all():
        return "datetime", "ISO 8601 dates -> seconds since 1970-01-01 UTC"
    sample = present.iloc[:_SAMPLE].astype(str)
    words = float(sample.str.split().str.len().mean())
    if n >= MIN_ROWS and len(present) == n and len(uniques) == n:
        if words >= TEXT_MIN_WORDS:
            return "text", f"free text: every value distinct, {words:.1f} words on average"
        return "id", "a distinct value on every row (ID-like)"
    if words >= TEXT_MIN_WORDS:
        return "text", f"free text: {words:.1f} words on average"
    if n >= MIN_ROWS and len(uniques) > n / 2:
        return "text", f"{len(uniques)} distinct values in {n} rows"
    return "categorical", f"{len(uniques)} categories"


def infer_roles(df: Any, target: str, data: dict[str, Any]) -> list[ColumnRole]:
    """The role of every column but the target (see the module docstring for the rules)."""
    columns = [str(c) for c in df.columns]
    chosen = _explicit(data, columns, target)
    table = []
    for name in columns:
        if name == target:
            continue
        if name in chosen:
            role, source = chosen[name]
            reason = "set in " + source
        else:
            (role, reason), source = _infer(df[name]), "inferred"
        table.append(ColumnRole(name, role, role in FEATURE_ROLES, source, reason))
    return table


def apply_roles(df: Any, target: str, table: list[ColumnRole]) -> Any:
    """The frame the model trains on: feature columns converted by role, the others left out."""
    import pandas as pd

    from gitmlops.serve.values import parse_bool

    out: dict[str, Any] = {}
    for entry in table:
        if not entry.used:
            continue
        col = df[entry.name]
        if entry.role == "numeric":
            out[entry.name] = col if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col) \
                else pd.to_numeric(col, errors="coerce")
        elif entry.role == "boolean":
            def to_bool(value: Any) -> Any:
                try:
                    return bool(parse_bool(value))
                except ValueError:
                    return pd.NA
            out[entry.name] = col.map(to_bool, na_action="ignore").astype("boolean")
        elif entry.role == "datetime":
            out[entry.name] = col if pd.api.types.is_datetime64_any_dtype(col) \
                else pd.to_datetime(datetime_seconds(col), unit="s", utc=True)
        elif pd.api.types.infer_dtype(col, skipna=True) == "string":  # text already: kept as it is
            out[entry.name] = col
        else:
            out[entry.name] = col.where(col.isna(), col.astype(str))
    out[target] = df[target]
    return pd.DataFrame(out, index=df.index, copy=False)


def datetime_seconds(col: Any) -> Any:
    """Seconds since 1970-01-01 UTC for a column of ISO 8601 text, parsed by serving's own rule
    (:func:`gitmlops.serve.values.parse_datetime`, once per distinct value); NaN where unparsable."""
    import pandas as pd

    from gitmlops.serve.values import parse_datetime

    def seconds(value: Any) -> float:
        try:
            return parse_datetime(value)
        except ValueError:
            return float("nan")

    present = col.dropna()
    lookup = {value: seconds(value) for value in pd.unique(present)}
    return col.map(lookup, na_action="ignore").astype("float64")


def role_table(table: list[dict[str, Any]]) -> str:
    """The role table as aligned text (printed by prepare and `gitmlops run`)."""
    rows = [(e["name"], e["role"], "yes" if e["used"] else "no", e["reason"]) for e in table]
    header = ("column", "role", "feature", "why")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(3)]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(r[:3], widths, strict=True)) + "  " + r[3]
             for r in [header, *rows]]
    return "\n".join(line.rstrip() for line in lines)


def left_out_warning(table: list[dict[str, Any]]) -> str | None:
    """A warning naming the ID-like and free-text columns inference left out (None when none)."""
    names = [f"{e['name']} ({e['role']})" for e in table if e["source"] == "inferred" and e["role"] in ("id", "text")]
    if not names:
        return None
    return (f"warning: left out of the features: {', '.join(names)}; "
            "to use one, set data.roles.COLUMN=categorical (or another role)")
