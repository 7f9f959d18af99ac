"""gitmlops: MLOps where git is the source of truth.

Importing this package is cheap on purpose: heavy libraries (dvc, hydra, xgboost, whylogs,
litserve, pandas) are imported only inside the functions that need them.
"""

__version__ = "0.1.0"
