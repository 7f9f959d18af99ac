"""Adapters: the only modules that run git (`git_repo`, the ``git`` program) and import DVC (`dvc_repo`,
with `dvc_remote` turning remote failures into RemoteError)."""
