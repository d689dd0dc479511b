"""Installing the example plugin packages for a test, the way pip lays out an editable install.

The package's folder goes on ``sys.path`` and a ``.dist-info`` folder (METADATA and the
``entry_points.txt`` written from the package's own pyproject.toml) into a temporary site
folder, so ``importlib.metadata`` finds a real distribution with its entry points: the same
lookup an installed wheel answers, without building one or touching the shared environment.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@dataclass(frozen=True)
class Site:
    """Folders to put on the path (in this process and in subprocesses' PYTHONPATH)."""

    paths: list[Path]

    @property
    def pythonpath(self) -> str:
        return ":".join(str(path) for path in self.paths)


def install(site: Path, *packages: str) -> Site:
    """Lay out each ``examples/<package>`` as an installed distribution under ``site``."""
    site.mkdir(parents=True, exist_ok=True)
    paths = [site]
    for folder in packages:
        root = EXAMPLES / folder
        project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
        name, version = project["name"], project["version"]
        dist = site / f"{name.replace('-', '_')}-{version}.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        lines = []
        for group, entries in project.get("entry-points", {}).items():
            lines.append(f"[{group}]")
            lines += [f"{entry} = {value}" for entry, value in entries.items()]
            lines.append("")
        (dist / "entry_points.txt").write_text("\n".join(lines))
        paths.append(root / "src")
    return Site(paths)
