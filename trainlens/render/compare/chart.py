"""The score chart of ``trainlens compare``: every run's score on one PNG (matplotlib Agg), with
the best, the degradation onset and the recommended checkpoint marked."""

from __future__ import annotations

from pathlib import Path

from trainlens.compare import Comparison, RunComparison


def render_chart(cmp: Comparison, path: Path) -> bool:
    """Plot the score of every run on one chart (PNG, matplotlib Agg); False when no run has it.
    The x-axis is the fraction of each run when the runs' step scales differ."""
    rows = [r for r in cmp.rows if r.status == "ok" and len(r.steps)]
    if not rows:
        return False
    # an explicit Agg canvas: no pyplot state, and the caller's matplotlib backend is untouched
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for i, r in enumerate(rows):
        color = f"C{i % 10}"
        steps = r.steps.astype(float)
        if not cmp.steps_comparable:
            lo, hi = float(steps[0]), float(steps[-1])
            steps = (steps - lo) / (hi - lo) if hi > lo else steps * 0 + 1.0

        def x_of(step: int, r: RunComparison = r) -> float:
            if cmp.steps_comparable:
                return float(step)
            lo, hi = float(r.steps[0]), float(r.steps[-1])
            return (step - lo) / (hi - lo) if hi > lo else 1.0

        sparse = len(steps) <= 60
        if r.window > 1:
            ax.plot(steps, r.values, color=color, alpha=0.25, linewidth=0.8)
            ax.plot(steps, r.smoothed_values, color=color, linewidth=1.8, label=r.name)
        else:
            ax.plot(
                steps,
                r.values,
                color=color,
                linewidth=1.6,
                marker="o" if sparse else None,
                markersize=3,
                label=r.name,
            )
        d = r.degradation
        if d is not None:
            ax.plot(
                [x_of(d.best_step)],
                [d.best_value],
                marker="*",
                markersize=13,
                color=color,
                markeredgecolor="black",
                linestyle="none",
            )
            if d.onset_step is not None:
                ax.axvline(x_of(d.onset_step), color=color, linestyle="--", linewidth=1, alpha=0.7)
        rec = r.recommended
        if rec is not None and rec.source == "checkpoint" and rec.value is not None:
            ax.plot(
                [x_of(rec.step)],
                [rec.value],
                marker="o",
                markersize=10,
                markerfacecolor="none",
                markeredgecolor=color,
                markeredgewidth=1.5,
                linestyle="none",
            )
    ax.set_xlabel("step" if cmp.steps_comparable else "fraction of run")
    ax.set_ylabel(str(rows[0].key) if len({r.key for r in rows}) == 1 else str(cmp.metric))
    arrow = "lower is better" if not cmp.higher_is_better else "higher is better"
    ax.set_title(
        f"{cmp.metric} ({arrow}); * best, o recommended checkpoint, -- degradation onset",
        fontsize=10,
    )
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", metadata={"Software": None})
    return True
