"""The query API's answers (streams.api) over the offline oracle's states: one entry of diagnose --json
per server, list rows that agree with it, 404s with close matches, ?now= parsing, the OpenAPI text."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streams import api
from streams.errors import ApiError
from streams.loader import discover
from streams.offline import run
from streams.store import MemoryStore
from tests.fixtures.logsets import SCENARIOS, write_logset


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> tuple[MemoryStore, dict]:
    folder = write_logset("install_retrying", tmp_path_factory.mktemp("api"))
    result = run(discover([str(folder)]))
    assert result.now is not None
    return MemoryStore(result.reducer.servers, now=result.now), orjson.loads(orjson.dumps(result.view))


def test_get_server_is_one_entry_of_diagnose_json(oracle: tuple[MemoryStore, dict]) -> None:
    store, view = oracle
    assert view["servers"], "the fixture has management points"
    for entry in view["servers"]:
        answer = orjson.loads(orjson.dumps(api.get_server(store, entry["server"].lower() + ".contoso.com")))
        assert answer.pop("now") == view["now"]
        assert answer == entry


def test_list_rows_agree_with_the_view(oracle: tuple[MemoryStore, dict]) -> None:
    store, view = oracle
    listed = api.list_servers(store)
    assert [r["server"] for r in listed["servers"]] == [s["server"] for s in view["servers"]]
    for row, entry in zip(listed["servers"], view["servers"], strict=True):
        assert row["state"] == entry["state"]
        assert row["codes"] == [d["code"] for d in entry["diagnoses"]]
        assert row["events"] == len(entry["timeline"])
        assert row["latest"] == entry["timeline"][-1]["time"]
    assert sum(listed["counts"].values()) == len(view["servers"])
    assert listed["counts"][view["servers"][0]["state"]] >= 1


def test_unknown_server_is_404_with_close_matches(oracle: tuple[MemoryStore, dict]) -> None:
    store, view = oracle
    name = view["servers"][0]["server"]
    with pytest.raises(ApiError) as caught:
        api.get_server(store, name[:-1] + "Z")
    assert caught.value.status == 404
    assert name in caught.value.body["close_matches"]  # type: ignore[operator]
    with pytest.raises(ApiError) as bad:
        api.get_server(store, "x" * 300)
    assert bad.value.status == 400


def test_now_parameter(oracle: tuple[MemoryStore, dict]) -> None:
    store, view = oracle
    assert api.parse_now(None) is None
    assert api.parse_now("2004-12-06T19:00:00Z") == api.parse_now("2004-12-06T20:00:00+01:00")
    for bad in ("yesterday", "99999-01-01T00:00:00Z", "1969-12-31T00:00:00Z"):
        with pytest.raises(ApiError) as caught:
            api.parse_now(bad)
        assert caught.value.status == 400
    later = api.parse_now("2099-01-01T00:00:00Z")
    name = view["servers"][0]["server"]
    assert api.get_server(store, name, later)["now"] == "2099-01-01T00:00:00.000Z"


def test_merge_rows_keeps_one_row_per_server() -> None:
    a = [{"server": "B", "events": 3}, {"server": "A", "events": 1}]
    b = [{"server": "A", "events": 2}]
    merged = api.merge_rows([a, b])
    assert [(r["server"], r["events"]) for r in merged] == [("A", 2), ("B", 3)]


def test_openapi_names_every_route() -> None:
    doc = api.openapi()
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) == {"/api/servers", "/api/servers/{server}", "/api/meta"}
    assert "404" in doc["paths"]["/api/servers/{server}"]["get"]["responses"]
    orjson.dumps(doc)


def test_every_scenario_answers(tmp_path: Path) -> None:
    for name in list(SCENARIOS)[:3]:
        folder = write_logset(name, tmp_path / name)
        result = run(discover([str(folder)]))
        store = MemoryStore(result.reducer.servers, now=result.now or 0)
        assert len(api.list_servers(store)["servers"]) == len(result.view["servers"])
