"""The answerer's learned decisions: three logistic regressions saved as JSON.

- `sentence`: how likely a candidate sentence holds the answer;
- `decision`: whether the index holds an answer at all (else "not found");
- `span`: which span of the chosen sentences is the short answer.

Each is a standardized linear model (scikit-learn's LogisticRegression, fitted
by `python -m policyqa.eval.fit_answerer`; the sentence model on pairs of sentences and
then Platt-scaled), stored as feature names, means, scales,
coefficients, intercept and the probability threshold it is used at. No pickle:
loading is `json.loads`, and `explain` shows every feature's share of a score.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import PolicyQAError

MODEL_FORMAT = "policyqa-answer-model/1"
REFIT = "python -m policyqa.eval.fit_answerer"
DEFAULT_MODEL_PATH = Path(__file__).with_name("resources") / "answer_model.json"


class AnswerModelError(PolicyQAError):
    """The answer model file is missing, malformed or of another format."""


@dataclass(frozen=True)
class LinearModel:
    """p = sigmoid(intercept + sum(coef * (x - mean) / scale)); used at `threshold`."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float = 0.5

    def __post_init__(self) -> None:
        n = len(self.features)
        if not (len(self.mean) == len(self.scale) == len(self.coef) == n) or n == 0:
            raise AnswerModelError(
                f"linear model has {n} features but {len(self.mean)} means, {len(self.scale)} scales "
                f"and {len(self.coef)} coefficients: refit with `{REFIT}`"
            )
        if any(s <= 0 for s in self.scale):
            raise AnswerModelError(f"linear model has a non-positive scale: refit with `{REFIT}`")

    def logit(self, x: Sequence[float]) -> float:
        return self.intercept + sum(
            c * (v - m) / s for c, v, m, s in zip(self.coef, x, self.mean, self.scale, strict=True)
        )

    def probability(self, x: Sequence[float]) -> float:
        z = self.logit(x)
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        """One probability per row of a (n, features) array."""
        z = self.intercept + ((rows - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(self.coef)
        return 1.0 / (1.0 + np.exp(-np.clip(z, -700, 700)))

    def explain(self, x: Sequence[float]) -> dict[str, Any]:
        """Each feature's value and its share of the logit, with the intercept and the probability."""
        parts = {
            name: {"value": round(v, 4), "weight": round(c / s, 4), "contribution": round(c * (v - m) / s, 4)}
            for name, v, m, s, c in zip(self.features, x, self.mean, self.scale, self.coef, strict=True)
        }
        return {"features": parts, "intercept": round(self.intercept, 4), "probability": round(self.probability(x), 4)}

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "threshold": self.threshold,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], expected: Sequence[str], name: str) -> LinearModel:
        try:
            model = cls(
                features=tuple(obj["features"]),
                mean=tuple(float(v) for v in obj["mean"]),
                scale=tuple(float(v) for v in obj["scale"]),
                coef=tuple(float(v) for v in obj["coef"]),
                intercept=float(obj["intercept"]),
                threshold=float(obj["threshold"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise AnswerModelError(
                f"answer model {name!r} is malformed ({exc!r}): refit with `{REFIT}`"
            ) from exc
        if tuple(model.features) != tuple(expected):
            raise AnswerModelError(
                f"answer model {name!r} was fitted on features {list(model.features)}, this code computes "
                f"{list(expected)}: refit with `{REFIT}`"
            )
        return model


@dataclass(frozen=True)
class AnswerModels:
    sentence: LinearModel
    decision: LinearModel
    span: LinearModel
    info: dict[str, Any] = field(default_factory=dict)  # how it was fitted: data, folds, scores

    def to_json(self) -> dict[str, Any]:
        return {
            "format": MODEL_FORMAT,
            "sentence": self.sentence.to_json(),
            "decision": self.decision.to_json(),
            "span": self.span.to_json(),
            "info": self.info,
        }

    def save(self, path: Path) -> None:
        tmp = Path(path).with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)


def load_models(expected: Mapping[str, Sequence[str]], path: Path | None = None) -> AnswerModels:
    """Read the models from JSON (default: the one shipped in index/resources).

    `expected` maps each model's name to the features the code computes for it.

    Raises:
        AnswerModelError: the file is missing, not JSON, of another format, or a
            model's features differ from what the code computes.
    """
    path = Path(path) if path is not None else DEFAULT_MODEL_PATH
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AnswerModelError(
            f"cannot read answer model {path} ({exc.strerror}): refit with `{REFIT}`"
        ) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AnswerModelError(f"answer model {path} is not JSON: refit with `{REFIT}`") from exc
    if not isinstance(obj, dict) or obj.get("format") != MODEL_FORMAT:
        raise AnswerModelError(
            f"answer model {path} is not in format {MODEL_FORMAT}: refit with `{REFIT}`"
        )
    return AnswerModels(
        sentence=LinearModel.from_json(obj.get("sentence", {}), expected["sentence"], "sentence"),
        decision=LinearModel.from_json(obj.get("decision", {}), expected["decision"], "decision"),
        span=LinearModel.from_json(obj.get("span", {}), expected["span"], "span"),
        info=obj.get("info", {}),
    )
