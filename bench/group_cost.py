#!/usr/bin/env python3
"""Measures (does not assert) what consumer-group operations cost against a running broker:
an offset commit (one Raft write), a 12-partition rebalance with 3 to 4 members (a join or a
leave: one Raft write that recomputes the assignment in apply) per assignor, and a heartbeat
(no Raft write), each sequentially, one request in flight.

    bench/group_cost.py [BROKER_URL] [ROUNDS]      # default http://127.0.0.1:7070, 200

Stdlib only; prints one JSON line per measurement (latency p50/p99/max in ms, ops/s)."""

import json
import sys
import time
import urllib.request

URL = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:7070"
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 200


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(URL + path, data=data, method=method)
    request.add_header("content-type", "application/json")
    with urllib.request.urlopen(request) as response:
        text = response.read()
    return json.loads(text) if text else None


def timed(name, rounds, operation):
    latencies = []
    start = time.perf_counter()
    for i in range(rounds):
        t = time.perf_counter()
        operation(i)
        latencies.append((time.perf_counter() - t) * 1000)
    elapsed = time.perf_counter() - start
    latencies.sort()
    pick = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2)
    print(json.dumps({"measure": name, "rounds": rounds, "p50_ms": pick(0.5),
                      "p99_ms": pick(0.99), "max_ms": round(latencies[-1], 2),
                      "ops_per_s": round(rounds / elapsed, 1)}))


def main():
    topic = f"bench-groups-{int(time.time())}"
    call("POST", "/v1/topics", {"name": topic, "partitions": 12})
    records = [{"value": i, "partition": i % 12} for i in range(120)]
    call("POST", f"/v1/topics/{topic}/records", {"records": records})
    offsets = [{"topic": topic, "partition": p, "offset": 5} for p in range(12)]
    timed("commit_12_offsets", ROUNDS,
          lambda i: call("PUT", f"/v1/groups/{topic}-simple/offsets", {"offsets": offsets}))
    for assignor in ["range", "sticky"]:
        group = f"{topic}-{assignor}"
        spec = {"topics": [topic], "assignor": assignor, "session_timeout_ms": 300000}
        members = [call("POST", f"/v1/groups/{group}/members", spec)["member_id"] for _ in range(3)]
        def join_and_leave(i):
            joined = call("POST", f"/v1/groups/{group}/members", spec)
            call("DELETE", f"/v1/groups/{group}/members/{joined['member_id']}")
        timed(f"rebalance_12_partitions_3_4_members_{assignor}_join_plus_leave", ROUNDS // 2,
              join_and_leave)
        timed(f"heartbeat_{assignor}", ROUNDS,
              lambda i: call("POST", f"/v1/groups/{group}/members/{members[0]}/heartbeat", {}))
        for member in members:
            call("DELETE", f"/v1/groups/{group}/members/{member}")


if __name__ == "__main__":
    main()
