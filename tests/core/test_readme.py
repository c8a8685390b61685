"""The README's Configuration section lists every ``XPLORR_`` setting with its default."""

import re
from pathlib import Path

from xplorr.core.settings import Settings, SlackSettings, SmtpSettings, TeamsSettings

README = Path(__file__).resolve().parents[2] / "README.md"
# Settings read from their own prefix (``XPLORR_SMTP_HOST`` ...), nested under one field.
GROUPS = {"smtp": SmtpSettings, "slack": SlackSettings, "teams": TeamsSettings}


def _documented() -> dict[str, str]:
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `(XPLORR_[A-Z0-9_]+)` \| ([^|]+) \|", section, re.M))


def test_every_setting_is_documented_with_a_default() -> None:
    names = {f"XPLORR_{name.upper()}" for name in Settings.model_fields if name not in GROUPS}
    for prefix, group in GROUPS.items():
        names |= {f"XPLORR_{prefix.upper()}_{n.rstrip('_').upper()}" for n in group.model_fields}
    documented = _documented()
    assert names <= set(documented), sorted(names - set(documented))
    assert all(default.strip() for default in documented.values())


def test_documented_defaults_match_the_code() -> None:
    documented = _documented()
    for name, field in Settings.model_fields.items():
        default = field.default
        if isinstance(default, (int, float, str)) and not isinstance(default, bool):
            assert f"`{default}`" in documented[f"XPLORR_{name.upper()}"], name
    for prefix, group in GROUPS.items():
        for name, field in group.model_fields.items():
            default = field.default
            if isinstance(default, (int, float, str)) and not isinstance(default, bool):
                key = f"XPLORR_{prefix.upper()}_{name.rstrip('_').upper()}"
                assert f"`{default}`" in documented[key], key
