"""Reproducibility and lineage: `verify` (rebuild a registered model and compare it byte for byte),
`lineage` (the chain behind one model version) and `status` (one screen for the repository).

Importing this package is cheap: DVC, whylogs and the registry are imported by the functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what __getattr__ returns, for type checkers (imported lazily at run time)
    from gitmlops.lineage.overview import status
    from gitmlops.lineage.reproduce import verify
    from gitmlops.lineage.trace import lineage

__all__ = ["lineage", "status", "verify"]


def __getattr__(name: str) -> Any:
    # Each command imports only its own module, so `gitmlops status` does not load verify's imports.
    if name == "verify":
        from gitmlops.lineage.reproduce import verify

        return verify
    if name == "lineage":
        from gitmlops.lineage.trace import lineage

        return lineage
    if name == "status":
        from gitmlops.lineage.overview import status

        return status
    raise AttributeError(f"module 'gitmlops.lineage' has no attribute {name!r}")
