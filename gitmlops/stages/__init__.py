"""Built-in pipeline stages for tabular data: ``python -m gitmlops.stages prepare|train|evaluate``.

They read their settings from params.yaml (the composed config) in the working directory, so a user
needs no code: point ``data.path`` at a DVC-tracked CSV/Parquet file or folder and ``data.target`` at
the label column.
"""

from __future__ import annotations

from typing import Any


def check_config(config: dict[str, Any]) -> None:
    """Fail fast, before any stage runs, on settings the built-in stages would reject (a ConfigError
    names the key): the data engine, the training backend, the XGBoost parameters and, when Dask is
    used, the cluster."""
    from gitmlops.stages.dask_prepare import wants_dask_prepare
    from gitmlops.stages.dask_train import dask_settings, wants_dask
    from gitmlops.stages.params import check_params
    from gitmlops.stages.roles import check_data_settings

    engine_on_dask = wants_dask_prepare(config)  # both run: each validates its own key
    backend_on_dask = wants_dask(config)
    if engine_on_dask or backend_on_dask:
        dask_settings(config)
    check_data_settings(config.get("data") or {})
    check_params(config)
