"""`lorakit ui` without a browser: review files on disk, token auth, runs, the API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lorakit.ui.review import ReviewSession, default_checker, version_paths
from lorakit.ui.runs import discover, load_run
from lorakit.ui.server import UIState, create_app

RESET = "Settings > Account > Reset password."
MESSY = [
    {"messages": [{"role": "user", "content": "How do I reset my password?"},
                  {"role": "assistant", "content": RESET}]},
    {"messages": [{"role": "user", "content": "Mail me at jane.doe@example.com"},
                  {"role": "assistant", "content": "Sure."}]},
    {"messages": [{"role": "user", "content": "How do I reset my password?"},
                  {"role": "assistant", "content": RESET}]},
    {"messages": [{"role": "user", "content": "Where is my order?"},
                  {"role": "assistant", "content": ""}]},
]


def write_messy(folder: Path) -> Path:
    """Four chat rows, a blank line, a broken JSON line and a CRLF line."""
    lines = [json.dumps(r) for r in MESSY]
    lines.insert(2, "")
    lines.append('{"messages": [{"role": "user", "content": "broken')
    text = "\n".join(lines) + "\n" + json.dumps(MESSY[0]) + "\r\n"
    path = folder / "raw.jsonl"
    path.write_bytes(text.encode())
    return path


def read_jsonl(path: Path) -> list:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_review_writes_version_log_and_rejects(tmp_path):
    source = write_messy(tmp_path)
    before = source.read_bytes()
    session = ReviewSession(source, checker=default_checker())
    assert [r.line for r in session.rows] == [1, 2, 4, 5, 6, 7]  # blank line 3 skipped
    assert any(f["check"] == "exact_duplicate" for f in session.row(4).findings)

    fixed = {"messages": [{"role": "user", "content": "Where is my order?"},
                          {"role": "assistant", "content": "See Orders in your account."}]}
    session.act(1, "accept")
    session.act(5, "edit", after=fixed, reason="answered")
    session.act(4, "reject", reason="duplicate of line 1")
    session.act(6, "reject", reason="broken")

    # the source is untouched; the new version holds every row not rejected
    assert source.read_bytes() == before
    paths = version_paths(source.resolve(), 2)
    version = paths.version.read_bytes().split(b"\n")
    assert version[0] == before.split(b"\n")[0]  # unchanged rows copied byte for byte
    assert version[-2].endswith(b"\r")  # even a CRLF line
    assert [json.loads(v) for v in version[:4]] == [MESSY[0], MESSY[1], fixed, MESSY[0]]

    # the log has a header then one record per action, in order
    log = read_jsonl(paths.log)
    assert log[0]["action"] == "open" and log[0]["source_sha256"] == session.sha256
    assert [(r["line"], r["action"]) for r in log[1:]] == [
        (1, "accept"), (5, "edit"), (4, "reject"), (6, "reject")]
    assert log[2]["before"] == MESSY[3] and log[2]["after"] == fixed
    assert log[3]["reason"] == "duplicate of line 1"

    rejects = read_jsonl(paths.rejects)
    assert [(r["line"], r["reason"]) for r in rejects] == [(4, "duplicate of line 1"),
                                                           (6, "broken")]
    assert rejects[1]["raw"].startswith('{"messages"') and "row" not in rejects[1]
    assert rejects[0]["row"] == MESSY[0] and rejects[0]["path"] == str(source.resolve())
    assert [r["check"] for r in rejects[0]["reasons"]] == ["exact_duplicate"]
    assert session.row(5).findings == []  # the edit fixed the empty answer


def test_nothing_lost_after_undo(tmp_path):
    source = write_messy(tmp_path)
    session = ReviewSession(source, checker=None)
    session.act(2, "reject", reason="pii")
    session.act(2, "reset")
    paths = session.paths
    assert len(paths.version.read_text().splitlines()) == len(session.rows)
    assert paths.rejects.read_text() == ""
    assert [r["action"] for r in read_jsonl(paths.log)] == ["open", "reject", "reset"]


def test_resume_replays_log_and_new_version_counts_up(tmp_path):
    source = write_messy(tmp_path)
    first = ReviewSession(source)
    first.act(2, "reject", reason="pii")
    with first.paths.log.open("a") as fh:
        fh.write('{"time": "2026-01-01T00:00:00Z", "line": 1, "act')  # torn by a crash
    again = ReviewSession(source)
    assert again.resumed and again.n == 2 and again.row(2).status == "rejected"
    again.act(1, "accept")  # appended on a fresh line, after the torn one
    assert ReviewSession(source).row(1).status == "accepted"
    fresh = ReviewSession(source, new_version=True)
    assert fresh.n == 3 and fresh.row(2).status == "unreviewed"

    # reviewing a version makes the next one, never "raw.v2.v2.jsonl"
    next_of_v2 = ReviewSession(first.paths.version)
    assert next_of_v2.paths.version.name == "raw.v3.jsonl"

    # a changed source is not resumed
    source.write_text(source.read_text() + json.dumps(MESSY[1]) + "\n")
    assert not ReviewSession(source).resumed


def test_edit_must_be_json_and_action_known(tmp_path):
    client, state = _client(tmp_path, review=ReviewSession(write_messy(tmp_path)))
    bad = client.post("/api/rows/6/edit", json={"raw": "{not json"})
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]
    assert client.post("/api/rows/1/frobnicate", json={}).status_code == 400
    assert client.post("/api/rows/99/accept", json={}).status_code == 400
    ok = client.post("/api/rows/6/edit", json={"raw": json.dumps(MESSY[0])})
    assert ok.status_code == 200 and ok.json()["row"]["status"] == "edited"


def _client(tmp_path, **parts) -> tuple[TestClient, UIState]:
    state = UIState(**parts)
    return TestClient(create_app(state), base_url="http://127.0.0.1:7860",
                      headers={"X-Lorakit-Token": state.token}), state


def test_token_required_everywhere(tmp_path):
    state = UIState(review=ReviewSession(write_messy(tmp_path)))
    app = create_app(state)
    anon = TestClient(app, base_url="http://127.0.0.1:7860")
    for path in ("/", "/static/app.js", "/api/rows"):
        assert anon.get(path).status_code == 401
    assert anon.get("/api/rows", headers={"X-Lorakit-Token": "wrong"}).status_code == 401
    assert anon.post("/api/rows/1/reject", json={}).status_code == 401
    bearer = {"Authorization": f"Bearer {state.token}"}
    assert anon.get("/api/rows", headers=bearer).is_success

    # the start URL sets an HttpOnly, SameSite=Strict cookie, then the page works without it
    first = anon.get(f"/?token={state.token}", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/"
    cookie = first.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert anon.get("/").is_success and anon.get("/api/rows").is_success

    # another Host (DNS rebinding) is refused even with the token
    evil = TestClient(app, base_url="http://evil.example:7860")
    assert evil.get(f"/api/rows?token={state.token}").status_code == 403


def _fake_run(folder: Path, name: str, losses: list[float]) -> Path:
    run = folder / name
    run.mkdir(parents=True)
    lines = [json.dumps({"step": i + 1, "loss": v, "lr": 1e-4})
             for i, v in enumerate(losses)]
    lines.insert(2, json.dumps({"step": 2, "eval_loss": losses[1] + 0.1}))
    torn = '{"step": 9, "lo'  # a run killed mid-write
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n" + torn)
    (run / "manifest.json").write_text(json.dumps({
        "name": name, "base_model": {"name": "tiny"}, "seed": 0,
        "config": {"lora": {"rank": 4, "alpha": 8}, "train": {"lr": 1e-4}},
        "eval": [{"metric": "rouge_l", "base": 0.21, "adapter": 0.48}]}))
    return run


def test_runs_read_metrics_and_manifest(tmp_path):
    _fake_run(tmp_path / "runs", "a", [2.0, 1.5, 1.2])
    (tmp_path / "runs" / "not-a-run").mkdir()
    found = discover(None, [tmp_path / "runs"])
    assert [r["name"] for r in found] == ["a"]
    run = load_run(found[0]["path"])
    assert run["series"]["loss"] == [[1, 2.0], [2, 1.5], [3, 1.2]]
    assert run["series"]["eval_loss"] == [[2, pytest.approx(1.6)]]
    assert run["eval"][0]["adapter"] == 0.48
    assert any("unreadable" in p for p in run["problems"])


def test_api_runs_and_page_assets_are_local(tmp_path):
    _fake_run(tmp_path / "runs", "a", [2.0, 1.5, 1.2])
    client, _ = _client(tmp_path, run_roots=[tmp_path / "runs"])
    runs = client.get("/api/runs").json()["runs"]
    assert runs[0]["name"] == "a" and runs[0]["series"]["loss"]
    page = client.get("/").text
    for asset in ("/static/app.js", "/static/runs.js", "/static/compare.js",
                  "/static/style.css"):
        assert asset in page and client.get(asset).is_success
    assert "http" not in page.replace("http-equiv", "")  # nothing from a CDN


def test_cli_prints_token_url_and_serves(tmp_path):
    import os
    import subprocess
    import sys

    import httpx

    source = write_messy(tmp_path)
    env = {**os.environ, "LORAKIT_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen([sys.executable, "-m", "lorakit", "ui", "--data", str(source),
                             "--port", "0", "--format", "json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        started = json.loads(proc.stdout.readline())
        url = started["url"]
        assert url.startswith("http://127.0.0.1:") and "?token=" in url
        assert started["review"]["version"].endswith("raw.v2.jsonl")
        base, token = url.split("/?token=")
        assert httpx.get(f"{base}/api/info").status_code == 401
        info = httpx.get(f"{base}/api/info", headers={"X-Lorakit-Token": token}).json()
        assert info["review"]["rows"] == 6
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_cli_missing_data_is_one_line_error(tmp_path):
    from click.testing import CliRunner

    from lorakit.ui.cli import ui

    result = CliRunner().invoke(ui, ["--data", str(tmp_path / "nope.jsonl")])
    assert result.exit_code != 0 and "dataset not found" in str(result.exception)


def test_cp1252_row_is_shown_and_saved_as_utf8(tmp_path):
    source = tmp_path / "latin.jsonl"
    source.write_bytes(b'{"messages": [{"role": "user", "content": "caf\xe9?"}, '
                       b'{"role": "assistant", "content": "Yes."}]}\n')
    session = ReviewSession(source, checker=default_checker())
    row = session.row(1)
    assert row.original["messages"][0]["content"] == "caf\u00e9?" and not row.utf8
    assert [f["check"] for f in row.findings] == ["invalid_encoding"]
    session.act(1, "accept")
    assert session.paths.version.read_bytes() == source.read_bytes()  # accepted as it is
    session.act(1, "edit", after=row.original)  # "save" without a change re-encodes it
    assert json.loads(session.paths.version.read_text(encoding="utf-8")) == row.original
    assert session.row(1).findings == []
