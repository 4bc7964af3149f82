"""The engine's exceptions. Every message names the thing, the value and the fix,
so the CLI and the HTTP layer can show it as one line."""


# The fix every damaged-index message names: a plain `policyqa ingest` of an
# unchanged corpus is a no-op, so it has to be a rebuild.
REBUILD_HINT = "re-run `policyqa ingest --rebuild PATH` to rebuild the index"


class PolicyQAError(Exception):
    """Base class: anything the engine raises on purpose."""


class InputError(PolicyQAError):
    """The caller gave something unusable (empty query, unknown mode, bad k)."""


class IngestError(PolicyQAError):
    """A file could not be read or parsed into text."""


class IndexNotFoundError(PolicyQAError):
    """No index has been built at the given directory yet."""


class IndexCorruptError(PolicyQAError):
    """An index file is missing, truncated or altered."""


class IndexVersionError(PolicyQAError):
    """The index was written by a newer (or unknown) format version."""


class ModelMismatchError(PolicyQAError):
    """The query embedder is not the model the index was built with."""


class DocumentNotFoundError(PolicyQAError):
    """No document with the given id is in the index."""


class UnsupportedFormatError(IngestError):
    """A file of a type that no parser reads."""


class DocumentTooLargeError(IngestError):
    """A file over a guard limit: pages, characters, unpacked size, nesting or upload bytes."""


class StorageUnavailableError(PolicyQAError):
    """The storage server (Milvus) cannot be reached or refused the request."""


class StorageBusyError(StorageUnavailableError):
    """Another process is writing to the same Milvus index."""
