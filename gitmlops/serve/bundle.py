"""`gitmlops deploy bundle`: a self-contained folder that serves model versions anywhere.

Layout::

    model.ubj, schema.json, metadata.json   the model, its feature schema, where it came from
      (several models: models/NAME/ holds them for each, listed in models.json)
    gitmlops_serve/                         the serving runtime (RUNTIME_MODULES, copied verbatim) and
                                            gitmlops' profile format (FORMAT_MODULES, for --profile-dir)
    serve_app.py                            `python serve_app.py --port 8000`
    requirements.txt                        pinned to the versions this bundle was built and tested with
    Dockerfile                              python:<same minor>-slim, non-root, HEALTHCHECK on /health

It needs no git repository, no DVC and no gitmlops: the runtime modules import only each other,
the standard library and the pinned packages.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path

from gitmlops.errors import ServeError
from gitmlops.serve.model import MANIFEST_FILE, METADATA_FILE, MODEL_FILE, SCHEMA_FILE, Bundle, BundleError
from gitmlops.serve.source import open_bundles, ref_name, serve_error

APP_FILE = "serve_app.py"
PACKAGE = "gitmlops_serve"
RUNTIME_MODULES = (
    "values.py",
    "refusal.py",
    "schema.py",
    "model.py",
    "metrics.py",
    "transport.py",
    "worker.py",
    "formats.py",
    "openapi.py",
    "served.py",
    "front.py",
    "limits.py",
    "fast.py",
    "stock.py",
    "api.py",
    "profiling.py",
    "server.py",
    "entry.py",
)
#: gitmlops.monitor's writer of whylogs-format profiles (datasketches and protobuf, no whylogs), which
#: the runtime's request profiling uses in a bundle; they import only each other.
FORMAT_MODULES = ("profile_format.py", "profile_build.py")
#: Distributions the runtime imports, pinned in requirements.txt at the versions installed here.
REQUIREMENTS = (
    "litserve",
    "fastapi",
    "uvicorn",
    "uvloop",
    "httptools",
    "pyzmq",
    "orjson",
    "numpy",
    "xgboost",
    "pandas",
    "datasketches",
    "protobuf",
)

APP_TEMPLATE = '''"""Serve the model(s) of this bundle: python serve_app.py [--host 0.0.0.0] [--port 8000] [--help]."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

if __name__ == "__main__":  # LitServe's workers re-import this file; only the parent serves
    from gitmlops_serve.entry import main

    sys.exit(main(HERE))
'''

DOCKERFILE_TEMPLATE = """# Built by `gitmlops deploy bundle` for {label} (md5 {md5}).
FROM python:{python}-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 GITMLOPS_ENGINE={engine}
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd --system --no-create-home app
USER app
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \\
  CMD python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/health', timeout=2)"
CMD ["python", "serve_app.py", "--host", "0.0.0.0", "--port", "8000"]
"""


@dataclass
class BundledModel:
    """One model of a bundle: its URL name, NAME@vX.Y.Z and md5."""

    name: str
    model: str
    md5: str


@dataclass
class BundleResult:
    """What `deploy bundle` wrote (the `--json` shape, docs/serving.md); ``model`` and ``md5`` are
    the lone model's (several: the labels joined by ", ", and "")."""

    path: str
    model: str
    md5: str
    files: list[str] = field(default_factory=list)
    models: list[BundledModel] = field(default_factory=list)


def requirements() -> str:
    """requirements.txt: the runtime's distributions pinned to the installed versions."""
    lines = [f"# Pinned by `gitmlops deploy bundle` (Python {sys.version_info.major}.{sys.version_info.minor})."]
    for name in REQUIREMENTS:
        try:
            lines.append(f"{name}=={importlib_metadata.version(name)}")
        except importlib_metadata.PackageNotFoundError:
            raise ServeError(
                f"cannot pin {name}: it is not installed here",
                f"install it (`pip install {name}`) so the bundle can be pinned to a tested version",
            ) from None
    return "\n".join(lines) + "\n"


def build_bundle(
    repo: str, refs: str | list[str], output: str | Path, force: bool = False, engine: str = "fast"
) -> BundleResult:
    """Write the bundle of ``refs`` (one model, or several served together) into ``output``
    (atomically: all files or none).

    ``engine`` is the image's default serving engine (``GITMLOPS_ENGINE``, overridable at run time).
    """
    from gitmlops.serve.served import check_names, served_models
    from gitmlops.serve.server import ENGINES

    refs = [refs] if isinstance(refs, str) else list(refs)
    if not refs:
        raise ServeError("no model to bundle", "pass one or more of NAME#STAGE, NAME@vX.Y.Z or a folder")
    if engine not in ENGINES:
        raise ServeError(f"unknown engine {engine!r}", f"use one of {', '.join(ENGINES)}")
    named = [(ref, name) for ref in refs if (name := ref_name(ref)) is not None]
    try:
        check_names([name for _, name in named], [ref for ref, _ in named])
    except BundleError as exc:
        raise serve_error(exc) from None
    out = Path(output)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise ServeError(f"{out} already exists and is not empty", "pass --force to replace it, or -o NEW_DIR")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        fetch_dir = staging / ".fetch"
        bundles: list[Bundle] = []
        for i, ref in enumerate(refs):
            bundles += open_bundles(repo, ref, fetch_dir / str(i))
        try:
            served = served_models(bundles)
        except BundleError as exc:
            raise serve_error(exc) from None
        if len(served) == 1:
            _copy_model(served[0][1], staging)
        else:
            folders = [f"models/{name}" for name, _ in served]
            for folder, (_, bundle) in zip(folders, served, strict=True):
                _copy_model(bundle, staging / folder)
            manifest = {"format": 1, "models": [{"name": name, "folder": folder}
                                                for folder, (name, _) in zip(folders, served, strict=True)]}
            (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
        shutil.rmtree(fetch_dir, ignore_errors=True)
        package = staging / PACKAGE
        package.mkdir()
        here = Path(__file__).parent
        for name in RUNTIME_MODULES:
            shutil.copyfile(here / name, package / name)
        for name in FORMAT_MODULES:
            shutil.copyfile(here.parent / "monitor" / name, package / name)
        (package / "__init__.py").write_text('"""Serving runtime copied from gitmlops.serve by `gitmlops deploy bundle`."""\n')
        (staging / APP_FILE).write_text(APP_TEMPLATE)
        (staging / "requirements.txt").write_text(requirements())
        python = f"{sys.version_info.major}.{sys.version_info.minor}"
        label = ", ".join(b.info.label for b in bundles)
        md5 = ", ".join(str(b.info.md5) for b in bundles)
        (staging / "Dockerfile").write_text(
            DOCKERFILE_TEMPLATE.format(label=label, md5=md5, python=python, engine=engine)
        )
        files = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    models = [BundledModel(name=name, model=b.info.label, md5=b.info.md5 or "") for name, b in served]
    single = models[0] if len(models) == 1 else None
    return BundleResult(path=str(out), model=single.model if single else label, md5=single.md5 if single else "",
                        files=files, models=models)


def _copy_model(bundle: Bundle, folder: Path) -> None:
    """The model file, schema and metadata of one bundled model, into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(bundle.model_file, folder / MODEL_FILE)
    shutil.copyfile(bundle.root / SCHEMA_FILE, folder / SCHEMA_FILE)
    info = bundle.info.to_dict()
    (folder / METADATA_FILE).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
