"""Built-in pipeline stages for tabular data: ``python -m gitmlops.stages prepare|train|evaluate``.

They read their settings from params.yaml (the composed config) in the working directory, so a user
needs no code: point ``data.path`` at a DVC-tracked CSV/Parquet file or folder and ``data.target`` at
the label column.
"""
