"""The README's Configuration section lists every ``XPLORR_`` setting with its default."""

import re
from pathlib import Path

from xplorr.core.settings import Settings, SmtpSettings

README = Path(__file__).resolve().parents[2] / "README.md"


def _documented() -> dict[str, str]:
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `(XPLORR_[A-Z0-9_]+)` \| ([^|]+) \|", section, re.M))


def test_every_setting_is_documented_with_a_default() -> None:
    names = {f"XPLORR_{name.upper()}" for name in Settings.model_fields if name != "smtp"}
    names |= {f"XPLORR_SMTP_{name.rstrip('_').upper()}" for name in SmtpSettings.model_fields}
    documented = _documented()
    assert names <= set(documented), sorted(names - set(documented))
    assert all(default.strip() for default in documented.values())


def test_documented_defaults_match_the_code() -> None:
    documented = _documented()
    for name, field in Settings.model_fields.items():
        default = field.default
        if isinstance(default, (int, float, str)) and not isinstance(default, bool):
            assert f"`{default}`" in documented[f"XPLORR_{name.upper()}"], name
