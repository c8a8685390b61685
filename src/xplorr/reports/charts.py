"""The PDF report's charts, drawn by matplotlib's Agg backend (no display, no system fonts:
matplotlib's own DejaVu fonts, the same files the PDF embeds for its text)."""

import io
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot: headless, deterministic

import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.ticker import FuncFormatter

from xplorr.reports.model import Day, Line

FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
REGULAR = FONT_DIR / "DejaVuSans.ttf"
BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"
ACCENT = "#2563eb"
GRID = "#e5e7eb"
DPI = 120
# pyplot keeps global state: one figure at a time per process (renders run in threads).
LOCK = threading.Lock()

_RC: Any = {
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#9ca3af",
    "axes.grid": True,
    "grid.color": GRID,
    "svg.hashsalt": "xplorr",
}


def _amount_formatter(symbol: str) -> FuncFormatter:
    def fmt(value: float, _pos: int) -> str:
        if abs(value) >= 1_000_000:
            return f"{symbol}{value / 1_000_000:.1f}M"
        if abs(value) >= 1_000:
            return f"{symbol}{value / 1_000:.1f}k"
        return f"{symbol}{value:.0f}"

    return FuncFormatter(fmt)


def _png(fig: Any) -> bytes:
    out = io.BytesIO()
    # Fixed margins, not bbox_inches="tight": that draws every figure twice.
    fig.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    return out.getvalue()


def trend_png(days: Sequence[Day], symbol: str, *, width: float = 7.0) -> bytes:
    """The daily trend as a line (a float plot of Decimal amounts: drawing only)."""
    font_manager.fontManager.addfont(str(REGULAR))
    with LOCK, plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(width, 2.6))
        xs: Any = [d.day for d in days]
        ys = [float(d.cost) for d in days]
        ax.plot(xs, ys, color=ACCENT, linewidth=1.4)
        ax.fill_between(xs, ys, color=ACCENT, alpha=0.12)
        ax.yaxis.set_major_formatter(_amount_formatter(symbol))
        ax.set_title("Daily spend", loc="left", fontweight="bold")
        fig.autofmt_xdate()
        fig.subplots_adjust(left=0.08, right=0.985, top=0.88, bottom=0.2)
        return _png(fig)


def bars_png(lines: Sequence[Line], title: str, symbol: str, *, top: int = 10) -> bytes:
    """The largest groups as horizontal bars, the largest on top."""
    font_manager.fontManager.addfont(str(REGULAR))
    shown = list(lines[:top])[::-1]
    with LOCK, plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(7.0, 0.32 * max(len(shown), 3) + 0.8))
        names = [_short(line.name) for line in shown]
        values = [float(line.cost) for line in shown]
        ax.barh(names, values, color=ACCENT)
        ax.xaxis.set_major_formatter(_amount_formatter(symbol))
        ax.grid(axis="y", visible=False)
        ax.set_title(title, loc="left", fontweight="bold")
        height = 0.32 * max(len(shown), 3) + 0.8
        fig.subplots_adjust(left=0.36, right=0.97, top=1 - 0.45 / height, bottom=0.35 / height)
        return _png(fig)


def _short(name: str, limit: int = 38) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"
