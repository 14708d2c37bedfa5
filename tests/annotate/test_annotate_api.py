"""The annotation server's JSON API against a real server process: every error case, the
token, optimistic concurrency, and a kill in the middle of a session losing nothing."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
import yaml
from annotate_server import serve

from thagen.render.framing.annotation_file import load_annotation


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, gene_pmx: Path):
    tmp = tmp_path_factory.mktemp("api")
    served = serve(["builtin", str(gene_pmx)], tmp, "--no-render", "--annotator", "API test")
    served.tmp = tmp
    yield served
    assert served.stop() == 0  # SIGTERM: a clean shutdown


def _ids(server) -> dict[str, dict]:
    status, data = server.request("GET", "/api/characters")
    assert status == 200
    return {r["model"]: r for r in data["characters"]}


def _body(detail: dict, dy_chin: float = 0.0) -> dict:
    s = detail["suggestion"]
    return {
        "head_top": s["head_top"],
        "chin": [s["chin"][0], s["chin"][1] + dy_chin, s["chin"][2]],
        "center_x": s["center_x"],
        "version": detail["version"],
    }


@pytest.mark.slow
def test_list_and_detail(server) -> None:
    rows = _ids(server)
    assert set(rows) == {"builtin", "Gene_light.pmx"}
    assert server.url.startswith("http://127.0.0.1:") and "token" not in server.url
    cid = rows["builtin"]["id"]
    status, detail = server.request("GET", f"/api/characters/{cid}")
    assert status == 200 and detail["status"] in ("todo", "auto")
    sugg = detail["suggestion"]
    assert not sugg["error"] and 0 <= sugg["confidence"] <= 1 and sugg["head_top"][1] > sugg["chin"][1]
    assert detail["image"]["state"] == "off"  # --no-render
    deadline = time.monotonic() + 60  # the other suggestions arrive from a background thread
    while not all(r["confidence"] is not None for r in _ids(server).values()):
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_accept_then_stale_edit_is_409(server) -> None:
    cid = _ids(server)["builtin"]["id"]
    _, detail = server.request("GET", f"/api/characters/{cid}")
    status, saved = server.request("PUT", f"/api/characters/{cid}/annotation", _body(detail, -0.05))
    assert status == 200 and saved["status"] == "manual" and saved["version"] != detail["version"]
    path = server.tmp / "annotations" / f"{cid}.annotation.yaml"
    ann = load_annotation(path)
    assert ann.kind == "manual" and ann.annotator == "API test" and ann.created
    assert abs(ann.chin[1] - (detail["suggestion"]["chin"][1] - 0.05)) < 1e-9
    # a second person still on the old version: refused, nothing overwritten
    status, err = server.request("PUT", f"/api/characters/{cid}/annotation", _body(detail, -0.3))
    assert status == 409 and err["version"] == saved["version"] and "changed" in err["error"]
    assert load_annotation(path).chin[1] == ann.chin[1]
    status, err = server.request(
        "POST", f"/api/characters/{cid}/skip", {"reason": "x", "version": detail["version"]}
    )
    assert status == 409
    # with the current version the skip goes through, and a reload sees it
    status, skipped = server.request(
        "POST", f"/api/characters/{cid}/skip", {"reason": "hat", "version": saved["version"]}
    )
    assert status == 200 and skipped["status"] == "skipped"
    assert yaml.safe_load((server.tmp / "annotations" / f"{cid}.skip.yaml").read_text())["reason"] == "hat"
    _, again = server.request("GET", f"/api/characters/{cid}")
    assert again["status"] == "skipped" and again["skip"]["reason"] == "hat"


@pytest.mark.parametrize(
    ("raw", "status", "message"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "expected a JSON object"),
        (b'{"chin": [0, 1, 0], "version": "v"}', 400, "head_top: required"),
        (b'{"head_top": [0, 2], "chin": [0, 1, 0], "version": "v"}', 400, "head_top: expected [x, y, z]"),
        (b'{"head_top": [0, NaN, 0], "chin": [0, 1, 0], "version": "v"}', 400, "not a finite number"),
        (b'{"head_top": [0, Infinity, 0], "chin": [0, 1, 0], "version": "v"}', 400, "not a finite number"),
        (b'{"head_top": [0, 1e400, 0], "chin": [0, 1, 0], "version": "v"}', 400, "finite number"),
        (b'{"head_top": [0, "2", 0], "chin": [0, 1, 0], "version": "v"}', 400, "head_top[1]"),
        (b'{"head_top": [0, 1, 0], "chin": [0, 2, 0], "version": "v"}', 422, "below the head top"),
        (b'{"head_top": [0, 2, 0], "chin": [0, 1, 0], "version": "v", "x": 1}', 400, "x: unknown field"),
        (b'{"head_top": [0, 2, 0], "chin": [0, 1, 0]}', 400, "version: required"),
    ],
)
def test_malformed_annotation_bodies(server, raw: bytes, status: int, message: str) -> None:
    cid = _ids(server)["Gene_light.pmx"]["id"]
    before = sorted(p.name for p in (server.tmp / "annotations").iterdir())
    got, err = server.request("PUT", f"/api/characters/{cid}/annotation", raw=raw)
    assert got == status and message in err["error"], err
    assert sorted(p.name for p in (server.tmp / "annotations").iterdir()) == before


def test_other_errors(server) -> None:
    cid = _ids(server)["Gene_light.pmx"]["id"]
    good = json.dumps({"head_top": [0, 2, 0], "chin": [0, 1, 0], "version": "v"}).encode()
    for path in ("/api/characters/nope-00000000", "/api/characters/..%2F..%2Fetc", "/api/characters/%2e%2e"):
        status, err = server.request("GET", path)
        assert status == 404, (path, err)
    status, err = server.request("PUT", "/api/characters/..%2Fescape/annotation", raw=good)
    assert status == 404
    assert not list(server.tmp.glob("escape*")) and not list(server.tmp.parent.glob("escape*"))
    status, err = server.request("PUT", f"/api/characters/{cid}/annotation", raw=b"{" + b" " * 100_000 + b"}")
    assert status == 413
    status, err = server.request(
        "PUT", f"/api/characters/{cid}/annotation", raw=good, headers={"Content-Type": "text/plain"}
    )
    assert status == 415
    for body in ({"version": "v"}, {"reason": "", "version": "v"}, {"reason": 3, "version": "v"}):
        status, err = server.request("POST", f"/api/characters/{cid}/skip", body)
        assert status == 400 and "reason" in err["error"]
    status, err = server.request("GET", "/api/characters", headers={"Host": "evil.example:80"})
    assert status == 403


@pytest.mark.slow
def test_a_public_host_needs_the_token(tmp_path: Path) -> None:
    served = serve(["builtin"], tmp_path, "--no-render", "--host", "0.0.0.0")
    try:
        assert "?token=" in served.url
        token = served.url.split("token=")[1]
        assert served.request("GET", "/api/characters")[0] == 401
        assert served.request("GET", "/api/characters", token="wrong")[0] == 401
        assert served.request("GET", "/")[0] == 401
        status, data = served.request("GET", "/api/characters", token=token)
        assert status == 200 and len(data["characters"]) == 1
        assert served.request("GET", f"/?token={token}")[0] == 200
    finally:
        served.stop()


@pytest.mark.slow
def test_kill_mid_session_loses_nothing(tmp_path: Path, gene_pmx: Path) -> None:
    served = serve(["builtin", str(gene_pmx)], tmp_path, "--no-render")
    accepted = {}
    for row in _ids(served).values():
        _, detail = served.request("GET", f"/api/characters/{row['id']}")
        status, _ = served.request("PUT", f"/api/characters/{row['id']}/annotation", _body(detail, -0.01))
        assert status == 200
        accepted[row["id"]] = detail["suggestion"]["chin"][1] - 0.01
    assert served.stop(signal.SIGKILL) == -signal.SIGKILL
    for cid, chin in accepted.items():
        ann = load_annotation(tmp_path / "annotations" / f"{cid}.annotation.yaml")
        assert ann.kind == "manual" and abs(ann.chin[1] - chin) < 1e-9
    assert not [p for p in (tmp_path / "annotations").iterdir() if not p.name.endswith(".annotation.yaml")]
    # a restarted server sees them all done
    again = serve(["builtin", str(gene_pmx)], tmp_path, "--no-render")
    try:
        rows = _ids(again)
        assert {r["status"] for r in rows.values()} == {"manual"}
        assert again.request("GET", "/api/first-todo")[1]["id"] is None
    finally:
        again.stop()


def test_a_port_in_use_is_one_line(server, tmp_path: Path) -> None:
    import subprocess
    import sys

    port = server.base.rsplit(":", 1)[1]
    cmd = [sys.executable, "-m", "thagen", "annotate", "serve", "builtin", "--no-render", "--port", port]
    cmd += ["--annotations", str(tmp_path / "a"), "--cache-dir", str(tmp_path / "c")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().startswith(f"error: 127.0.0.1:{port}: cannot listen")
    assert len(done.stderr.strip().splitlines()) == 1
