"""The report's file renderings, imported on first use: matplotlib and reportlab take a second
or more to import, which every process that merely discovers the job modules or builds the app
(``xplorr serve``, ``xplorr worker``, ``xplorr demo``) would otherwise pay at start."""

from typing import Literal

from xplorr.reports.model import Report

FileFormat = Literal["pdf", "excel"]


def render(report: Report, fmt: FileFormat) -> bytes:
    """The report as PDF or .xlsx bytes (CPU-bound: call it in a thread)."""
    if fmt == "pdf":
        from xplorr.reports.pdf import render_pdf

        return render_pdf(report)
    from xplorr.reports.excel import render_excel

    return render_excel(report)
