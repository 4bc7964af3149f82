"""reader: the optional transformers reader, with a tiny randomly initialised
model built here from a config (nothing is downloaded). Its answers are
arbitrary; what is tested is the plumbing: loading from a folder, long
passages read with a stride, and short answers that are exact document spans."""

from __future__ import annotations

from pathlib import Path

import pytest

from policyqa.index.answer import ExtractiveAnswerer
from policyqa.index.reader import ReaderError, TransformersReader, open_reader

from .support import open_engine

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


@pytest.fixture(scope="module")
def tiny_reader_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import BertConfig, BertForQuestionAnswering, BertTokenizerFast

    folder = tmp_path_factory.mktemp("reader")
    chars = sorted({ch for f in SEEDS.glob("*.txt") for ch in f.read_text(encoding="utf-8") if not ch.isspace()})
    chars += [c for c in "abcdefghijklmnopqrstuvwxyz0123456789%?？" if c not in chars]
    (folder / "vocab.txt").write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars]), encoding="utf-8"
    )
    tokenizer = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), tokenize_chinese_chars=True)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=512,
    )
    BertForQuestionAnswering(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_reader_reads_a_long_passage_in_windows(tiny_reader_dir: Path) -> None:
    reader = TransformersReader(tiny_reader_dir, max_length=64, stride=16)
    passage = (SEEDS / "000_6c3b29e3f385016a.txt").read_text(encoding="utf-8")[:600]  # far over 64 tokens
    span = reader.read("哪个园区提出数字经济增加值占GDP比重达35%？", passage)
    assert span is not None and span.text and passage[span.start : span.end] == span.text
    assert reader.read("问题", "   ") is None


def test_short_answers_come_from_the_reader_as_exact_spans(
    tiny_reader_dir: Path, seed_index: Path, usem: object
) -> None:
    engine = open_engine(seed_index, usem)  # type: ignore[arg-type]
    answerer = ExtractiveAnswerer(engine, reader=TransformersReader(tiny_reader_dir))
    answer = answerer.answer("哪个园区提出数字经济增加值占GDP比重达35%？")
    assert answer.found and answer.short_answer is not None
    s = answer.short_answer
    assert engine.backend.view().document_text(s.doc_id)[s.start : s.end] == s.text
    assert answer.evidence["short_answer"]["reader"] == str(tiny_reader_dir)


def test_reader_errors_are_clear(tmp_path: Path) -> None:
    assert open_reader(None) is None
    with pytest.raises(ReaderError, match="is not a folder"):
        TransformersReader(tmp_path / "missing")
    with pytest.raises(ReaderError, match="cannot load a question-answering model"):
        TransformersReader(tmp_path)
    with pytest.raises(ReaderError, match="stride"):
        TransformersReader(tmp_path, max_length=64, stride=64)
