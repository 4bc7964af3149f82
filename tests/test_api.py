"""The HTTP API over FastAPI's TestClient: search, cited answers, documents, errors, CORS and keys.

Read-only tests share one app on a copy of the session's seed index; a test that
writes gets its own copy (shutil.copytree), so tests never see each other's uploads.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from policyqa.index.embedders import UsemEmbedder
from policyqa.service.app import create_app
from policyqa.service.settings import Settings

from .conftest import SEEDS
from .support import make_docx, make_html, make_pdf, make_scanned_pdf, make_zip_bomb, open_engine

SEED_000 = "000_6c3b29e3f385016a"
FACT = "到2030年，星河湾数字港计划建成算力规模达987PFlops的智算中心。"
BODY = [FACT, "该港区同时推进绿色数据中心建设，数据中心能效比降至1.15以下。"]
QUESTION = "星河湾数字港计划建成多大算力规模的智算中心？"


@pytest.fixture(autouse=True)
def _no_policyqa_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read POLICYQA_* variables: the tests set every value themselves."""
    import os

    for name in [n for n in os.environ if n.startswith("POLICYQA_")]:
        monkeypatch.delenv(name)


def settings_for(index_dir: Path, **overrides: Any) -> Settings:
    return Settings(index_dir=index_dir, seeds_dir=index_dir.parent / "no-seeds", **overrides)


@pytest.fixture(scope="module")
def client(seed_index: Path, usem: UsemEmbedder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app for the read-only tests."""
    index_dir = tmp_path_factory.mktemp("api") / "index"
    shutil.copytree(seed_index, index_dir)
    app = create_app(settings_for(index_dir), engine=open_engine(index_dir, usem))
    with TestClient(app) as c:
        yield c


AppFactory = Callable[..., TestClient]


@pytest.fixture()
def make_client(seed_index: Path, usem: UsemEmbedder, tmp_path: Path) -> Iterator[AppFactory]:
    """A fresh app on a private copy of the seed index, with settings overrides."""
    clients: list[TestClient] = []

    def make(embedder: Any = None, raise_server_exceptions: bool = True, **overrides: Any) -> TestClient:
        index_dir = tmp_path / f"index{len(clients)}"
        shutil.copytree(seed_index, index_dir)
        engine = open_engine(index_dir, embedder or usem)
        app = create_app(settings_for(index_dir, **overrides), engine=engine)
        c = TestClient(app, raise_server_exceptions=raise_server_exceptions)
        c.__enter__()
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["message"] and "Traceback" not in body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def upload(c: TestClient, name: str, data: bytes, metadata: Any = None, **extra: Any) -> Any:
    form = {"metadata": json.dumps(metadata, ensure_ascii=False)} if metadata is not None else {}
    return c.post("/documents", files={"file": (name, data)}, data=form, **extra)


# ---- /ask ----


def test_ask_35_percent_park_in_english(client: TestClient) -> None:
    r = client.post("/ask", json={"question": "Which park targets a 35% digital-economy share?"})
    assert r.status_code == 200
    body = r.json()
    assert body["found"] is True and body["composer"] == "extractive"
    quotes = [c["quote"] for c in body["citations"]]
    assert any("数字经济增加值占GDP比重达35%" in q for q in quotes)
    first = body["citations"][0]
    assert Path(first["source"]).stem == SEED_000 and first["n"] == 1
    assert set(first) == {"n", "doc_id", "title", "source", "chunk_id", "quote", "start", "end"}
    assert body["answer"].endswith(f"[{len(quotes)}]")
    assert first["chunk_id"] in {p["chunk_id"] for p in body["passages"]}
    assert body["answer_type"] == "place" and body["explain"] is None
    assert body["short_answer"]["text"] == "广阳湾智创生态城" and body["short_answer"]["kind"] == "place"


def test_ask_explain_shows_each_decision(client: TestClient, seed_index: Path, usem: UsemEmbedder) -> None:
    body = client.post("/ask", json={"question": "哪个园区提出数字经济增加值占GDP比重达35%？", "explain": True}).json()
    explain = body["explain"]
    assert explain["answer_type"] == "place"
    for part in ("decision", "best_sentence", "short_answer"):
        assert 0 <= explain[part]["probability"] <= 1 and explain[part]["features"]
    short = body["short_answer"]
    text = open_engine(seed_index, usem).backend.view().document_text(short["doc_id"])
    assert text[short["start"] : short["end"]] == short["text"] == "广阳湾智创生态城"


def test_ask_about_a_missing_office_holder_is_not_found(client: TestClient) -> None:
    body = client.post("/ask", json={"question": "重庆经开区管委会主任是谁？"}).json()
    assert body["found"] is False and body["short_answer"] is None and body["answer_type"] == "person"


def test_ask_pudong_is_not_found(client: TestClient) -> None:
    r = client.post("/ask", json={"question": "上海浦东新区2021年GDP是多少？"})
    assert r.status_code == 200
    body = r.json()
    assert body["found"] is False and body["citations"] == []
    assert "上海浦东新区" in body["reason"] and body["answer"].startswith("未能在已收录的文档中找到")
    assert 1 <= len(body["passages"]) <= 5  # the nearest passages


def test_ask_quotes_are_exact_spans(client: TestClient, seed_index: Path, usem: UsemEmbedder) -> None:
    body = client.post("/ask", json={"question": "璧山区今年一季度地区生产总值同比增长多少？", "k": 3}).json()
    view = open_engine(seed_index, usem).backend.view()
    assert body["found"] and "6.9%" in body["answer"]
    for c in body["citations"]:
        assert view.document_text(c["doc_id"])[c["start"] : c["end"]] == c["quote"]


# ---- /search ----


def test_search_hits_have_the_cli_fields_and_highlights(client: TestClient) -> None:
    r = client.post("/search", json={"query": "数字经济增加值占GDP比重达35%", "k": 3, "mode": "hybrid"})
    assert r.status_code == 200
    body = r.json()
    assert body["mode"] == "hybrid" and body["index_version"] and len(body["hits"]) == 3
    hit = body["hits"][0]
    cli_fields = {
        "doc_id",
        "title",
        "source",
        "chunk_id",
        "section",
        "text",
        "start",
        "end",
        "score",
        "dense_score",
        "dense_rank",
        "lexical_score",
        "lexical_rank",
        "metadata",
    }
    assert cli_fields <= set(hit) and "highlights" in hit
    marked = [hit["text"][h["start"] : h["end"]] for h in hit["highlights"]]
    assert "35%" in marked and any("数字经济" in m for m in marked)
    assert all(a["end"] <= b["start"] for a, b in zip(hit["highlights"], hit["highlights"][1:], strict=False))


def test_english_query_highlights_the_bridged_chinese_terms(client: TestClient) -> None:
    hit = client.post("/search", json={"query": "Which park targets a 35% digital-economy share?", "k": 1}).json()[
        "hits"
    ][0]
    marked = {hit["text"][h["start"] : h["end"]] for h in hit["highlights"]}
    assert "35%" in marked and any("数字经济" in m for m in marked)
    body = client.post("/search", json={"query": "Which park targets a 35% digital-economy share?", "k": 1}).json()
    assert "park" in {t["query"] for t in body["bridge"]["terms"]}  # what the bridge added, as in the CLI's JSON


@pytest.mark.parametrize("mode", ["lexical", "dense", "hybrid"])
def test_search_modes(client: TestClient, mode: str) -> None:
    body = client.post("/search", json={"query": "重庆孔辉汽车空气弹簧耗电量", "k": 5, "mode": mode}).json()
    assert body["mode"] == mode and body["hits"]
    assert Path(body["hits"][0]["source"]).stem == "004_d80a47104466a858"


# ---- bad input: a clear 4xx JSON error, never a 500 ----

JSON_CASES = [
    ({"question": ""}, 422, "invalid_request"),
    ({"question": "   "}, 422, "invalid_request"),  # the schema's pattern says so: \S
    ({"question": "\u00a0\u3000"}, 422, "invalid_request"),
    ({"question": "问" * 10_000}, 422, "invalid_request"),
    ({"question": "数字经济", "mode": "fuzzy"}, 422, "invalid_request"),
    ({"question": "数字经济", "k": 0}, 422, "invalid_request"),
    ({"question": "数字经济", "k": 10**6}, 422, "invalid_request"),
    ({"question": "数字经济", "k": "many"}, 422, "invalid_request"),
    ({"question": "数字经济", "mdoe": "dense"}, 422, "invalid_request"),
    ({"question": "数字经济", "filters": {"doc_id": 7}}, 422, "invalid_input"),
    ({"question": "数字经济", "filters": {"region": {"nested": 1}}}, 422, "invalid_request"),
    (["数字经济"], 422, "invalid_request"),
    ({}, 422, "invalid_request"),
]


@pytest.mark.parametrize("path", ["/ask", "/search"])
@pytest.mark.parametrize("body, status, code", JSON_CASES)
def test_bad_json_input(client: TestClient, path: str, body: Any, status: int, code: str) -> None:
    if path == "/search" and isinstance(body, dict) and "question" in body:
        body = {("query" if k == "question" else k): v for k, v in body.items()}
    assert_error(client.post(path, json=body), status, code)


@pytest.mark.parametrize("raw", [b"{not json", b'{"question": "a",}', '{"question": "\u95ee'.encode()])
def test_malformed_json(client: TestClient, raw: bytes) -> None:
    error = assert_error(
        client.post("/ask", content=raw, headers={"content-type": "application/json"}), 400, "malformed_json"
    )
    assert "not valid JSON" in error["message"]


def test_oversized_json_body(client: TestClient) -> None:
    assert_error(
        client.post("/ask", content=b"x" * 300_000, headers={"content-type": "application/json"}), 413, "too_large"
    )


def test_k_above_the_configured_maximum(make_client: AppFactory) -> None:
    c = make_client(max_k=5)
    assert c.post("/search", json={"query": "数字经济", "k": 5}).status_code == 200
    error = assert_error(c.post("/search", json={"query": "数字经济", "k": 6}), 422, "invalid_input")
    assert "at most 5" in error["message"]


def test_unknown_document_and_route(client: TestClient) -> None:
    assert_error(client.delete("/documents/0000000000000000"), 404, "document_not_found")
    assert_error(client.get("/no-such-page"), 404, "not_found")
    assert_error(client.put("/ask", json={}), 405, "method_not_allowed")


# ---- uploads ----

FORMATS: dict[str, bytes] = {
    "report.txt": ("星河湾数字港规划报告\n\n" + "\n\n".join(BODY)).encode("utf-8"),
    "report.md": ("# 星河湾数字港规划报告\n\n" + "\n\n".join(f"- {p}" for p in BODY)).encode("utf-8"),
    "report.pdf": make_pdf([["星河湾数字港规划报告", *BODY]], title="星河湾数字港规划报告"),
    "report.docx": make_docx(BODY, heading="星河湾数字港规划报告"),
    "report.html": make_html(
        "<h1>星河湾数字港规划报告</h1>" + "".join(f"<p>{p}</p>" for p in BODY), title="星河湾数字港规划报告"
    ),
}


@pytest.mark.parametrize("name", list(FORMATS))
def test_upload_query_delete(make_client: AppFactory, name: str) -> None:
    c = make_client()
    r = upload(c, name, FORMATS[name], metadata={"region": "星河湾", "year": 2030})
    assert r.status_code == 201, r.text
    doc = r.json()["document"]
    assert r.json()["status"] == "added"
    pages = {"pages": [0]} if name.endswith(".pdf") else {}  # a PDF's page starts come with it
    assert doc["source"] == f"upload:{name}" and doc["metadata"] == {"region": "星河湾", "year": 2030, **pages}
    assert doc["title"] == "星河湾数字港规划报告" and doc["chunks"] >= 1

    # visible to the next query, no restart
    hits = c.post("/search", json={"query": QUESTION, "k": 3}).json()["hits"]
    assert hits[0]["doc_id"] == doc["doc_id"]
    answer = c.post("/ask", json={"question": QUESTION}).json()
    assert answer["found"] and "987PFlops" in answer["answer"]
    assert answer["citations"][0]["doc_id"] == doc["doc_id"] and FACT in answer["citations"][0]["quote"]
    listed = c.get("/documents").json()
    assert listed["total"] == 6 and doc["doc_id"] in {d["doc_id"] for d in listed["documents"]}

    gone = c.delete(f"/documents/{doc['doc_id']}")
    assert gone.status_code == 200 and gone.json()["deleted"] == doc["doc_id"]
    assert doc["doc_id"] not in {
        h["doc_id"] for h in c.post("/search", json={"query": QUESTION, "k": 10}).json()["hits"]
    }
    assert c.get("/documents").json()["total"] == 5
    assert_error(c.delete(f"/documents/{doc['doc_id']}"), 404, "document_not_found")


def test_reupload_is_unchanged_then_updated(make_client: AppFactory) -> None:
    c = make_client()
    first = upload(c, "plan.txt", FORMATS["report.txt"]).json()
    same = upload(c, "plan.txt", FORMATS["report.txt"])
    assert (same.status_code, same.json()["status"]) == (200, "unchanged")
    again = upload(
        c, "plan.txt", FORMATS["report.txt"] + "\n\n星河湾数字港还计划追加投资12亿元，用于扩建储能设施。".encode()
    )
    assert again.json()["status"] == "updated" and again.json()["document"]["doc_id"] == first["document"]["doc_id"]
    assert c.get("/documents").json()["total"] == 6
    assert "12亿元" in c.post("/ask", json={"question": "星河湾数字港计划追加投资多少？"}).json()["answer"]


BAD_UPLOADS = [
    ("scan.pdf", make_scanned_pdf(), None, 422, "unreadable_document", "OCR it first"),
    ("empty.txt", b"", None, 422, "invalid_input", "empty"),
    ("../evil.txt", b"text", None, 422, "invalid_input", "plain file name"),
    ("..\\evil.txt", b"text", None, 422, "invalid_input", "plain file name"),
    ("sub/dir.txt", b"text", None, 422, "invalid_input", "plain file name"),
    (".hidden.txt", b"text", None, 422, "invalid_input", "plain file name"),
    ("tool.exe", b"MZ\x90\x00", None, 415, "unsupported_format", "not supported"),
    ("noext", b"text", None, 415, "unsupported_format", "not supported"),
    ("bomb.docx", make_zip_bomb(300 * 1024 * 1024), None, 413, "too_large", "zip bomb"),
    ("fake.docx", b"not a zip", None, 422, "unreadable_document", "not a .docx"),
    ("broken.pdf", b"%PDF-1.4 garbage", None, 422, "unreadable_document", "not a readable PDF"),
    ("binary.txt", bytes(range(256)) * 10, None, 422, "unreadable_document", "binary"),
    ("ok.txt", FORMATS["report.txt"], "{not json", 422, "invalid_input", "metadata is not valid JSON"),
    ("ok.txt", FORMATS["report.txt"], "[1, 2]", 422, "invalid_input", "JSON object"),
    ("ok.txt", FORMATS["report.txt"], '{"doc_id": "x"}', 422, "invalid_input", "reserved"),
    ("ok.txt", FORMATS["report.txt"], '{"region": {"a": 1}}', 422, "invalid_input", "string, number"),
    # 1,100 levels deep: refused before json.loads could raise RecursionError (a 500 before)
    ("ok.txt", FORMATS["report.txt"], '{"a": ' + "[" * 1100 + "]" * 1100 + "}", 422, "invalid_input", "too deeply"),
    ("ok.txt", FORMATS["report.txt"], "[" * 1100 + "]" * 1100, 422, "invalid_input", "nested too deeply"),
]


@pytest.fixture(scope="module")
def upload_client(
    seed_index: Path, usem: UsemEmbedder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """A writable app for the refused uploads: none of them may change it."""
    index_dir = tmp_path_factory.mktemp("uploads") / "index"
    shutil.copytree(seed_index, index_dir)
    app = create_app(settings_for(index_dir, max_upload_bytes=2 * 1024 * 1024), engine=open_engine(index_dir, usem))
    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize("name, data, metadata, status, code, words", BAD_UPLOADS)
def test_bad_upload_changes_nothing(
    upload_client: TestClient, name: str, data: bytes, metadata: str | None, status: int, code: str, words: str
) -> None:
    before = upload_client.get("/documents").json()
    version = upload_client.get("/health").json()["index_version"]
    form = {"metadata": metadata} if metadata is not None else {}
    error = assert_error(upload_client.post("/documents", files={"file": (name, data)}, data=form), status, code)
    assert words in error["message"]
    assert upload_client.get("/documents").json() == before  # no partial document
    health = upload_client.get("/health")
    assert health.status_code == 200 and health.json()["index_version"] == version  # still serving, same version


def test_upload_without_a_file(upload_client: TestClient) -> None:
    assert_error(upload_client.post("/documents", data={"metadata": "{}"}), 422, "invalid_request")


def test_oversized_upload(make_client: AppFactory) -> None:
    c = make_client(max_upload_bytes=1000)
    error = assert_error(upload(c, "big.txt", "数字经济。".encode() * 200), 413, "too_large")
    assert "over the limit of 1,000" in error["message"]
    # far over the limit: refused from the Content-Length, before the body is read
    error = assert_error(upload(c, "huge.txt", b"x" * (2 * 1024 * 1024)), 413, "too_large")
    assert "request body" in error["message"]
    assert c.get("/documents").json()["total"] == 5


# ---- filters ----


@pytest.mark.parametrize("filters", [{"doc_id": []}, {"source": []}, {"region": []}])
@pytest.mark.parametrize("route, key", [("/search", "query"), ("/ask", "question")])
def test_an_empty_filter_list_is_refused_everywhere(client: TestClient, filters: dict, route: str, key: str) -> None:
    # it used to mean "anything" for doc_id and source but "nothing" for a metadata key
    error = assert_error(client.post(route, json={key: "数字经济", "filters": filters}), 422, "invalid_input")
    assert "empty list" in error["message"] and next(iter(filters)) in error["message"]


@pytest.mark.parametrize("k", ["5", True, 5.0])
def test_k_must_be_a_json_integer(client: TestClient, k: object) -> None:
    assert_error(client.post("/search", json={"query": "数字经济", "k": k}), 422)
    assert_error(client.post("/ask", json={"question": "数字经济", "k": k}), 422)


def test_filters_by_doc_id_source_and_metadata(make_client: AppFactory) -> None:
    c = make_client()
    a = upload(c, "a.txt", FORMATS["report.txt"], metadata={"region": "星河湾", "year": 2030}).json()["document"][
        "doc_id"
    ]
    b_text = FORMATS["report.txt"].decode().replace("星河湾", "月亮湾").encode()
    b = upload(c, "b.txt", b_text, metadata={"region": "月亮湾", "year": 2031}).json()["document"]["doc_id"]

    def docs(filters: dict[str, Any]) -> set[str]:
        r = c.post("/search", json={"query": "数字港 智算中心 算力规模", "k": 20, "filters": filters})
        assert r.status_code == 200, r.text
        return {h["doc_id"] for h in r.json()["hits"]}

    assert docs({"region": "星河湾"}) == {a}
    assert docs({"year": 2031}) == {b}
    assert docs({"region": ["星河湾", "月亮湾"]}) == {a, b}
    assert docs({"doc_id": b}) == {b}
    assert docs({"source": "upload:"}) == {a, b}
    assert docs({"region": "无此地"}) == set()
    seed_ids = {d["doc_id"] for d in c.get("/documents").json()["documents"]} - {a, b}
    assert docs({"doc_id": sorted(seed_ids)}) <= seed_ids
    answer = c.post("/ask", json={"question": QUESTION, "filters": {"region": "月亮湾"}}).json()
    assert not answer["found"] or all(cit["doc_id"] == b for cit in answer["citations"])
    nothing = c.post("/ask", json={"question": QUESTION, "filters": {"region": "无此地"}}).json()
    assert nothing["found"] is False and nothing["passages"] == []


def official(number: str, issued_cn: str, body: str) -> bytes:
    """A plain-text official document: red header, number, title, body, sign-off."""
    return "\n".join(
        ["重庆经济技术开发区管理委员会文件", number, "关于推进星河湾数字港建设的通知", *BODY, body,
         "重庆经济技术开发区管理委员会", issued_cn]
    ).encode("utf-8")  # fmt: skip


def test_official_metadata_date_ranges_sorting_and_the_document_view(make_client: AppFactory) -> None:
    c = make_client()
    old = upload(c, "old.txt", official("渝经开管发〔2020〕7号", "2020年11月2日", "本通知自2021年1月1日起施行。"))
    new = upload(
        c,
        "new.txt",
        official("渝经开管发[2021]33号", "二〇二一年六月十八日", "本通知自印发之日起施行。"),
        metadata={"issuer": "用户给定的机关"},  # what the user gives wins over what is read
    )
    old_id, new_id = old.json()["document"]["doc_id"], new.json()["document"]["doc_id"]
    listed = {d["doc_id"]: d for d in c.get("/documents").json()["documents"]}
    assert {k: listed[old_id][k] for k in ("doc_number", "issuer", "issued", "effective")} == {
        "doc_number": "渝经开管发〔2020〕7号",
        "issuer": "重庆经济技术开发区管理委员会",
        "issued": "2020-11-02",
        "effective": "2021-01-01",
    }
    assert listed[new_id]["issuer"] == "用户给定的机关" and listed[new_id]["issued"] == "2021-06-18"
    assert listed[new_id]["effective"] == "2021-06-18"
    assert all(d["issued"] is None for i, d in listed.items() if i not in (old_id, new_id))  # the seed news

    def docs(filters: dict[str, Any], sort: str = "relevance") -> list[str]:
        body = {"query": QUESTION, "k": 20, "filters": filters, "sort": sort}
        r = c.post("/search", json=body)
        assert r.status_code == 200, r.text
        return list(dict.fromkeys(h["doc_id"] for h in r.json()["hits"]))

    assert docs({"issued": {"gte": "2021-01-01", "lt": "2022-01-01"}}) == [new_id]
    assert docs({"issued": {"lt": "2021-01-01"}}) == [old_id]
    assert set(docs({"issued": {"gte": "2020-01-01"}})) == {old_id, new_id}
    assert docs({"issued": {"gte": "2020-01-01"}}, sort="-issued") == [new_id, old_id]
    assert docs({"issued": {"gte": "2020-01-01"}}, sort="issued") == [old_id, new_id]
    assert docs({"source": "upload:"}, sort="-issued") == [new_id, old_id]
    assert_error(c.post("/search", json={"query": "x", "filters": {"issued": {"after": "2021"}}}), 422)
    assert_error(c.post("/search", json={"query": "x", "filters": {"issued": {"gte": "2021", "lt": 5}}}), 422)
    assert_error(c.post("/search", json={"query": "x", "sort": "newest"}), 422)
    answer = c.post("/ask", json={"question": QUESTION, "filters": {"issued": {"lt": "2021-01-01"}}}).json()
    assert answer["found"] and {cit["doc_id"] for cit in answer["citations"]} == {old_id}

    # The document view's data: the stored text every citation indexes into.
    cited = answer["citations"][0]
    detail = c.get(f"/documents/{cited['doc_id']}").json()
    assert detail["text"][cited["start"] : cited["end"]] == cited["quote"]
    assert detail["doc_number"] == "渝经开管发〔2020〕7号" and detail["pages"] is None
    assert_error(c.get("/documents/0000000000000000"), 404, "document_not_found")
    page = c.get(f"/doc/{old_id}")
    assert page.status_code == 200 and "/static/doc.js" in page.text


# ---- CORS ----

PORTAL = "http://portal.example:8080"


def preflight(c: TestClient, origin: str) -> Any:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    return c.options("/ask", headers=headers)


def test_cors_allowed_and_denied_origins(make_client: AppFactory) -> None:
    c = make_client(cors_origins=[PORTAL], api_keys=["k-123"])
    ok = preflight(c, PORTAL)  # a preflight carries no key, and must not need one
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == PORTAL
    assert "authorization" in ok.headers["access-control-allow-headers"].lower()
    denied = preflight(c, "http://evil.example")
    assert denied.status_code == 400 and "access-control-allow-origin" not in denied.headers
    auth = {"Authorization": "Bearer k-123"}
    r = c.post("/search", json={"query": "数字经济", "k": 1}, headers={"Origin": PORTAL, **auth})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == PORTAL
    r = c.post("/search", json={"query": "数字经济", "k": 1}, headers={"Origin": "http://evil.example", **auth})
    assert "access-control-allow-origin" not in r.headers  # the browser will refuse to hand it over


def test_no_cors_by_default(client: TestClient) -> None:
    assert "access-control-allow-origin" not in preflight(client, PORTAL).headers
    r = client.post("/search", json={"query": "数字经济", "k": 1}, headers={"Origin": PORTAL})
    assert "access-control-allow-origin" not in r.headers


# ---- API keys ----

PROTECTED = [
    ("post", "/search", {"json": {"query": "数字经济", "k": 1}}),
    ("post", "/ask", {"json": {"question": "数字经济", "k": 1}}),
    ("get", "/documents", {}),
    ("post", "/documents", {"files": {"file": ("a.txt", "正文。".encode())}}),
    ("delete", "/documents/0000000000000000", {}),
]


@pytest.fixture(scope="module")
def keyed(seed_index: Path, usem: UsemEmbedder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    index_dir = tmp_path_factory.mktemp("keyed") / "index"
    shutil.copytree(seed_index, index_dir)
    app = create_app(settings_for(index_dir, api_keys=["first-key", "second-key"]), engine=open_engine(index_dir, usem))
    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize("method, path, kwargs", PROTECTED)
@pytest.mark.parametrize("header", [None, "Bearer wrong-key", "Bearer first-key-", "Basic Zmlyc3Qta2V5", "first-key"])
def test_api_key_missing_or_wrong(
    keyed: TestClient, method: str, path: str, kwargs: dict[str, Any], header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    r = getattr(keyed, method)(path, headers=headers, **kwargs)
    assert_error(r, 401, "unauthorized")
    assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("key", ["first-key", "second-key"])
def test_api_key_accepted(keyed: TestClient, key: str) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    assert keyed.post("/search", json={"query": "数字经济", "k": 1}, headers=auth).status_code == 200
    assert keyed.get("/documents", headers=auth).json()["total"] == 5
    assert_error(keyed.delete("/documents/0000000000000000", headers=auth), 404, "document_not_found")


@pytest.mark.parametrize(
    "path", ["/health", "/", "/embed", "/widget.js", "/static/app.js", "/static/style.css", "/docs", "/openapi.json"]
)
def test_open_without_a_key(keyed: TestClient, path: str) -> None:
    assert keyed.get(path).status_code == 200


# ---- health, docs, page ----


def test_health(client: TestClient, usem: UsemEmbedder) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["index_loaded"] is True
    assert (body["documents"], body["model"], body["generated_answers"]) == (5, usem.model_id, False)
    assert body["chunks"] > 5 and body["index_version"] and body["backend"] == "faiss"


def test_openapi_lists_the_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/search", "/ask", "/documents", "/documents/{doc_id}", "/health"} <= set(paths)
    assert client.get("/docs").status_code == 200


def test_page_and_widget_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "政策文件检索与问答" in page.text and "/static/app.js" in page.text
    widget = client.get("/widget.js")
    assert widget.headers["content-type"].startswith("text/javascript") and "attachShadow" in widget.text


# ---- start-up, failures, concurrency ----


def test_first_run_ingests_the_seeds(tmp_path: Path, usem: UsemEmbedder) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy(Path(__file__).resolve().parent.parent / "seeds" / "003_c10a3dac0a9d1ab5.txt", seeds)
    index_dir = tmp_path / "index"
    settings = Settings(index_dir=index_dir, seeds_dir=seeds)
    with TestClient(create_app(settings, engine=open_engine(index_dir, usem))) as c:
        assert c.get("/health").json()["documents"] == 1
        assert c.post("/ask", json={"question": "璧山区今年一季度地区生产总值同比增长多少？"}).json()["found"]


def test_no_index_and_no_seeds_is_503(tmp_path: Path, usem: UsemEmbedder) -> None:
    index_dir = tmp_path / "index"
    with TestClient(create_app(settings_for(index_dir), engine=open_engine(index_dir, usem))) as c:
        health = c.get("/health")
        assert health.status_code == 503 and health.json()["status"] == "no_index"
        assert_error(c.post("/search", json={"query": "数字经济"}), 503, "index_not_found")
        assert c.get("/documents").json() == {"total": 0, "documents": []}


def test_unexpected_error_is_a_500_without_details(
    make_client: AppFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    c = make_client(raise_server_exceptions=False)  # see the response, as a browser would
    engine = c.app.state.service.engine  # type: ignore[attr-defined]

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret /srv/path exploded")

    monkeypatch.setattr(engine, "search", broken)
    with caplog.at_level(logging.ERROR, logger="policyqa.service"):
        r = c.post("/search", json={"query": "数字经济"})
    error = assert_error(r, 500, "internal_error")
    assert "secret" not in r.text and "RuntimeError" not in r.text
    assert "has been logged" in error["message"]
    assert any("secret /srv/path exploded" in str(rec.exc_info[1]) for rec in caplog.records if rec.exc_info)
    assert c.get("/health").status_code == 200  # still serving


class GatedEmbedder:
    """The real model, except that embedding a document holding `marker` waits for `release`."""

    def __init__(self, inner: UsemEmbedder, marker: str) -> None:
        self.inner, self.marker = inner, marker
        self.model_id, self.dim = inner.model_id, inner.dim
        self.entered, self.release = threading.Event(), threading.Event()

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.encode_queries(texts)

    def encode_documents(self, texts: Sequence[str], batch_size: int = 64, progress: Any = None) -> np.ndarray:
        if any(self.marker in t for t in texts):
            self.entered.set()
            assert self.release.wait(30), "the test never released the upload"
        return self.inner.encode_documents(texts, batch_size=batch_size, progress=progress)


def test_queries_are_answered_while_a_document_is_added(make_client: AppFactory, usem: UsemEmbedder) -> None:
    gate = GatedEmbedder(usem, marker="星河湾")
    c = make_client(embedder=gate)
    before = c.get("/health").json()["index_version"]
    result: dict[str, Any] = {}
    writer = threading.Thread(target=lambda: result.update(r=upload(c, "slow.txt", FORMATS["report.txt"])))
    writer.start()
    try:
        assert gate.entered.wait(30)  # the upload is half done: parsed, being embedded
        for _ in range(3):
            r = c.post("/ask", json={"question": "哪个园区提出数字经济增加值占GDP比重达35%？"})
            assert r.status_code == 200 and r.json()["found"]
            s = c.post("/search", json={"query": QUESTION, "k": 10}).json()
            assert s["index_version"] == before  # the old version, whole
            assert all(h["source"].startswith(("seeds/", "/")) for h in s["hits"])
        assert c.get("/documents").json()["total"] == 5
    finally:
        gate.release.set()
        writer.join(30)
    assert result["r"].status_code == 201
    after = c.post("/search", json={"query": QUESTION, "k": 1}).json()
    assert after["index_version"] != before and after["hits"][0]["source"] == "upload:slow.txt"


# ---- cross-site writes (issue 11, item 3) ----

PORTAL = "http://portal.example"


@pytest.mark.parametrize("cors", [[], [PORTAL]])
@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},  # a sandboxed frame or a file: page
        {"Sec-Fetch-Site": "cross-site"},  # a browser that left Origin out
        {"Origin": "http://testserver.evil.example", "Sec-Fetch-Site": "cross-site"},
    ],
)
def test_cross_site_writes_are_refused_and_change_nothing(
    make_client: AppFactory, cors: list[str], headers: dict[str, str]
) -> None:
    c = make_client(cors_origins=cors)
    before = c.get("/documents").json()
    doc_id = before["documents"][0]["doc_id"]
    upload = c.post("/documents", files={"file": ("x.txt", "重庆经开区的新报告。".encode())}, headers=headers)
    assert_error(upload, 403, "cross_site_write")
    assert_error(c.delete(f"/documents/{doc_id}", headers=headers), 403, "cross_site_write")
    assert c.get("/documents").json() == before
    # reads stay open to other origins (CORS decides what a page may see)
    assert c.post("/search", json={"query": "数字经济"}, headers=headers).status_code == 200


def test_own_origin_allowed_portal_and_plain_clients_may_write(make_client: AppFactory) -> None:
    c = make_client(cors_origins=[PORTAL])
    for n, headers in enumerate(
        [{}, {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}, {"Origin": PORTAL}]
    ):
        r = c.post("/documents", files={"file": (f"ok{n}.txt", f"第{n}份报告，数字经济。".encode())}, headers=headers)
        assert r.status_code == 201, r.text


# ---- names in responses (issue 11, items 6 and 8) ----


def test_seeds_ingested_on_first_run_are_named_without_server_paths(
    usem: UsemEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeds = tmp_path / "srv" / "policyqa" / "seeds"
    seeds.mkdir(parents=True)
    for path in sorted(SEEDS.glob("*.txt"))[:2]:
        shutil.copy(path, seeds / path.name)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # serve started from another directory than the seeds'
    index_dir = tmp_path / "index"
    app = create_app(Settings(index_dir=index_dir, seeds_dir=seeds), engine=open_engine(index_dir, usem))
    with TestClient(app) as c:
        listing = c.get("/documents")
        sources = sorted(d["source"] for d in listing.json()["documents"])
        assert len(sources) == 2
        assert sources == sorted(f"seeds/{p.name}" for p in seeds.iterdir())
        hits = c.post("/search", json={"query": "数字经济", "filters": {"source": "seeds/"}}).json()["hits"]
        answer = c.post("/ask", json={"question": "数字经济增加值占GDP比重"})
        assert hits and answer.status_code == 200
        for body in (listing.text, json.dumps(hits, ensure_ascii=False), answer.text):
            assert str(tmp_path) not in body


def test_ingesting_an_empty_uploads_folder_keeps_the_api_uploads(
    make_client: AppFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = make_client()
    fact = "星河湾数字港建成算力规模达987PFlops的智算中心。".encode()
    doc_id = upload(c, "plan.txt", fact).json()["document"]["doc_id"]
    monkeypatch.chdir(tmp_path)
    for folder in ("uploads", "upload:"):  # the old upload prefix, and the scheme itself as a folder name
        (tmp_path / folder).mkdir()
        report = c.app.state.service.engine.ingest([Path(folder)])
        assert report.removed == [] and report.added == []
    assert doc_id in {d["doc_id"] for d in c.get("/documents").json()["documents"]}
