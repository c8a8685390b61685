"""CSV exports that spreadsheets cannot be tricked into evaluating (ASVS 5.0 1.2.10, CWE-1236).

``csv.writer`` does the RFC 4180 quoting; quoting alone does not stop Excel evaluating a quoted
``=...``, so a text cell starting with ``= + - @``, tab, CR or NUL gets a leading ``'``. Numbers
(``int``, ``Decimal``) are written as numbers and never prefixed: a credit of ``-12.50`` stays a
number. Only values typed as numbers count as numbers; a user's string ``"-1"`` is text.
"""

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

Cell = str | int | Decimal | datetime | None
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "\0")


def safe_cell(value: Cell) -> str | int | Decimal:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | Decimal):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return "'" + value if value.startswith(_DANGEROUS) else value


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return out.getvalue()
