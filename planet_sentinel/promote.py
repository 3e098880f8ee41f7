"""`sentinel promote`'s stage: the gate that moves ``champion`` to the challenger only if it wins.

Both versions are scored on the same chips; the decision and both scores are recorded as version
tags and in the challenger's run, so a promotion can be audited later. Aliases only: MLflow stages
are deprecated. The registry plumbing (runs, aliases, loading) is planet_sentinel.registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from planet_sentinel.errors import SentinelError
from planet_sentinel.registry import (
    CHALLENGER,
    CHAMPION,
    MODEL_NAME,
    alias_version,
    display_uri,
    load_model,
    mlflow_module,
)


class PromoteConfig(BaseModel):
    """Settings of ``sentinel promote`` (section ``promote`` of params.yaml, env SENTINEL_PROMOTE_*)."""

    model_config = ConfigDict(extra="forbid")

    split: str = Field(default="test", description="Split of the chips both versions are scored on.")
    force: bool = Field(default=False, description="Promote even if the challenger does not win (recorded as forced).")
    min_gain: float = Field(default=0.0, description="F1 margin the challenger must win by.")
    version: str | None = Field(
        default=None, description="Version to promote (default: the one @challenger points at)."
    )


@dataclass(frozen=True)
class PromotionDecision:
    promoted: bool
    reason: str
    challenger: str | None
    champion_before: str | None
    champion_after: str | None
    scores: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "promoted": self.promoted,
            "reason": self.reason,
            "challenger": self.challenger,
            "champion_before": self.champion_before,
            "champion_after": self.champion_after,
            "scores": self.scores,
        }


def candidate(version: str | int | None, name: str = MODEL_NAME) -> str:
    """The version to consider: ``version`` exactly (what a training job registered), else the one
    ``challenger`` points at now (which a concurrent registration may have moved)."""
    from mlflow.exceptions import MlflowException

    if version is not None and str(version).strip():
        challenger = str(version).strip()
        try:
            mlflow_module().MlflowClient().get_model_version(name, challenger)
        except MlflowException as exc:
            raise SentinelError(f"no version {challenger} of {name} in {display_uri()}") from exc
        return challenger
    found = alias_version(CHALLENGER, name)
    if found is None:
        raise SentinelError(f"no '{CHALLENGER}' version of {name} in {display_uri()}; train one first")
    return found


def _reason(scores: dict[str, float], champion: str | None, better: bool) -> str:
    if champion is None:
        return "no champion yet"
    if better:
        return f"F1 {scores['challenger_f1']:.4f} beats champion v{champion} {scores['champion_f1']:.4f}"
    return f"FORCED: F1 {scores['challenger_f1']:.4f} does not beat champion v{champion} {scores['champion_f1']:.4f}"


def promote(chips_dir: str | Path, config: PromoteConfig | None = None, name: str = MODEL_NAME) -> PromotionDecision:
    """Move ``champion`` to the candidate if it scores a higher F1 than the current champion on the
    same chips (or ``config.force``), and record the decision on the candidate."""
    from planet_sentinel.evaluate import evaluate_chips

    config = config or PromoteConfig()
    client = mlflow_module().MlflowClient()
    challenger = candidate(config.version, name)
    champion = alias_version(CHAMPION, name)

    def f1_of(version: str) -> float:
        report = evaluate_chips(load_model(f"models:/{name}/{version}"), chips_dir, config.split)
        return float(report.overall["model"].counts.f1)

    scores: dict[str, float] = {"challenger_f1": f1_of(challenger)}
    if champion == challenger:
        return PromotionDecision(
            False, f"challenger v{challenger} is already champion", challenger, champion, champion, scores
        )
    if champion is not None:
        scores["champion_f1"] = f1_of(champion)
    better = champion is None or scores["challenger_f1"] > scores["champion_f1"] + config.min_gain
    if better or config.force:
        client.set_registered_model_alias(name, CHAMPION, challenger)
        reason, after = _reason(scores, champion, better), challenger
    else:
        reason = (
            f"kept champion v{champion}: F1 {scores['champion_f1']:.4f} >= challenger {scores['challenger_f1']:.4f}"
        )
        after = champion or challenger  # champion is set here: "no champion" always promotes
    decision = PromotionDecision(
        after == challenger and champion != challenger, reason, challenger, champion, after, scores
    )
    client.set_model_version_tag(name, challenger, "promotion", reason)
    client.set_model_version_tag(name, challenger, "promotion_forced", str(bool(config.force and not better)).lower())
    run_id = client.get_model_version(name, challenger).run_id
    if run_id:
        for key, value in scores.items():
            client.log_metric(run_id, f"promotion_{key}", value)
    return decision
