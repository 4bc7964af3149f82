"""answer_model: the shipped models load from JSON (no pickle), explain themselves, and fail clearly."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from policyqa.index.answer import DECISION_FEATURES, EXPECTED_FEATURES, SENTENCE_FEATURES
from policyqa.index.answer_model import DEFAULT_MODEL_PATH, AnswerModelError, LinearModel, TreeModel, load_models


def test_shipped_model_is_plain_json_and_loads_without_pickle(monkeypatch: pytest.MonkeyPatch) -> None:
    import pickle

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("pickle must not be used to load the answer model")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    raw = json.loads(DEFAULT_MODEL_PATH.read_text(encoding="utf-8"))  # it is JSON, nothing else
    assert raw["format"] == "policyqa-answer-model/2"
    assert raw["sentence"]["kind"] == "trees" and raw["decision"]["kind"] == "linear"
    models = load_models(EXPECTED_FEATURES)
    assert models.sentence.features == SENTENCE_FEATURES and models.decision.features == DECISION_FEATURES
    assert 0.0 < models.decision.threshold < 1.0
    assert models.info["fitted_by"] == "python -m policyqa.eval.fit_answerer"


def test_probability_and_explain_agree() -> None:
    # p = sigmoid(0.5 + 2 * (3 - 1) / 2 - 1 * (0 - 0) / 1) = sigmoid(2.5)
    model = LinearModel(("a", "b"), (1.0, 0.0), (2.0, 1.0), (2.0, -1.0), 0.5, threshold=0.6)
    assert model.probability([3.0, 0.0]) == pytest.approx(1 / (1 + math.exp(-2.5)))
    explained = model.explain([3.0, 0.0])
    assert explained["features"]["a"] == {"value": 3.0, "weight": 1.0, "contribution": 2.0}
    total = explained["intercept"] + sum(f["contribution"] for f in explained["features"].values())
    assert 1 / (1 + math.exp(-total)) == pytest.approx(explained["probability"], abs=1e-4)
    assert model.probabilities(np.array([[3.0, 0.0], [1.0, 0.0]])).tolist() == pytest.approx(
        [1 / (1 + math.exp(-2.5)), 1 / (1 + math.exp(-0.5))]
    )


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    models = load_models(EXPECTED_FEATURES)
    models.save(tmp_path / "m.json")
    again = load_models(EXPECTED_FEATURES, tmp_path / "m.json")
    assert again == models


@pytest.mark.parametrize(
    "content, needle",
    [
        (None, "cannot read answer model"),
        ("not json", "is not JSON"),
        ('{"format": "other"}', "is not in format"),
        ('{"format": "policyqa-answer-model/2", "sentence": {}}', "malformed"),
    ],
)
def test_bad_model_files_are_one_clear_error(tmp_path: Path, content: str | None, needle: str) -> None:
    path = tmp_path / "model.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(AnswerModelError, match=needle) as info:
        load_models(EXPECTED_FEATURES, path)
    assert "python -m policyqa.eval.fit_answerer" in str(info.value)


def test_a_model_fitted_on_other_features_is_refused(tmp_path: Path) -> None:
    raw = json.loads(DEFAULT_MODEL_PATH.read_text(encoding="utf-8"))
    raw["span"]["features"][0] = "something_else"
    path = tmp_path / "model.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(AnswerModelError, match="was fitted on features"):
        load_models(EXPECTED_FEATURES, path)


def test_lengths_and_scales_are_checked() -> None:
    with pytest.raises(AnswerModelError, match="features"):
        LinearModel(("a",), (0.0, 1.0), (1.0,), (1.0,), 0.0)
    with pytest.raises(AnswerModelError, match="scale"):
        LinearModel(("a",), (0.0,), (0.0,), (1.0,), 0.0)


def _small_trees() -> tuple[TreeModel, np.ndarray, np.ndarray]:
    """Trees exported by the refit script's own exporter, and the scikit-learn probabilities they must give."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from policyqa.eval.fit_answerer import TREES, fit_trees

    rng = np.random.default_rng(0)
    x = rng.random((600, 3))
    y = x[:, 0] * x[:, 1] + 0.2 * rng.random(600) > 0.35
    model = fit_trees(x, y, np.ones(600), ("a", "b", "c"))
    reference = HistGradientBoostingClassifier(**TREES).fit(x, y).predict_proba(x)[:, 1]
    return model, x, reference


def test_exported_trees_predict_as_scikit_learn_and_explain_exactly() -> None:
    model, x, reference = _small_trees()
    assert model.probabilities(x) == pytest.approx(reference, abs=1e-9)
    assert model.probability(x[7]) == pytest.approx(reference[7], abs=1e-9)
    explained = model.explain(x[7])
    total = explained["intercept"] + sum(f["contribution"] for f in explained["features"].values())
    assert 1 / (1 + math.exp(-total)) == pytest.approx(explained["probability"], abs=1e-3)
    # The features the trees split on carry the contributions; c is noise and carries little.
    contributions = {name: abs(f["contribution"]) for name, f in explained["features"].items()}
    assert max(contributions["a"], contributions["b"]) > contributions["c"]


def test_trees_round_trip_through_json_and_bad_nodes_are_refused(tmp_path: Path) -> None:
    model, x, _ = _small_trees()
    raw = json.loads(json.dumps(model.to_json()))
    again = TreeModel.from_json(raw, ("a", "b", "c"), "sentence")
    assert again == model and again.probabilities(x).tolist() == model.probabilities(x).tolist()
    loop = dict(raw, left=[0] * len(raw["left"]))  # a child pointing back at its parent: a path without end
    with pytest.raises(AnswerModelError, match="out of order|outside"):
        TreeModel.from_json(loop, ("a", "b", "c"), "sentence")
    with pytest.raises(AnswerModelError, match="disagree in length"):
        TreeModel.from_json(dict(raw, value=raw["value"][:-1]), ("a", "b", "c"), "sentence")
    with pytest.raises(AnswerModelError, match="was fitted on features"):
        TreeModel.from_json(raw, ("a", "b", "z"), "sentence")
