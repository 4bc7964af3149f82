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
    assert raw["sentence"]["kind"] == "trees" and raw["decision"]["kind"] == raw["span"]["kind"] == "linear"
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


def test_exported_trees_predict_as_scikit_learn() -> None:
    model, x, reference = _small_trees()
    assert model.probabilities(x) == pytest.approx(reference, abs=1e-9)
    assert model.probability(x[7]) == pytest.approx(reference[7], abs=1e-9)
    # An inner node's value is the mean of its children's (so a path's steps are in logits).
    inner = np.where(model.left >= 0)[0]
    children = np.stack([model.value[model.left[inner]], model.value[model.right[inner]]])
    assert (children.min(axis=0) - 1e-12 <= model.value[inner]).all()
    assert (model.value[inner] <= children.max(axis=0) + 1e-12).all()
    with pytest.raises(ValueError, match="features expected"):
        model.probabilities(np.zeros((2, 4)))


def test_trees_send_a_missing_value_where_scikit_learn_does() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    from policyqa.eval.fit_answerer import TREES, fit_trees

    rng = np.random.default_rng(1)
    x = rng.random((600, 2))
    x[rng.random(600) < 0.2, 0] = np.nan  # missing in training, so the trees learn a side for it
    y = np.where(np.isnan(x[:, 0]), 1.0, x[:, 0]) + 0.3 * rng.random(600) > 0.7
    model = fit_trees(x, y, np.ones(600), ("a", "b"))
    reference = HistGradientBoostingClassifier(**TREES).fit(x, y)
    probe = np.array([[np.nan, 0.5], [0.1, 0.5]])
    assert model.probabilities(probe) == pytest.approx(reference.predict_proba(probe)[:, 1], abs=1e-9)


def test_tree_explain_gives_each_split_its_step() -> None:
    # One tree: a <= 0.5 -> leaf -1 (1 row); else b <= 0.5 -> leaf 1 (1 row), else leaf 3 (2 rows).
    # Inner values: node 2 = (1 * 1 + 2 * 3) / 3 = 7/3; root = (1 * -1 + 3 * 7/3) / 4 = 1.5.
    model = TreeModel(
        ("a", "b"),
        baseline=0.25,
        roots=np.array([0]),
        feature=np.array([0, 0, 1, 0, 0]),
        split=np.array([0.5, 0.0, 0.5, 0.0, 0.0]),
        left=np.array([1, -1, 3, -1, -1]),
        right=np.array([2, -1, 4, -1, -1]),
        value=np.array([1.5, -1.0, 7 / 3, 1.0, 3.0]),
        missing_left=np.zeros(5, dtype=bool),
    )
    explained = model.explain([0.9, 0.9])
    assert explained["intercept"] == pytest.approx(1.75)
    assert explained["features"]["a"]["contribution"] == pytest.approx(7 / 3 - 1.5, abs=1e-4)
    assert explained["features"]["b"]["contribution"] == pytest.approx(3 - 7 / 3, abs=1e-4)
    assert explained["probability"] == pytest.approx(1 / (1 + math.exp(-3.25)), abs=1e-4)
    assert model.explain([0.1, 0.9])["features"]["b"]["contribution"] == 0.0  # b is not on this path


def test_trees_round_trip_through_json_and_bad_nodes_are_refused(tmp_path: Path) -> None:
    model, x, _ = _small_trees()
    raw = json.loads(json.dumps(model.to_json()))
    again = TreeModel.from_json(raw, ("a", "b", "c"), "sentence")
    assert again == model and again.probabilities(x).tolist() == model.probabilities(x).tolist()
    three = {"roots": [0], "feature": [0, 0, 0], "split": [0.5, 0.0, 0.0], "value": [0.0, 0.0, 0.0]}
    loop = dict(raw, **three, missing_left=[0, 0, 0], left=[1, 0, -1], right=[2, 2, -1])  # node 1 points back at 0
    with pytest.raises(AnswerModelError, match="out of order"):
        TreeModel.from_json(loop, ("a", "b", "c"), "sentence")
    with pytest.raises(AnswerModelError, match="outside"):
        TreeModel.from_json(dict(raw, **three, missing_left=[0, 0, 0], left=[1, -1, -1], right=[7, -1, -1]),
                            ("a", "b", "c"), "sentence")
    with pytest.raises(AnswerModelError, match="malformed"):
        TreeModel.from_json(dict(raw, baseline=10**400), ("a", "b", "c"), "sentence")
    with pytest.raises(AnswerModelError, match="disagree in length"):
        TreeModel.from_json(dict(raw, value=raw["value"][:-1]), ("a", "b", "c"), "sentence")
    with pytest.raises(AnswerModelError, match="was fitted on features"):
        TreeModel.from_json(raw, ("a", "b", "z"), "sentence")


def test_the_answerer_quotes_with_the_ratio_its_models_were_fitted_with() -> None:
    from policyqa.index.answer import AnswerConfig

    # The decision and span models learned from the quotes this ratio gives: a different one at run time
    # would feed them answers unlike those they were fitted on.
    assert load_models(EXPECTED_FEATURES).info["follow_ratio"] == AnswerConfig().follow_ratio
