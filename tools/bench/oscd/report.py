"""The benchmark's results: the full JSON, the one summary line and the per-city F1 bars (PNG)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tools.bench.oscd.scoring import overall_figures
from tools.bench.oscd.settings import REFERENCE, REFERENCE_F1, OscdSettings, bands, rounded

if TYPE_CHECKING:
    from planet_sentinel.evaluate import SceneEvaluation

#: The fold keys the results repeat in brief (``folds``); ``folds_detail`` has them all.
FOLD_BRIEF = ("name", "held_out", "val", "train", "threshold", "val_f1", "best_epoch", "epochs_run", "train_minutes")


@dataclass
class Outcome:
    """What the trainings gave: every fold's details, the held-out cities' scores and the --test-data scoring."""

    folds: list[dict[str, Any]] = field(default_factory=list)
    cv_scenes: list[SceneEvaluation] = field(default_factory=list)
    per_city: dict[str, dict[str, Any]] = field(default_factory=dict)
    test: dict[str, Any] | None = None

    def add_test(self, data: Path, figures: dict[str, Any], evaluated: list[SceneEvaluation], threshold: float) -> None:
        """The final model's scores on the --test-data cities."""
        overall, baselines = overall_figures(evaluated)
        self.test = {
            "data": str(data),
            "per_city": figures,
            "overall": overall,
            "baselines_overall": baselines,
            "threshold": rounded(threshold),
        }


def assemble(
    outcome: Outcome,
    data: Path,
    names: Sequence[str],
    settings: OscdSettings,
    screen: dict[str, dict[str, float]],
    minutes: float,
) -> dict[str, Any]:
    """The results (without ``folds_detail``, the paths of the JSON and the PNG)."""
    overall, baselines = overall_figures(outcome.cv_scenes)
    return {
        "bench": "oscd",
        "data": str(data),
        "cities": list(names),
        "validation": "leave-cities-out: each fold holds out whole cities; checkpoint and threshold chosen on other "
        "cities pooled (never the held-out ones); overall = micro average over all held-out cities",
        "per_city": outcome.per_city,
        "overall": overall,
        "baselines_overall": baselines,
        "thresholds": {f["name"]: f["threshold"] for f in outcome.folds},
        "folds": [{k: f[k] for k in FOLD_BRIEF} for f in outcome.folds],
        "reference": REFERENCE,
        "ratio_to_reference": rounded(overall["f1"] / REFERENCE_F1, 3) if overall["f1"] is not None else None,
        "test": outcome.test,
        "settings": {**settings.model_dump(), "bands": list(bands()), "cloud_screen": False},
        "screen_would_flag": screen,
        "minutes": round(minutes, 2),
    }


def _groups(result: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The bar groups: each held-out city, the overall, then each --test-data city and their overall."""

    def overall(part: dict[str, Any]) -> dict[str, Any]:
        return {"f1": part["overall"]["f1"], "baselines_f1": {m: v["f1"] for m, v in part["baselines_overall"].items()}}

    groups = [(f"{c}\n(held out)", f) for c, f in sorted(result["per_city"].items())]
    groups.append(("overall\n(micro)", overall(result)))
    if result.get("test"):
        groups += [(f"{c}\n(test)", f) for c, f in sorted(result["test"]["per_city"].items())]
        groups.append(("test overall", overall(result["test"])))
    return groups


def plot(result: dict[str, Any], target: Path) -> Path:
    """Per-city F1 bars (model and baselines) with the FC-Siam-diff reference line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = _groups(result)
    series = [
        ("model", "Siamese U-Net", "tab:blue"),
        ("cva_otsu", "CVA, Otsu", "tab:gray"),
        ("ndvi_tuned", "NDVI diff, tuned on train cities", "tab:green"),
    ]
    fig, ax = plt.subplots(figsize=(max(8, 1.1 * len(groups)), 4.5))
    x = np.arange(len(groups))
    width = 0.8 / len(series)
    for i, (key, label, colour) in enumerate(series):
        values = [(g["f1"] if key == "model" else g["baselines_f1"].get(key)) or 0.0 for _, g in groups]
        ax.bar(x + (i - (len(series) - 1) / 2) * width, values, width, label=label, color=colour)
    ax.axhline(
        REFERENCE_F1,
        color="tab:red",
        linestyle="--",
        label="FC-Siam-diff 48.86 (official OSCD test split, RGB: a different split)",
    )
    ax.set_xticks(x, [g for g, _ in groups], fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("F1, change class")
    ax.set_title(f"OSCD leave-cities-out: overall F1 {result['overall']['f1']:.3f}, AP {result['overall']['ap']:.3f}")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    plt.close(fig)
    return target


def summary_line(result: dict[str, Any]) -> dict[str, Any]:
    """The one JSON line: per-city and overall figures, baselines, thresholds, time, reference."""
    keys = ("f1", "precision", "recall", "ap", "fold", "threshold", "oracle_f1", "baselines_f1")
    line = {
        "bench": "oscd",
        "per_city": {c: {k: f[k] for k in keys} for c, f in result["per_city"].items()},
        "overall_f1": result["overall"]["f1"],
        "overall_ap": result["overall"]["ap"],
        "overall_precision": result["overall"]["precision"],
        "overall_recall": result["overall"]["recall"],
        "baselines": result["baselines_overall"],
        "thresholds": result["thresholds"],
        "minutes": result["minutes"],
        "reference_f1": REFERENCE["f1"],
        "reference_split": "official OSCD test split, RGB (Daudt et al. 2018): not this leave-cities-out split",
        "ratio_overall_f1_to_reference": result["ratio_to_reference"],
        "results_json": result["results_json"],
        "png": result["png"],
    }
    if result.get("test"):
        test = result["test"]
        line["test"] = {
            "per_city": {c: {k: f[k] for k in keys if k != "fold"} for c, f in test["per_city"].items()},
            "overall_f1": test["overall"]["f1"],
            "overall_ap": test["overall"]["ap"],
            "baselines": test["baselines_overall"],
            "threshold": test["threshold"],
        }
    return line
