"""FerretDB starts natively, speaks the MongoDB protocol to pymongo, and stops by PID."""

from __future__ import annotations

import pytest

from harness.provision.native import base
from harness.provision.native.ferretdb.launcher import FerretDBLauncher

pymongo = pytest.importorskip("pymongo")


@pytest.mark.mongodb
def test_ferretdb_serves_mongodb_protocol() -> None:
    launcher = FerretDBLauncher()
    port = base.free_port_for(launcher)
    assert port != launcher.default_port
    server = base.start(launcher, port=port)
    try:
        client = pymongo.MongoClient(server.url, serverSelectionTimeoutMS=5000)
        items = client.dbarena_test.items
        items.insert_many([{"_id": i, "k": i % 3, "v": i * 10} for i in range(12)])
        assert items.create_index("k") == "k_1"
        top = list(items.find({"k": 1}, {"_id": 0, "v": 1}).sort("v", -1).limit(2))
        assert top == [{"v": 100}, {"v": 70}]
        groups = {d["_id"]: d["n"] for d in items.aggregate([{"$group": {"_id": "$k", "n": {"$sum": 1}}}])}
        assert groups == {0: 4, 1: 4, 2: 4}
        assert items.update_one({"_id": 3}, {"$inc": {"v": 1}}).modified_count == 1
        assert items.find_one({"_id": 3}) == {"_id": 3, "k": 0, "v": 31}
        assert items.delete_one({"_id": 4}).deleted_count == 1
        assert items.count_documents({}) == 11
        client.close()
    finally:
        base.stop(server)
    assert not base.pid_alive(server.pid)
    assert not base.port_open(port)
