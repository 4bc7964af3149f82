"""llm: generated answers from an OpenAI-compatible chat endpoint, checked against the passages.

A real model server (vLLM or Ollama serving Qwen) cannot run here: there is no
network to fetch weights and no GPU in CI. A tiny fake OpenAI-compatible server
on 127.0.0.1 stands in for it: it answers /v1/chat/completions with a canned
reply and records what it was sent, which is all the composer relies on.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from policyqa.index.answer import Answer, ExtractiveAnswerer
from policyqa.index.embedders import UsemEmbedder
from policyqa.service.app import create_app
from policyqa.service.llm import ChatComposer, LLMConfig, build_messages, check_generated
from policyqa.service.settings import Settings

from .support import open_engine

QUESTION = "哪个园区提出数字经济增加值占GDP比重达35%？"


class FakeChat:
    """An OpenAI-compatible /v1/chat/completions on a free loopback port."""

    def __init__(self) -> None:
        self.reply = ""
        self.status = 200
        self.delay = 0.0
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                time.sleep(fake.delay)
                payload = json.dumps(
                    {
                        "id": "x",
                        "object": "chat.completion",
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": fake.reply},
                                "finish_reason": "stop",
                            }
                        ],
                    }
                ).encode()
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def fake() -> Iterator[FakeChat]:
    server = FakeChat()
    yield server
    server.close()


@pytest.fixture(scope="module")
def extractive(seed_index: Path, usem: UsemEmbedder) -> Answer:
    answer = ExtractiveAnswerer(open_engine(seed_index, usem)).answer(QUESTION)
    assert answer.found
    return answer


def composer(fake: FakeChat, timeout_s: float = 5.0) -> ChatComposer:
    return ChatComposer(LLMConfig(url=fake.url, model="qwen2.5-7b-instruct", api_key="llm-key", timeout_s=timeout_s))


def test_a_grounded_answer_is_used(fake: FakeChat, extractive: Answer) -> None:
    fake.reply = "广阳湾智创生态城提出，到2025年数字经济增加值占GDP比重达35%[1]。"
    answer = composer(fake).compose(extractive)
    assert answer.composer == "llm" and answer.found
    assert answer.answer == fake.reply
    (citation,) = answer.citations
    assert citation.n == 1 and "数字经济增加值占GDP比重达35%" in citation.quote
    assert citation.chunk_id == extractive.citations[0].chunk_id  # the quoted passage is passage [1]

    # the request: the model, the key, a prompt holding the question and the numbered passages
    (request,) = fake.requests
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer llm-key"
    body = request["body"]
    assert body["model"] == "qwen2.5-7b-instruct" and body["temperature"] == 0
    prompt = body["messages"][-1]["content"]
    assert QUESTION in prompt and "[1]" in prompt and extractive.citations[0].quote in prompt
    assert "只能根据" in body["messages"][0]["content"]


def test_a_made_up_number_falls_back_to_the_extractive_answer(fake: FakeChat, extractive: Answer) -> None:
    fake.reply = "广阳湾智创生态城提出数字经济增加值占GDP比重达45%[1]。"  # 45% is in no passage
    answer = composer(fake).compose(extractive)
    assert answer.composer == "extractive"
    assert (answer.answer, answer.citations) == (extractive.answer, extractive.citations)
    assert "45%" in answer.evidence["llm"]


@pytest.mark.parametrize(
    "reply, status, problem",
    [
        ("数字经济增加值占GDP比重达35%。", 200, "no [n] markers"),
        ("数字经济增加值占GDP比重达35%[9]。", 200, "name no passage"),
        ("未找到。", 200, "found no answer"),
        ("", 200, "empty answer"),
        ("无所谓", 500, "endpoint failed: HTTPStatusError"),
    ],
)
def test_other_failures_fall_back(fake: FakeChat, extractive: Answer, reply: str, status: int, problem: str) -> None:
    fake.reply, fake.status = reply, status
    answer = composer(fake).compose(extractive)
    assert answer.composer == "extractive" and answer.answer == extractive.answer
    assert problem in answer.evidence["llm"]


def test_a_slow_endpoint_times_out_and_falls_back(fake: FakeChat, extractive: Answer) -> None:
    fake.reply, fake.delay = "数字经济增加值占GDP比重达35%[1]。", 2.0
    answer = composer(fake, timeout_s=0.3).compose(extractive)
    assert answer.composer == "extractive" and "ReadTimeout" in answer.evidence["llm"]


def test_an_unreachable_endpoint_falls_back(extractive: Answer) -> None:
    dead = ChatComposer(LLMConfig(url="http://127.0.0.1:9/v1", model="m", timeout_s=0.5))
    assert dead.compose(extractive).composer == "extractive"


def test_not_found_never_reaches_the_model(fake: FakeChat, seed_index: Path, usem: UsemEmbedder) -> None:
    nothing = ExtractiveAnswerer(open_engine(seed_index, usem)).answer("上海浦东新区2021年GDP是多少？")
    assert composer(fake).compose(nothing) is nothing and fake.requests == []


def test_check_generated(extractive: Answer) -> None:
    passages = extractive.passages
    assert check_generated("比重达35%[1]", passages) == ([1], "")
    assert (
        check_generated("比重达35%[1]，另有2035年的目标[1]", passages)[1] == "figures ['2035'] are in no cited passage"
    )
    messages = build_messages("问题？", passages[:2])
    assert messages[0]["role"] == "system" and "[2] 《" in messages[1]["content"]


def test_ask_uses_the_configured_endpoint(fake: FakeChat, seed_index: Path, usem: UsemEmbedder, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index, index_dir)
    settings = Settings(index_dir=index_dir, seeds_dir=tmp_path / "none", llm_url=fake.url, llm_model="qwen")
    fake.reply = "该园区提出数字经济增加值占GDP比重达35%[1]。"
    with TestClient(create_app(settings, engine=open_engine(index_dir, usem))) as c:
        assert c.get("/health").json()["generated_answers"] is True
        body = c.post("/ask", json={"question": QUESTION}).json()
        assert body["composer"] == "llm" and body["answer"] == fake.reply and body["found"]
        fake.reply = "比重达99%[1]。"
        assert c.post("/ask", json={"question": QUESTION}).json()["composer"] == "extractive"


def test_settings_need_a_model_with_a_url(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="POLICYQA_LLM_MODEL"):
        Settings(index_dir=tmp_path, llm_url="http://127.0.0.1:1/v1")
