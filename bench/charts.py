"""The benchmarks' PNG charts: Kanal beside its baseline, drawn the same way everywhere.

`bars` is the usual chart, one PNG of grouped bars. A chart of another shape (several panels,
lines) takes its axes from `pyplot`, draws with `grouped` where it has bars, and ends with
`save`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

MACHINE = f"{os.cpu_count()}-core machine"  # for the titles: the figures depend on it
_CLEAR = {"facecolor": "white", "edgecolor": "none", "pad": 0.5}  # a label readable on a line


def pyplot() -> Any:
    """matplotlib.pyplot without a display (imported here: only the charts need it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def bars(
    path: Path,
    title: str,
    unit: str,
    series: dict[str, dict[str, float]],
    *,
    log: bool = False,
    goal: float | None = None,
) -> None:
    """One PNG of grouped bars (see `grouped`), half an inch a bar: room for its label."""
    width = 0.5 * len(series) * len(_categories(series)) + 2
    figure, axes = pyplot().subplots(figsize=(max(6.0, width), 4.6))
    grouped(axes, unit, series, log=log, goal=goal)
    axes.set_title(title, fontsize=10)
    save(figure, path)


def grouped(
    axes: Any,
    unit: str,
    series: dict[str, dict[str, float]],
    *,
    log: bool = False,
    goal: float | None = None,
) -> None:
    """Grouped bars: one group per category (the inner keys), one bar per series (the outer
    keys, e.g. "baseline" and "kanal"), each labelled with its value. `goal` draws a line."""
    categories = _categories(series)
    width = 0.8 / len(series)
    for number, (name, values) in enumerate(series.items()):
        positions = [i + (number - (len(series) - 1) / 2) * width for i in range(len(categories))]
        heights = [values.get(c, 0.0) for c in categories]
        drawn = axes.bar(positions, heights, width, label=name)
        labels = [_figure(h) for h in heights]
        axes.bar_label(drawn, labels=labels, fontsize=7, padding=2, bbox=_CLEAR)
    if goal is not None:
        axes.axhline(goal, linestyle="--", color="grey", label=f"goal {_figure(goal)}")
    if log:
        axes.set_yscale("log")
    axes.margins(y=0.12)  # room above the tallest bar for its label
    axes.set_xlim(-0.6, len(categories) - 0.4)
    tilted = len(categories) > 4 or (len(categories) > 1 and max(map(len, categories)) > 16)
    axes.set_xticks(range(len(categories)), categories, fontsize=8)
    if tilted:
        axes.tick_params(axis="x", labelrotation=30)
        for label in axes.get_xticklabels():
            label.set_horizontalalignment("right")
            label.set_rotation_mode("anchor")
    axes.set_ylabel(unit)
    axes.legend(fontsize=8)


def save(figure: Any, path: Path) -> None:
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    pyplot().close(figure)


def _categories(series: dict[str, dict[str, float]]) -> list[str]:
    return list(dict.fromkeys(c for values in series.values() for c in values))


def _figure(value: float) -> str:
    """12,263 and 118 whole; 87.3, 1.44 and 0.18 to three figures."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
