"""The answerer's learned decisions, saved as JSON.

- `sentence`: how likely a candidate sentence holds the answer (boosted trees:
  which sentence answers depends on how its features combine, and the trees
  rank sentences better than a linear model fitted on the same rows);
- `decision`: whether the index holds an answer at all (else "not found");
- `span`: which span of the chosen sentences is the short answer.

The decision and the span are standardized linear models (scikit-learn's
LogisticRegression), stored as feature names, means, scales, coefficients and
intercept; the sentence model is scikit-learn's HistGradientBoostingClassifier,
stored as its trees' nodes. Each carries the probability threshold it is used
at. All are fitted by `python -m policyqa.eval.fit_answerer`. No pickle: loading is
`json.loads`, and `explain` shows every feature's share of a score (for trees,
the change in the logit at each split on that feature along the row's paths,
which sums exactly to the logit).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import PolicyQAError

MODEL_FORMAT = "policyqa-answer-model/2"
REFIT = "python -m policyqa.eval.fit_answerer"
DEFAULT_MODEL_PATH = Path(__file__).with_name("resources") / "answer_model.json"
_NUMBER_LIST = re.compile(r"\[\s*([-+0-9.eE,\s]+?)\s*\]")


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
            "kind": "linear",
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
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise AnswerModelError(
                f"answer model {name!r} is malformed ({exc!r}): refit with `{REFIT}`"
            ) from exc
        _check_features(model.features, expected, name)
        return model


@dataclass(frozen=True, eq=False)
class TreeModel:
    """Boosted trees: p = sigmoid(baseline + sum over trees of the leaf each row reaches).

    The trees are stored flat: node i splits on `feature[i]` at `split[i]` (left
    when the value is at most it, or when it is missing and `missing_left[i]`) or,
    where `left[i]` is -1, is a leaf. `value[i]` is a leaf's output; an inner
    node's is the mean of the leaves below it, weighted by the rows that reached
    them, so each step of a path says how much that split moved the logit (what
    `explain` adds up). `roots` are the trees' first nodes.
    """

    features: tuple[str, ...]
    baseline: float
    roots: np.ndarray
    feature: np.ndarray
    split: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    missing_left: np.ndarray
    threshold: float = 0.5

    def __post_init__(self) -> None:
        arrays = (self.feature, self.split, self.left, self.right, self.value, self.missing_left)
        n = len(self.value)
        if any(a.ndim != 1 or len(a) != n for a in arrays) or n == 0 or self.roots.ndim != 1 or not len(self.roots):
            raise AnswerModelError(f"tree model's node arrays disagree in length: refit with `{REFIT}`")
        inner = self.left >= 0
        if (
            self.roots.min() < 0
            or self.roots.max() >= n
            or (inner & ((self.left >= n) | (self.right < 0) | (self.right >= n))).any()
            or ((self.feature < 0) | (self.feature >= len(self.features))).any()
            or not np.isfinite(self.value).all()
        ):
            raise AnswerModelError(f"tree model points outside its nodes or features: refit with `{REFIT}`")
        # Children come after their parent, so every path ends.
        index = np.arange(n)
        if (inner & ((self.left <= index) | (self.right <= index))).any():
            raise AnswerModelError(f"tree model's nodes are out of order: refit with `{REFIT}`")

    def _goes_left(self, values: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        return (values <= self.split[nodes]) | (np.isnan(values) & self.missing_left[nodes])

    def _leaves(self, rows: np.ndarray) -> np.ndarray:
        """The leaf each row reaches in each tree: (rows, trees) node indices."""
        nodes = np.broadcast_to(self.roots, (len(rows), len(self.roots))).copy()
        at = np.arange(len(rows))[:, None]
        while True:
            inner = self.left[nodes] >= 0
            if not inner.any():
                return nodes
            go_left = self._goes_left(rows[at, self.feature[nodes]], nodes)
            nodes = np.where(inner, np.where(go_left, self.left[nodes], self.right[nodes]), nodes)

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        """One probability per row of a (n, features) array."""
        rows = np.asarray(rows, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != len(self.features):
            raise ValueError(f"rows of {len(self.features)} features expected, got an array of shape {rows.shape}")
        z = self.baseline + self.value[self._leaves(rows)].sum(axis=1)
        return 1.0 / (1.0 + np.exp(-np.clip(z, -700, 700)))

    def probability(self, x: Sequence[float]) -> float:
        return float(self.probabilities(np.asarray([x]))[0])

    def explain(self, x: Sequence[float]) -> dict[str, Any]:
        """Each feature's value and its share of the logit (the change at each split on it,
        along the row's path through every tree), with the intercept and the probability."""
        row = np.asarray(x, dtype=np.float64)
        contribution = np.zeros(len(self.features))
        intercept = self.baseline + float(self.value[self.roots].sum())
        for node in self.roots.tolist():
            while self.left[node] >= 0:
                f = int(self.feature[node])
                child = int(self.left[node] if self._goes_left(row[f], node) else self.right[node])
                contribution[f] += self.value[child] - self.value[node]
                node = child
        parts = {
            name: {"value": round(float(v), 4), "contribution": round(float(c), 4)}
            for name, v, c in zip(self.features, row, contribution, strict=True)
        }
        return {"features": parts, "intercept": round(intercept, 4), "probability": round(self.probability(x), 4)}

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "trees",
            "features": list(self.features),
            "baseline": self.baseline,
            "roots": self.roots.tolist(),
            "feature": self.feature.tolist(),
            "split": self.split.tolist(),
            "left": self.left.tolist(),
            "right": self.right.tolist(),
            "value": self.value.tolist(),
            "missing_left": self.missing_left.astype(int).tolist(),
            "threshold": self.threshold,
        }

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TreeModel) and self.to_json() == other.to_json()

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], expected: Sequence[str], name: str) -> TreeModel:
        try:
            model = cls(
                features=tuple(obj["features"]),
                baseline=float(obj["baseline"]),
                roots=np.asarray(obj["roots"], dtype=np.int64),
                feature=np.asarray(obj["feature"], dtype=np.int64),
                split=np.asarray(obj["split"], dtype=np.float64),
                left=np.asarray(obj["left"], dtype=np.int64),
                right=np.asarray(obj["right"], dtype=np.int64),
                value=np.asarray(obj["value"], dtype=np.float64),
                missing_left=np.asarray(obj["missing_left"], dtype=bool),
                threshold=float(obj["threshold"]),
            )
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise AnswerModelError(f"answer model {name!r} is malformed ({exc!r}): refit with `{REFIT}`") from exc
        _check_features(model.features, expected, name)
        return model


Model = LinearModel | TreeModel


def _check_features(features: Sequence[str], expected: Sequence[str], name: str) -> None:
    if tuple(features) != tuple(expected):
        raise AnswerModelError(
            f"answer model {name!r} was fitted on features {list(features)}, this code computes "
            f"{list(expected)}: refit with `{REFIT}`"
        )


def model_from_json(obj: Any, expected: Sequence[str], name: str) -> Model:
    """A linear or a tree model, by its `kind` (linear when absent)."""
    if not isinstance(obj, Mapping):
        raise AnswerModelError(f"answer model {name!r} is malformed (not an object): refit with `{REFIT}`")
    kind = obj.get("kind", "linear")
    if kind == "trees":
        return TreeModel.from_json(obj, expected, name)
    if kind != "linear":
        raise AnswerModelError(f"answer model {name!r} is malformed (kind {kind!r}): refit with `{REFIT}`")
    return LinearModel.from_json(obj, expected, name)


@dataclass(frozen=True)
class AnswerModels:
    sentence: Model
    decision: Model
    span: Model
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
        text = json.dumps(self.to_json(), ensure_ascii=False, indent=1)
        # A list of numbers on one line: the trees' node arrays would otherwise take a line per number.
        text = _NUMBER_LIST.sub(lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text)
        tmp = Path(path).with_suffix(".tmp")
        tmp.write_text(text + "\n", encoding="utf-8")
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
        sentence=model_from_json(obj.get("sentence", {}), expected["sentence"], "sentence"),
        decision=model_from_json(obj.get("decision", {}), expected["decision"], "decision"),
        span=model_from_json(obj.get("span", {}), expected["span"], "span"),
        info=obj.get("info", {}),
    )
