"""Adapters: the only modules that import GitPython (`git_repo`) and DVC (`dvc_repo`, with `dvc_remote`
turning remote failures into RemoteError)."""
