"""Constrained strings for the names people type (users, organizations, accounts, tokens).

Surrounding white space is stripped before the length is checked, so a blank name is a 422, and
control characters are refused: PostgreSQL cannot store NUL in text, and a name with line
breaks or escapes would end up in emails, CSV exports and logs."""

from typing import Annotated

from pydantic import StringConstraints

NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f]*$"

Name = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=200, pattern=NO_CONTROL_CHARACTERS
    ),
]
ShortName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=100, pattern=NO_CONTROL_CHARACTERS
    ),
]
