"""Entry point: ``python -m gitmlops.stages prepare|train|evaluate [--params params.yaml]``."""

from __future__ import annotations

import argparse
import sys

from gitmlops.errors import GitMLOpsError

STAGES = ("prepare", "train", "evaluate")


def main(argv: list[str] | None = None) -> int:
    """Run one built-in stage; errors are printed as one line and exit 2."""
    parser = argparse.ArgumentParser(prog="python -m gitmlops.stages", description=__doc__)
    parser.add_argument("stage", choices=STAGES)
    parser.add_argument("--params", default="params.yaml", help="the composed config (default: params.yaml)")
    args = parser.parse_args(argv)
    try:
        if args.stage == "prepare":
            from gitmlops.stages.prepare import prepare as run
        elif args.stage == "train":
            from gitmlops.stages.train import train as run
        else:
            from gitmlops.stages.evaluate import evaluate as run
        summary = run(args.params)
    except GitMLOpsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
