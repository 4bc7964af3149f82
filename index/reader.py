"""An optional extractive reader: a local question-answering model run through
`transformers`, which gives the short answer instead of the learned span model.

Point it at a folder holding a model fine-tuned for extractive QA (for example
one trained on CMRC 2018) and its tokenizer; nothing is downloaded. Passages
longer than the model's window are read in overlapping windows (`stride`), and
the answer comes back as character offsets into the passage, so the short
answer stays an exact span of the document. Its quality is not measured here:
no such model ships in a package this project can install.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import PolicyQAError


class ReaderError(PolicyQAError):
    """The reader model folder is missing or not a question-answering model."""


@dataclass(frozen=True)
class ReaderSpan:
    """What the reader found: `passage[start:end] == text`."""

    text: str
    start: int
    end: int
    score: float


class TransformersReader:
    """Extractive QA with a local `transformers` model; one at a time (the pipeline is not thread-safe)."""

    def __init__(self, path: Path, max_length: int = 384, stride: int = 128, max_answer_tokens: int = 40) -> None:
        """Raises ReaderError when `path` is not a folder with a question-answering model and its tokenizer."""
        import threading

        path = Path(path)
        if not path.is_dir():
            raise ReaderError(f"reader model {path} is not a folder: point POLICYQA_READER at a local QA model")
        if stride >= max_length:
            raise ReaderError(f"reader stride {stride} must be smaller than max_length {max_length}")
        try:
            from transformers import AutoModelForQuestionAnswering, AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            model = AutoModelForQuestionAnswering.from_pretrained(str(path), local_files_only=True)
            if not tokenizer.is_fast:
                raise ValueError("the reader needs a fast tokenizer (character offsets)")
        except (OSError, ValueError, KeyError) as exc:
            raise ReaderError(
                f"cannot load a question-answering model from {path} ({exc.__class__.__name__}): "
                "it needs config.json, the weights and the tokenizer files"
            ) from exc
        self.path = path
        self.max_length, self.stride, self.max_answer_tokens = max_length, stride, max_answer_tokens
        self._tokenizer: Any = tokenizer
        self._model: Any = model.eval()
        self._lock = threading.Lock()

    def read(self, question: str, passage: str) -> ReaderSpan | None:
        """The best answer span of `passage` over all its windows (highest start + end
        logit), or None when the model finds none."""
        if not passage.strip() or not question.strip():
            return None
        import torch

        # The passage in overlapping windows of max_length tokens, the question in each (SQuAD-style).
        enc = self._tokenizer(
            question,
            passage,
            truncation="only_second",
            max_length=self.max_length,
            stride=self.stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding="max_length",
            return_tensors="pt",
        )
        offsets = enc.pop("offset_mapping").tolist()
        enc.pop("overflow_to_sample_mapping", None)
        with self._lock, torch.no_grad():
            out = self._model(**enc)
        best: ReaderSpan | None = None
        for w in range(len(offsets)):
            in_passage = [i for i, sid in enumerate(enc.sequence_ids(w)) if sid == 1]
            if not in_passage:
                continue
            first, last = in_passage[0], in_passage[-1]
            starts = out.start_logits[w, first : last + 1]
            ends = out.end_logits[w, first : last + 1]
            # best start <= end pair within the answer length limit
            scores = starts[:, None] + ends[None, :]
            allowed = torch.triu(torch.ones_like(scores, dtype=torch.bool)) & ~torch.triu(
                torch.ones_like(scores, dtype=torch.bool), diagonal=self.max_answer_tokens
            )
            scores = scores.masked_fill(~allowed, float("-inf"))
            flat = int(torch.argmax(scores))
            i, j = divmod(flat, scores.shape[1])
            start, end = offsets[w][first + i][0], offsets[w][first + j][1]
            score = float(scores[i, j])
            if end > start and (best is None or score > best.score):
                text = passage[start:end]
                lead = len(text) - len(text.lstrip())
                stripped = text.strip()
                if stripped:
                    best = ReaderSpan(stripped, start + lead, start + lead + len(stripped), score)
        return best


def open_reader(path: Path | None) -> TransformersReader | None:
    """The reader at `path`, or None when no path is set (the learned span model answers then)."""
    return None if path is None else TransformersReader(path)
