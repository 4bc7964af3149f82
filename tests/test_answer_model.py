"""answer_model: the shipped models load from JSON (no pickle), explain themselves, and fail clearly."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from policyqa.index.answer import DECISION_FEATURES, EXPECTED_FEATURES, SENTENCE_FEATURES
from policyqa.index.answer_model import DEFAULT_MODEL_PATH, AnswerModelError, LinearModel, load_models


def test_shipped_model_is_plain_json_and_loads_without_pickle(monkeypatch: pytest.MonkeyPatch) -> None:
    import pickle

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("pickle must not be used to load the answer model")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    raw = json.loads(DEFAULT_MODEL_PATH.read_text(encoding="utf-8"))  # it is JSON, nothing else
    assert raw["format"] == "policyqa-answer-model/1"
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
        ('{"format": "policyqa-answer-model/1", "sentence": {}}', "malformed"),
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
