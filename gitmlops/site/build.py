"""`gitmlops site build`: one static folder (HTML, one script, one stylesheet, the data as a script).

The pages are drawn in the browser from ``data.js`` (a ``<script>``, not a fetched JSON file, so
they work from ``file://`` as well as from GitHub Pages); nothing is loaded from the network. The
build cache (``.gitmlops-site-cache.json`` in the output folder) remembers what each commit holds
and each profile's verdict, so building again into the same folder redoes only what changed.
"""

from __future__ import annotations

import datetime
import json
import os
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from gitmlops.adapters.git_repo import GitRepo, open_repo
from gitmlops.config import flatten
from gitmlops.errors import SiteError
from gitmlops.models import Model
from gitmlops.site import models as facts
from gitmlops.site.monitoring import monitoring

CACHE_FILE = ".gitmlops-site-cache.json"
CACHE_VERSION = 2  # bumped whenever what a cached entry means changes
ASSETS = ("index.html", "app.js", "site.css")
DEFAULT_OUTPUT = "_site"
SECTIONS = ("models", "experiments", "plots", "monitoring", "lineage")


@dataclass
class SiteBuild:
    """What a build wrote (the `site build --json` shape, docs/json.md)."""

    output: str
    index: str
    sections: list[str]
    models: int
    versions: int
    events: int
    experiments: int
    datasets: int
    profiles: int
    commits_read: int  # commits read from git by this build (0 when all were cached)
    profiles_compared: int  # profiles compared by this build (0 when all verdicts were cached)
    seconds: float
    notes: list[str] = field(default_factory=list)


def _output(git: GitRepo, output: str | os.PathLike[str] | None) -> Path:
    out = Path(output) if output is not None else git.root / DEFAULT_OUTPUT
    out = out.resolve()
    if out.exists() and not out.is_dir():
        raise SiteError(f"{out} exists and is not a folder", "pass -o with a new or empty folder")
    if out == git.root or out in git.root.parents:
        raise SiteError(f"{out} holds the repository itself", f"pass -o with a folder of its own, e.g. -o {DEFAULT_OUTPUT}")
    if out.is_dir() and any(out.iterdir()) and not (out / CACHE_FILE).is_file():
        raise SiteError(f"{out} is not empty and holds no gitmlops site",
                        "pass -o with a new or empty folder (the build writes into it and keeps its cache there)")
    return out


def _load_cache(out: Path) -> dict[str, Any]:
    try:
        cache = json.loads((out / CACHE_FILE).read_text())
    except (OSError, ValueError):
        cache = {}
    if not isinstance(cache, dict) or cache.get("version") != CACHE_VERSION:
        cache = {"version": CACHE_VERSION}
    for key in ("commits", "schemas", "drift", "experiments", "lineage"):
        cache.setdefault(key, {})
    return cache


def script_json(value: Any) -> str:
    """``value`` as JSON that is safe inside a ``<script>`` element: ``</`` (which would end the
    element early, e.g. a tag message holding ``</script>``) is written as ``<\\/``, which JSON allows."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str).replace("</", "<\\/")


def _write(path: Path, text: str) -> None:
    """Write through a temporary file, so a viewer never sees half a page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _verify_reports(paths: list[str]) -> dict[str, dict[str, Any]]:
    """``NAME@VERSION`` -> verify outcome, from files `gitmlops verify REF --json` wrote."""
    found: dict[str, dict[str, Any]] = {}
    for path in paths:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise SiteError(f"cannot read the verify report {path}: {exc}",
                            "pass files written by `gitmlops verify REF --json > FILE`") from None
        if not isinstance(data, dict) or not {"name", "version", "reproduced"} <= set(data):
            raise SiteError(f"{path} is not a `gitmlops verify --json` report",
                            "pass files written by `gitmlops verify REF --json > FILE`")
        problems = [p.get("message") if isinstance(p, dict) else str(p) for p in data.get("problems") or []]
        found[f"{data['name']}@{data['version']}"] = {"reproduced": bool(data["reproduced"]),
                                                      "problems": problems, "report": Path(path).name}
    return found


def _lineage(git: GitRepo, commit: str, name: str, cache: dict[str, Any]) -> dict[str, Any]:
    """What a registration without gitmlops metadata (a GTO tag) would have recorded, read from the
    commit as `registry resolve` does; remembered per commit and artifact."""
    key = f"{commit}:{name}"
    if key not in cache:
        from gitmlops.errors import GitMLOpsError
        from gitmlops.registry.artifacts import artifact_at, lineage_metadata

        try:
            cache[key] = lineage_metadata(git, artifact_at(git, commit, name))
        except GitMLOpsError:
            cache[key] = {}
    return dict(cache[key])


def _unregistered(model: Model) -> dict[str, Any]:
    """A model of gitmlops.yaml with no registry event yet: listed with its folder, no versions."""
    return {"name": model.artifact, "latest": None, "greatest": None, "stages": {}, "deprecated": False,
            "versions": [], "counter": 0, "events": [], "timeline": {}}


def _models(git: GitRepo, cache: dict[str, Any], verified: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], int]:
    from gitmlops.models import list_models
    from gitmlops.registry.api import load
    from gitmlops.registry.settings import registry_settings
    from gitmlops.registry.tags import REGISTER

    artifacts = load(git, with_messages=True)
    settings = registry_settings(git.root)
    head = git.head_commit()
    # every model of gitmlops.yaml is on the site, registered or not; HEAD is read in each one's folder
    declared = {m.artifact: m for m in list_models(git)}
    bases = sorted({facts.artifact_base(n) for n in [*artifacts, *declared]} | {""})
    wanted = [(v.commit, facts.artifact_base(a.name)) for a in artifacts.values() for v in a.versions.values()]
    if head:
        wanted += [(head, b) for b in bases]
    before = len(cache["commits"])
    facts.commit_facts(git, wanted, cache["commits"])
    read = len(cache["commits"]) - before

    result = []
    md5s: set[str] = set()
    for artifact in artifacts.values():
        base = facts.artifact_base(artifact.name)
        model = declared.get(artifact.name)
        registrations = {e.tag: e for e in artifact.events if e.kind == REGISTER}
        versions = []
        for state in sorted(artifact.versions.values(), key=lambda v: v.position, reverse=True):
            event = registrations.get(state.tag or "")
            meta = (event.metadata if event is not None else None) or {}
            if state.tag and not isinstance(meta.get("artifact"), dict):
                meta = _lineage(git, state.commit, artifact.name, cache["lineage"])
            key = f"{state.commit}:{base}"
            found = meta.get("artifact")
            info: dict[str, Any] = found if isinstance(found, dict) else {}
            schema_md5 = facts.schema_md5(cache["commits"][key], info.get("path"), base)
            if schema_md5:
                md5s.add(schema_md5)
            metrics = meta.get("metrics")
            versions.append(state.to_dict() | {
                "author": event.author if event is not None else None,
                "commits_key": key,
                "artifact": {k: info.get(k) for k in ("path", "md5", "size")},
                "data": meta.get("deps") if isinstance(meta.get("deps"), dict) else {},
                "params_hash": meta.get("params_hash"),
                "metrics": flatten(metrics) if isinstance(metrics, dict) else {},
                "schema_md5": schema_md5,
                "verify": verified.get(f"{artifact.name}@{state.version}"),
            })
        summary = artifact.to_dict()
        result.append(summary | {
            "base": base,  # the model's folder: its params.yaml, dvc.yaml and monitoring/
            "model": model.name if model else None,  # its name in gitmlops.yaml
            "head": f"{head}:{base}" if head else None,  # what HEAD holds in that folder
            "active_versions": summary["versions"],
            "versions": versions,
            "events": [facts.event_row(e) for e in artifact.events],
            "timeline": facts.stage_timeline(artifact),
        })
    for name, model in declared.items():
        if name not in artifacts:
            base = facts.artifact_base(name)
            result.append(_unregistered(model) | {"base": base, "model": model.name, "active_versions": 0,
                                                  "head": f"{head}:{base}" if head else None})
    result.sort(key=lambda a: a["name"])
    facts.schemas(git, md5s, cache["schemas"])
    keys = ({v["commits_key"] for a in result for v in a["versions"]}
            | ({f"{head}:{b}" for b in bases} if head else set()))
    return {
        "stages": list(settings.stages),
        "deploy_stage": settings.deploy_stage,
        "artifacts": result,
        "commits": {k: {"params": cache["commits"][k]["params"], "plots": cache["commits"][k]["plots"]}
                    for k in sorted(keys)},
        "schemas": {m: cache["schemas"].get(m) for m in sorted(md5s)},
        "head": f"{head}:" if head else None,
    }, read


def _experiments(git: GitRepo, versions: dict[str, str], cache: dict[str, Any], notes: list[str],
                 folders: dict[str, str | None]) -> list[dict[str, Any]]:
    """The experiments of HEAD and of each registered version that has any (`dvc exp show`),
    remembered by HEAD and the experiment refs. ``versions`` maps commits to ``NAME@VERSION``;
    ``folders`` maps each model folder ("" for the root) to its artifact (None: rows of the root
    project of a single-model repository), whose rows name it as ``model``."""
    from gitmlops.adapters.dvc_repo import is_dvc_repo

    head = git.head_commit()
    if head is None or not is_dvc_repo(git.root):
        return []
    refs = git.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/exps")
    # DVC names an experiment refs/exps/<baseline[:2]>/<baseline[2:]>/<name>
    baselines = {"".join(line.split()[0].split("/")[2:4]) for line in refs.splitlines() if line.count("/") >= 4}
    revs = [head, *sorted(c for c in baselines & set(versions) if c != head)]
    key = "\n".join([*revs, refs, json.dumps(folders, sort_keys=True)])
    if key in cache:
        return list(cache[key])
    from gitmlops.errors import GitMLOpsError
    from gitmlops.pipeline.experiments import show_folders

    try:
        by_folder = show_folders(git, revs, list(folders))
    except GitMLOpsError as exc:
        notes.append(f"experiments not shown: {exc.message}")
        return []
    found = []
    for folder, rows in by_folder.items():
        baseline = head
        for e in rows:
            baseline = e.rev if e.baseline else baseline
            if e.baseline and baseline != head:
                continue  # a registered version's own row comes from the registry
            found.append({"name": e.name, "rev": e.rev, "baseline": e.baseline, "state": e.state,
                          "created": e.created, "model": folders[folder],
                          "of": "HEAD" if baseline == head else versions.get(baseline, baseline[:8]),
                          "params": e.params, "metrics": e.metrics})
    cache.clear()  # only the newest table is worth keeping
    cache[key] = found
    return found


def build(repo: str | os.PathLike[str] | GitRepo = ".", output: str | os.PathLike[str] | None = None,
          verify_reports: list[str] | None = None, jobs: int | None = None) -> SiteBuild:
    """Build the site of ``repo`` into ``output`` (default ``_site/`` in the repository)."""
    started = time.perf_counter()
    git = open_repo(repo)
    out = _output(git, output)
    verified = _verify_reports(list(verify_reports or []))
    cache = _load_cache(out)
    notes: list[str] = []
    registry, read = _models(git, cache, verified)
    drift_before = len(cache["drift"])
    bases = sorted({a["base"] for a in registry["artifacts"]})
    monitored = monitoring(git, out, cache["drift"], bases=bases, jobs=jobs)
    by_commit = {v["commit"]: f"{a['name']}@{v['version']}" for a in registry["artifacts"] for v in a["versions"]
                 if v["tag"]}
    declared = [a for a in registry["artifacts"] if a["model"]]
    folders: dict[str, str | None] = {a["base"]: a["name"] for a in declared} or {"": None}
    experiments = _experiments(git, by_commit, cache["experiments"], notes, folders)
    site = {
        "title": git.root.name,
        "generated_at": datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat(),
        "registry": registry,
        "experiments": experiments,
        "monitoring": monitored,
        "notes": notes,
    }
    text = script_json(site)
    out.mkdir(parents=True, exist_ok=True)
    for name in ASSETS:
        _write(out / name, (resources.files("gitmlops") / "templates" / "site" / name).read_text(encoding="utf-8"))
    _write(out / "data.js", f"window.GITMLOPS_SITE = {text};\n")
    _write(out / CACHE_FILE, json.dumps(cache, separators=(",", ":"), default=str))
    if git.root in out.parents and not (out / ".gitignore").exists():
        # a site built inside the work tree is not a change to commit (pages.yml builds it in CI)
        _write(out / ".gitignore", "# written by `gitmlops site build`: the site is built, not committed\n*\n")
    artifacts = registry["artifacts"]
    return SiteBuild(
        output=str(out),
        index=str(out / "index.html"),
        sections=list(SECTIONS),
        models=len(artifacts),
        versions=sum(len(a["versions"]) for a in artifacts),
        events=sum(len(a["events"]) for a in artifacts),
        experiments=len(experiments),
        datasets=len(monitored["datasets"]),
        profiles=sum(len(d["profiles"]) for d in monitored["datasets"]),
        commits_read=read,
        profiles_compared=len(cache["drift"]) - drift_before,
        seconds=round(time.perf_counter() - started, 3),
        notes=notes,
    )
