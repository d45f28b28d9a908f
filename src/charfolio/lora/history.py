"""The loss log (one CSV row per optimizer step), the per-epoch validation log, the curve PNG."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from charfolio.core.atomic import atomic_path

LOSS_FIELDS = ("step", "epoch", "phase", "loss", "lr")
EPOCH_FIELDS = ("epoch", "phase", "step", "train_loss", "val_loss", "seconds")


class CsvLog:
    """An append-only CSV, flushed per row so a killed run keeps what it logged.

    On open, rows that `keep` rejects (logged after the state a run resumes from) are
    dropped; without `keep` the log starts empty.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fields: Sequence[str],
        keep: Callable[[Mapping[str, str]], bool] | None = None,
    ) -> None:
        self.path = Path(path)
        self.fields = tuple(fields)
        kept = [r for r in self._read() if keep(r)] if keep is not None else []
        with atomic_path(self.path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=self.fields)
            writer.writeheader()
            writer.writerows(kept)

    def _read(self) -> list[dict[str, str]]:
        if not self.path.is_file():
            return []
        with open(self.path, newline="", encoding="utf-8") as fh:
            return [r for r in csv.DictReader(fh) if set(r) == set(self.fields)]

    def append(self, row: Mapping[str, Any]) -> None:
        with open(self.path, "a", newline="", encoding="utf-8") as fh:
            csv.DictWriter(fh, fieldnames=self.fields).writerow(
                {k: row.get(k) for k in self.fields}
            )

    def rows(self) -> list[dict[str, str]]:
        return self._read()


def _floats(rows: Sequence[Mapping[str, str]], key: str) -> list[float | None]:
    return [float(r[key]) if r.get(key) not in (None, "") else None for r in rows]


def _moving_mean(values: Sequence[float | None], window: int) -> list[float | None]:
    out: list[float | None] = []
    for i in range(len(values)):
        recent = [v for v in values[max(0, i - window + 1) : i + 1] if v is not None]
        out.append(sum(recent) / len(recent) if recent else None)
    return out


def plot_losses(
    steps: Sequence[Mapping[str, str]],
    epochs: Sequence[Mapping[str, str]],
    path: str | os.PathLike[str],
    title: str,
) -> Path:
    """Training loss per step (raw and smoothed), validation loss per epoch, and the LR."""
    import matplotlib

    matplotlib.use("Agg")  # no display on cluster nodes
    import matplotlib.pyplot as plt

    fig, (ax, ax_lr) = plt.subplots(
        2, 1, figsize=(8, 5.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    x = [int(r["step"]) for r in steps]
    loss = _floats(steps, "loss")
    if x:
        ax.plot(x, loss, color="tab:blue", alpha=0.3, linewidth=0.8, label="train loss (step)")
        window = len(x) // 20
        if window > 1:
            smooth = _moving_mean(loss, window)
            ax.plot(x, smooth, color="tab:blue", label=f"train loss ({window}-step mean)")
        ax_lr.plot(x, _floats(steps, "lr"), color="tab:green")
    val = [
        (int(r["step"]), v)
        for r, v in zip(epochs, _floats(epochs, "val_loss"), strict=True)
        if v is not None
    ]
    if val:
        ax.plot(
            *zip(*val, strict=True), "o-", color="tab:orange", label="validation loss (fixed noise)"
        )
    for r in epochs:
        if int(r["epoch"]) > 0:
            ax.axvline(int(r["step"]), color="grey", linewidth=0.5, linestyle=":")
    ax.set_ylabel("MSE")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    ax_lr.set_ylabel("learning rate")
    ax_lr.set_xlabel("optimizer step")
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return path
