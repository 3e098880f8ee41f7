"""The evaluation report: per-scene and overall scores of the model and the spectral baselines,
and its typed, versioned JSON artefact (``evaluation.json``), Markdown table and picture.

:class:`EvaluationReport` is what the scoring builds (it keeps the score histograms, so
"overall" is the micro-average over scenes); :class:`EvaluationRecord` is what is written and
read back (``EvaluationRecord.load``), with its JSON Schema in ``docs/schemas/``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from planet_sentinel.artefacts import Artefact, Upgrader, same_layout
from planet_sentinel.scores import Counts, ScoreAccumulator, pr_curve

METHODS = ("model", "ndvi_otsu", "ndvi_tuned", "cva_otsu")
METHOD_LABELS = {
    "model": "Siamese U-Net",
    "ndvi_otsu": "NDVI difference, Otsu",
    "ndvi_tuned": "NDVI difference, tuned threshold",
    "cva_otsu": "Change vector analysis, Otsu",
}


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MethodScores(_Part):
    """One method's scores of the change class; ratios are null where undefined (no pixels)."""

    precision: float | None
    recall: float | None
    f1: float | None
    iou: float | None
    ap: float | None = Field(description="average precision (area under the step precision-recall curve)")
    tp: int
    fp: int
    fn: int
    tn: int
    threshold: float | None = Field(description="decision threshold; null when it differs per scene")
    note: str | None = Field(default=None, description="how the threshold was chosen (absent when nothing to say)")


class SceneScores(_Part):
    """Every method scored on one scene, with its pixel counts (total, labelled, changed, abstained)."""

    name: str
    pixels: dict[str, int]
    methods: dict[str, MethodScores]


class EvaluationRecord(Artefact):
    """evaluation.json: the model and the spectral baselines scored per scene and overall."""

    KIND: ClassVar[str] = "evaluation-report"
    SCHEMA_VERSION: ClassVar[int] = 1
    PRODUCED_BY: ClassVar[str] = "sentinel evaluate"
    UPGRADERS: ClassVar[dict[int, Upgrader]] = {0: same_layout}

    model: dict[str, Any] = Field(description="the evaluated model bundle (name, bands, threshold, ...)")
    settings: dict[str, Any] = Field(description="source, split, thresholds and tiling used")
    notes: list[str]
    scenes: list[SceneScores]
    overall: dict[str, MethodScores] = Field(description="micro-average over the scenes (summed counts)")

    def to_dict(self) -> dict[str, Any]:
        """As written before versions existed: no ``note`` key on a method without one."""
        data = super().to_dict()
        for methods in [data["overall"], *(scene["methods"] for scene in data["scenes"])]:
            for scores in methods.values():
                if scores["note"] is None:
                    del scores["note"]
        return data


@dataclass
class MethodResult:
    """One method's confusion counts, threshold and ranking quality on one scene (or overall)."""

    method: str
    counts: Counts
    threshold: float | None
    average_precision: float
    scores: ScoreAccumulator | None = None
    note: str = ""

    def to_scores(self) -> MethodScores:
        c = self.counts
        return MethodScores(
            precision=_rounded_or_none(c.precision),
            recall=_rounded_or_none(c.recall),
            f1=_rounded_or_none(c.f1),
            iou=_rounded_or_none(c.iou),
            ap=_rounded_or_none(self.average_precision),
            tp=c.tp,
            fp=c.fp,
            fn=c.fn,
            tn=c.tn,
            threshold=_rounded_or_none(self.threshold),
            note=self.note or None,
        )


def _rounded_or_none(value: float | None) -> float | None:
    """A metric as the report writes it: rounded to 6 decimals, None (JSON null) when undefined."""
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), 6)


@dataclass
class SceneEvaluation:
    """All methods scored on one scene."""

    name: str
    methods: dict[str, MethodResult]
    pixels: dict[str, int]

    def to_scores(self) -> SceneScores:
        return SceneScores(
            name=self.name, pixels=self.pixels, methods={k: v.to_scores() for k, v in self.methods.items()}
        )


@dataclass
class EvaluationReport:
    """Per-scene and overall (micro-averaged) scores of the model and the baselines."""

    scenes: list[SceneEvaluation]
    model: dict[str, Any]
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def overall(self) -> dict[str, MethodResult]:
        """Summed confusion counts and histograms over every scene."""
        result: dict[str, MethodResult] = {}
        for method in METHODS:
            parts = [s.methods[method] for s in self.scenes if method in s.methods]
            if not parts:
                continue
            counts = Counts()
            merged: ScoreAccumulator | None = None
            for part in parts:
                counts = counts + part.counts
                if part.scores is not None:
                    if merged is None:
                        merged = ScoreAccumulator(method, part.scores.edges)
                    merged.merge(part.scores)
            thresholds = {p.threshold for p in parts}
            threshold = thresholds.pop() if len(thresholds) == 1 else None
            ap = merged.average_precision() if merged is not None else float("nan")
            result[method] = MethodResult(method, counts, threshold, ap, merged, parts[0].note)
        return result

    def to_record(self) -> EvaluationRecord:
        """The artefact written as evaluation.json."""
        return EvaluationRecord(
            schema_version=EvaluationRecord.SCHEMA_VERSION,
            model=self.model,
            settings=self.settings,
            notes=self.notes,
            scenes=[s.to_scores() for s in self.scenes],
            overall={k: v.to_scores() for k, v in self.overall.items()},
        )

    def to_dict(self) -> dict[str, Any]:
        return self.to_record().to_dict()

    def to_markdown(self) -> str:
        lines = ["# Evaluation", ""]
        if self.settings:
            lines += [", ".join(f"{k}: {v}" for k, v in self.settings.items()), ""]
        header = "| scene | method | precision | recall | F1 | IoU | AP | threshold |"
        lines += [header, "|---|---|---:|---:|---:|---:|---:|---:|"]
        rows = [(s.name, s.methods) for s in self.scenes] + [("**overall**", self.overall)]
        for name, methods in rows:
            for method, res in methods.items():
                m = res.to_scores()
                cells = [m.precision, m.recall, m.f1, m.iou, m.ap]
                text = ["-" if v is None else f"{v:.3f}" for v in cells]
                thr = "per scene" if res.threshold is None else f"{res.threshold:.4g}"
                lines.append(f"| {name} | {METHOD_LABELS[method]} | {' | '.join(text)} | {thr} |")
        if self.notes:
            lines += ["", *[f"- {n}" for n in self.notes]]
        return "\n".join(lines) + "\n"

    def write(self, out_dir: str | Path, overwrite: bool = False) -> dict[str, Path]:
        """Write evaluation.json, evaluation.md and (with matplotlib) evaluation.png atomically."""
        from planet_sentinel.raster import refuse_existing, write_text_atomic

        out = Path(out_dir)
        paths = {"json": out / "evaluation.json", "markdown": out / "evaluation.md", "png": out / "evaluation.png"}
        refuse_existing(list(paths.values()), overwrite)
        self.to_record().save(paths["json"], indent=2)
        write_text_atomic(paths["markdown"], self.to_markdown())
        try:
            self._plot(paths["png"])
        except ImportError:  # matplotlib is an optional dependency (train/dev extras)
            del paths["png"]
        return paths

    def _plot(self, target: Path) -> Path:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from planet_sentinel.raster import atomic_path

        overall = self.overall
        methods = list(overall)
        fig, (ax_bar, ax_pr) = plt.subplots(1, 2, figsize=(11, 4.2))
        x = np.arange(len(methods))
        f1 = [overall[m].counts.f1 for m in methods]
        iou = [overall[m].counts.iou for m in methods]
        ax_bar.bar(x - 0.2, f1, 0.4, label="F1")
        ax_bar.bar(x + 0.2, iou, 0.4, label="IoU")
        ax_bar.set_xticks(x, [METHOD_LABELS[m].replace(", ", "\n") for m in methods], fontsize=8)
        ax_bar.set_ylim(0, 1)
        ax_bar.set_title("overall, change class")
        ax_bar.legend()
        for method in methods:
            acc = overall[method].scores
            if acc is None or acc.pos.sum() == 0:
                continue
            recall, precision = pr_curve(acc.pos, acc.neg, acc.missed)
            ax_pr.plot(recall, precision, label=f"{METHOD_LABELS[method]} (AP {overall[method].average_precision:.2f})")
        ax_pr.set_xlabel("recall")
        ax_pr.set_ylabel("precision")
        ax_pr.set_xlim(0, 1)
        ax_pr.set_ylim(0, 1.02)
        ax_pr.set_title("precision-recall")
        ax_pr.legend(fontsize=7, loc="lower left")
        fig.tight_layout()
        with atomic_path(target, suffix=".png") as tmp:
            fig.savefig(tmp, format="png", dpi=110)
        plt.close(fig)
        return target
