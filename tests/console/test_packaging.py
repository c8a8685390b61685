"""The console's templates and static files ship in the wheel: every file under
``console/templates`` and ``console/static`` is matched by the package data that
``pyproject.toml`` declares (a file left out would only fail on an installed copy)."""

import tomllib
from pathlib import Path

import xplorr

PACKAGE = Path(xplorr.__file__).parent
PYPROJECT = PACKAGE.parents[1] / "pyproject.toml"


def test_every_console_file_is_package_data() -> None:
    declared = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["package-data"]["xplorr"]
    shipped = {path for pattern in declared for path in PACKAGE.glob(pattern) if path.is_file()}
    console = [
        path
        for folder in ("templates", "static")
        for path in (PACKAGE / "console" / folder).rglob("*")
        if path.is_file()
    ]
    assert len(console) > 10
    missing = sorted(str(p.relative_to(PACKAGE)) for p in console if p not in shipped)
    assert missing == []
    vendored = {p.name for p in (PACKAGE / "console" / "static" / "vendor").iterdir()}
    assert {"htmx.min.js", "htmx.LICENSE", "chart.umd.min.js", "chart.js.LICENSE.md"} <= vendored
