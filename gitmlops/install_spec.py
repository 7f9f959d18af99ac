"""The gitmlops a project uses, recorded by `gitmlops init` in ``requirements-gitmlops.txt`` so that CI
installs exactly that (every bundled workflow runs ``pip install -r requirements-gitmlops.txt``).

The requirement is the running gitmlops: ``gitmlops==VERSION`` for a release from an index; for an
install from version control, a direct reference to the same commit (``gitmlops @ git+URL@SHA``); for
an install from a local folder or archive (a development checkout), a direct reference to it, which
installs on this machine only: replace it with a release or a VCS reference before CI runs.
"""

from __future__ import annotations

import json
from importlib import metadata

SPEC_FILE = "requirements-gitmlops.txt"


def gitmlops_requirement(extras: tuple[str, ...] = ()) -> str:
    """A pip requirement line for the running gitmlops (see the module docstring)."""
    name = "gitmlops" + (f"[{','.join(sorted(extras))}]" if extras else "")
    # A source checkout may also hold a stale gitmlops.egg-info on sys.path: the installation pip
    # made (the one with direct_url.json) says where gitmlops really came from.
    found = list(metadata.distributions(name="gitmlops"))
    if not found:  # run from a source tree that was never installed
        from gitmlops import __version__

        return f"{name}=={__version__}"
    dist = next((d for d in found if d.read_text("direct_url.json")), found[0])
    raw = dist.read_text("direct_url.json")
    try:
        direct = json.loads(raw) if raw else None
    except ValueError:
        direct = None
    if not isinstance(direct, dict) or not isinstance(direct.get("url"), str):
        return f"{name}=={dist.version}"
    url = direct["url"]
    vcs = direct.get("vcs_info")
    if isinstance(vcs, dict) and vcs.get("vcs") and vcs.get("commit_id"):
        return f"{name} @ {vcs['vcs']}+{url}@{vcs['commit_id']}"
    return f"{name} @ {url}"


def requirements_text(extras: tuple[str, ...] = ()) -> str:
    """The content of :data:`SPEC_FILE` that `init` writes."""
    requirement = gitmlops_requirement(extras)
    lines = [
        "# The gitmlops this project uses; every gitmlops workflow installs it with",
        f"#   python -m pip install -r {SPEC_FILE}",
        "# Written by `gitmlops init`. Change it to upgrade (e.g. gitmlops==X.Y.Z), add extras the",
        "# project needs (gitmlops[dask]==X.Y.Z), or pin a commit (gitmlops @ git+https://...@SHA).",
    ]
    if requirement.startswith("gitmlops") and " @ file:" in requirement:
        lines.append("# A local folder installs on this machine only: use a release or a git URL for CI.")
    return "\n".join(lines) + "\n" + requirement + "\n"
