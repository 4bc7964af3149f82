"""Optional generated answers from an OpenAI-compatible chat endpoint (a local
vLLM or Ollama serving Qwen, say), checked against the evidence.

The composer only rewrites an answer the extractive answerer already found:
- the prompt holds the retrieved passages, numbered [1]..[n], and asks for an
  answer from them alone, with [n] markers;
- every marker must name one of those passages;
- every figure in the generated text must appear verbatim in a passage it cites.
Anything else (an error, a timeout, no markers, a number it made up) returns
the extractive answer unchanged, with the reason in `evidence["llm"]`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import httpx

from policyqa.index.answer import Answer, Citation, unsupported_numbers
from policyqa.index.types import Hit

SYSTEM_PROMPT = (
    "你是政策文件问答助手。只能根据用户给出的编号段落回答，不得使用段落以外的知识。"
    "回答要简短（不超过三句），用中文；每句话后用 [编号] 标出所依据的段落，例如 [1]。"
    "数字必须与段落中的写法完全一致。段落中没有答案时，只回答：未找到。"
)
_MARKER = re.compile(r"\[(\d{1,3})\]")


@dataclass(frozen=True)
class LLMConfig:
    """Where the chat endpoint is and how it is used."""

    url: str  # base URL; requests go to {url}/chat/completions
    model: str
    api_key: str | None = None
    timeout_s: float = 30.0
    max_passages: int = 5
    max_tokens: int = 400

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(
                f"LLM url {self.url!r} is not http(s)://...: give the endpoint's base URL, e.g. http://127.0.0.1:11434/v1"
            )
        if not self.model:
            raise ValueError("LLM model is empty: name the model the endpoint serves")


def build_messages(question: str, passages: Sequence[Hit]) -> list[dict[str, str]]:
    """The grounded chat prompt: the numbered passages, then the question."""
    blocks = [f"[{i}] 《{h.title}》\n{h.chunk.text}" for i, h in enumerate(passages, start=1)]
    user = "段落：\n\n" + "\n\n".join(blocks) + f"\n\n问题：{question}\n回答："
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def check_generated(text: str, passages: Sequence[Hit]) -> tuple[list[int], str]:
    """The passage numbers `text` cites, and '' when it holds up; else the reason it does not."""
    if not text.strip():
        return [], "empty answer"
    if "未找到" in text and not _MARKER.search(text):
        return [], "the model found no answer"
    cited = list(dict.fromkeys(int(m) for m in _MARKER.findall(text)))
    if not cited:
        return [], "no [n] markers"
    wrong = [n for n in cited if not 1 <= n <= len(passages)]
    if wrong:
        return cited, f"markers {wrong} name no passage"
    made_up = unsupported_numbers(text, [passages[n - 1].chunk.text for n in cited])
    if made_up:
        return cited, f"figures {made_up} are in no cited passage"
    return cited, ""


class ChatComposer:
    """Composes `/ask` answers with a chat model; falls back to the extractive answer."""

    def __init__(self, config: LLMConfig, client: httpx.Client | None = None) -> None:
        self.config = config
        self._client = client or httpx.Client(timeout=config.timeout_s)

    def compose(self, extractive: Answer) -> Answer:
        """A generated answer over the extractive answer's passages, or `extractive` itself (see module doc)."""
        if not extractive.found:
            return extractive  # nothing to ground an answer in: never let a model guess
        passages = self._passages(extractive)
        try:
            text = self._chat(build_messages(extractive.question, passages))
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            return _fallback(extractive, f"endpoint failed: {exc.__class__.__name__}")
        cited, problem = check_generated(text, passages)
        if problem:
            return _fallback(extractive, problem)
        citations = [
            Citation(n, h.chunk.doc_id, h.title, h.source, h.chunk.chunk_id, h.chunk.text, h.chunk.start, h.chunk.end)
            for n, h in ((n, passages[n - 1]) for n in sorted(cited))
        ]
        return replace(
            extractive,
            answer=text.strip(),
            citations=citations,
            passages=list(passages),
            composer="llm",
            evidence={**extractive.evidence, "llm": "ok"},
        )

    def _passages(self, extractive: Answer) -> list[Hit]:
        """The passages the extractive answer quotes first, then the next best, up to `max_passages`."""
        cited = {c.chunk_id for c in extractive.citations}
        ordered = [h for h in extractive.passages if h.chunk.chunk_id in cited]
        ordered += [h for h in extractive.passages if h.chunk.chunk_id not in cited]
        return ordered[: self.config.max_passages]

    def _chat(self, messages: list[dict[str, str]]) -> str:
        headers = {"Authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {}
        response = self._client.post(
            self.config.url.rstrip("/") + "/chat/completions",
            json={
                "model": self.config.model,
                "messages": messages,
                "temperature": 0,
                "max_tokens": self.config.max_tokens,
            },
            headers=headers,
            timeout=self.config.timeout_s,
        )
        response.raise_for_status()
        payload: Any = response.json()
        content = payload["choices"][0]["message"]["content"]
        if not isinstance(content, str):
            raise TypeError("message content is not text")
        return content

    def close(self) -> None:
        self._client.close()


def _fallback(extractive: Answer, reason: str) -> Answer:
    return replace(extractive, evidence={**extractive.evidence, "llm": f"fell back to extractive: {reason}"})
