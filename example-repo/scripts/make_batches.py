"""Make "production" batches for the example project (deterministic; nothing downloaded).

    python scripts/make_batches.py            # data/production/normal.csv and drifted.csv

`normal.csv` comes from the same distribution as the training data; `drifted.csv` is drifted on
purpose (monthly charges shifted by about one standard deviation, a different mix of plans), so
`gitmlops monitor diff` has something to find.
"""

from __future__ import annotations

import argparse

from gitmlops.example import write_csv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--out", default="data/production")
    args = parser.parse_args()
    normal = write_csv(f"{args.out}/normal.csv", n_rows=args.rows, seed=101)
    drifted = write_csv(f"{args.out}/drifted.csv", n_rows=args.rows, seed=102, drifted=True)
    print(f"wrote {normal} and {drifted}")


if __name__ == "__main__":
    main()
