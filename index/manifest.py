"""The index manifest, in one place: what is recorded about an index, how it
is sealed with its own checksum, and what is checked against it.

- `index_manifest`: what the engine records (model, tokenizer, chunking, the
  corpus fingerprint); `with_counts` adds what a backend built.
- `seal` / `unseal`: the format version, the file list and the self-checksum
  written by the index directory, and their check on reading.
- `check_model` (on every open) and `check_chunking` (before a write): a
  mismatch is a one-line error that says how to rebuild.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .errors import IndexCorruptError, IndexVersionError, ModelMismatchError

if TYPE_CHECKING:
    from .chunking import ChunkingConfig
    from .embedders import Embedder
    from .tokenize import ChineseTokenizer

FORMAT_VERSION = 1
# The manifest's checksum of itself: a flipped byte that still parses as JSON
# (a digit of a size or a hash, a letter of the model name) must not pass.
SELF_SUM = "manifest_sha256"


def corpus_fingerprint(docs: Iterable[tuple[str, str]]) -> str:
    """One hash over every (doc_id, content fingerprint): equal corpora, equal hash."""
    h = hashlib.sha256()
    for doc_id, fp in sorted(docs):
        h.update(f"{doc_id}:{fp}\n".encode())
    return h.hexdigest()


def index_manifest(
    embedder: Embedder,
    tokenizer: ChineseTokenizer,
    chunking: ChunkingConfig,
    docs: Iterable[tuple[str, str]],
    model_name: str,
) -> dict[str, Any]:
    """What an index built from `docs` ((doc_id, fingerprint) pairs) records:
    the keys `check_model` and `check_chunking` read. Anything that writes an
    index through a backend directly (the benchmark) uses this too."""
    return {
        "model_id": embedder.model_id,
        "model_name": model_name,
        "dim": embedder.dim,
        "tokenizer": tokenizer.fingerprint,
        "chunking": chunking_record(chunking),
        "corpus_fingerprint": corpus_fingerprint(docs),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def chunking_record(chunking: ChunkingConfig) -> dict[str, int]:
    return {"size": chunking.size, "overlap_sentences": chunking.overlap_sentences}


def with_counts(
    manifest: Mapping[str, Any], *, documents: int, chunks: int, vocabulary: int, dense_index: str, backend: str
) -> dict[str, Any]:
    """The engine's manifest plus what the backend built."""
    return {
        **manifest,
        "counts": {"documents": documents, "chunks": chunks, "vocabulary": vocabulary},
        "dense_index": dense_index,
        "backend": backend,
    }


def _self_sum(manifest: Mapping[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k != SELF_SUM}
    canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def seal(manifest: Mapping[str, Any], files: Mapping[str, Mapping[str, Any]]) -> str:
    """The manifest as written: with the format version, the files (size and
    sha256 each) and its own checksum; JSON text."""
    sealed = {**manifest, "format_version": FORMAT_VERSION, "files": dict(files)}
    sealed[SELF_SUM] = _self_sum(sealed)
    return json.dumps(sealed, ensure_ascii=False, indent=2)


def unseal(text: str, where: str, fix: str) -> dict[str, Any]:
    """A manifest read back, after checking its format version and its own
    checksum (the files it lists are the index directory's to check).

    Raises:
        IndexCorruptError: not JSON, not an object, altered, or no version.
        IndexVersionError: written by a newer policyqa.
    """
    try:
        manifest = json.loads(text)
    except ValueError as exc:
        raise IndexCorruptError(f"{where} is unreadable ({exc.__class__.__name__}): {fix}") from exc
    if not isinstance(manifest, dict):
        raise IndexCorruptError(f"{where} is not a JSON object: {fix}")
    version = manifest.get("format_version")
    # A newer writer may checksum differently, so its version is read first.
    if isinstance(version, int) and version > FORMAT_VERSION:
        raise IndexVersionError(
            f"{where} has format version {version!r}, this policyqa reads up to {FORMAT_VERSION}: "
            "upgrade policyqa, or re-run `policyqa ingest --rebuild PATH` to rebuild it in this format"
        )
    # Manifests written before the self-checksum existed have none to check.
    if SELF_SUM in manifest and manifest[SELF_SUM] != _self_sum(manifest):
        raise IndexCorruptError(f"{where} does not match its own checksum (altered or damaged): {fix}")
    if not isinstance(version, int):
        raise IndexCorruptError(f"{where} has no valid format_version ({version!r}): {fix}")
    return manifest


def check_model(manifest: Mapping[str, Any], embedder: Embedder, tokenizer: ChineseTokenizer) -> None:
    """The index must have been built with this embedding model and tokenizer."""
    built_with = manifest.get("model_id")
    if built_with != embedder.model_id or int(manifest.get("dim", -1)) != embedder.dim:
        raise ModelMismatchError(
            f"index was built with {built_with} ({manifest.get('dim')}-d); this query uses "
            f"{embedder.model_id} ({embedder.dim}-d): re-run `policyqa ingest --rebuild` "
            "with the new model, or drop --model to use the index's own"
        )
    if manifest.get("tokenizer") != tokenizer.fingerprint:
        raise ModelMismatchError(
            "index was built with a different tokenizer (user dictionary, stopwords or cut mode "
            f"changed; this query cuts in {tokenizer.cut.value} mode): re-run `policyqa ingest --rebuild`"
        )


def check_chunking(manifest: Mapping[str, Any], chunking: ChunkingConfig) -> None:
    """A write must chunk as the index was chunked: unchanged files keep their
    old chunks, so a new size would leave the index cut two ways."""
    recorded = manifest.get("chunking")
    wanted = chunking_record(chunking)
    if recorded is not None and recorded != wanted:
        raise ModelMismatchError(
            f"index was chunked with size {recorded.get('size')} (overlap {recorded.get('overlap_sentences')}), "
            f"this ingest asks for size {wanted['size']} (overlap {wanted['overlap_sentences']}): "
            "re-run with `--rebuild` to re-chunk everything, or use the index's own size"
        )
