"""The bundled example: a deterministic synthetic customer-churn data set (nothing downloaded).

``generate(n, seed)`` always returns the same rows for the same arguments, so the example pipeline
and its tests are reproducible. ``drifted=True`` makes a "production" batch that differs on purpose:
higher monthly charges (+1 standard deviation) and a different mix of plans.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PLANS = ["basic", "standard", "premium"]
REGIONS = ["north", "south", "east", "west"]
TARGET = "churned"
DEFAULT_ROWS = 4000


def generate(n_rows: int = DEFAULT_ROWS, seed: int = 0, drifted: bool = False) -> Any:
    """A pandas DataFrame of ``n_rows`` customers with a binary ``churned`` label."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    plan_p = [0.2, 0.3, 0.5] if drifted else [0.5, 0.3, 0.2]
    plan = rng.choice(PLANS, size=n_rows, p=plan_p)
    region = rng.choice(REGIONS, size=n_rows, p=[0.3, 0.3, 0.2, 0.2])
    tenure = rng.integers(1, 73, size=n_rows)
    base_charge = np.select([plan == "basic", plan == "standard"], [30.0, 55.0], 85.0)
    charges = base_charge + rng.normal(0.0, 12.0, size=n_rows)
    if drifted:
        charges = charges + 25.0  # about one standard deviation of the column
    support_calls = rng.poisson(1.5, size=n_rows)
    usage = rng.gamma(2.0, 20.0, size=n_rows)
    usage[rng.random(n_rows) < 0.05] = np.nan  # some meters never report
    logit = (
        -1.0
        - 0.05 * tenure
        + 0.03 * (charges - 55.0)
        + 0.45 * support_calls
        + np.where(plan == "premium", -0.6, 0.0)
        + np.where(region == "south", 0.4, 0.0)
    )
    churned = (rng.random(n_rows) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    return pd.DataFrame(
        {
            "customer_id": [f"C{seed:03d}{i:06d}" for i in range(n_rows)],
            "tenure_months": tenure,
            "monthly_charges": np.round(charges, 2),
            "support_calls": support_calls,
            "usage_gb": np.round(usage, 3),
            "plan": plan,
            "region": region,
            TARGET: churned,
        }
    )


def write_csv(path: str | Path, n_rows: int = DEFAULT_ROWS, seed: int = 0, drifted: bool = False) -> Path:
    """Write :func:`generate` output as CSV (byte-identical for the same arguments)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    generate(n_rows, seed, drifted).to_csv(path, index=False, lineterminator="\n")
    return path


def main(argv: list[str] | None = None) -> None:
    """``python -m gitmlops.example OUT.csv [--rows N] [--seed S] [--drifted]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m gitmlops.example", description=main.__doc__)
    parser.add_argument("output")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--drifted", action="store_true", help="shift charges and plan mix on purpose")
    args = parser.parse_args(argv)
    write_csv(args.output, args.rows, args.seed, args.drifted)


if __name__ == "__main__":
    main()
