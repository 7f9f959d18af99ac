"""Adapters: the only modules that import GitPython (`git_repo`) and DVC (`dvc_repo`)."""
