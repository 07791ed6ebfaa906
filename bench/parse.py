"""Parse benchmark: client CPU to describe 1,000 instances, botocore's parser vs the targeted one.

Pages of real-shaped instances (tests/ec2_pages.py, about 4.6 KB each) are answered by a
``before-send`` handler instead of the network, so the client's whole path runs (signing,
the reply rule, the parser, the paginator and its tokens, parse_instance) and only the
wire is left out. Both paths use the same client; botocore's is the paginator read
outside ``instance_pages.targeted``.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from tests.ec2_pages import fleet_page

from imdsguard.aws.instances import PAGE_SIZE, get_instances, parse_instance
from imdsguard.aws.session import AccountAccess, SessionFactory
from imdsguard.demo.server import isolate_environment
from imdsguard.model.scan import Instance

TARGET_MS = 150.0  # client CPU per 1,000 instances described (issue 11)


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self) -> Iterator[bytes]:
        yield self._body


def ec2_answering(pages: list[bytes]) -> Any:
    """An imdsguard EC2 client whose DescribeInstances calls get ``pages`` in turn."""
    isolate_environment()
    factory = SessionFactory(endpoint_url="https://ec2.eu-west-1.amazonaws.com")
    client = factory.ec2(AccountAccess("111122223333"), "eu-west-1")
    served: list[int] = []

    def answer(request: Any, **_: Any) -> Any:  # a before-send handler's reply is sent
        body = pages[len(served) % len(pages)]
        served.append(len(body))
        headers = HTTPHeaders()
        headers["x-amzn-RequestId"] = "bench"
        return AWSResponse(request.url, 200, headers, _Body(body))

    client.meta.events.register("before-send.ec2.DescribeInstances", answer)
    return client


def by_botocore(client: Any) -> list[Instance]:
    pages = client.get_paginator("describe_instances").paginate(
        PaginationConfig={"PageSize": PAGE_SIZE}
    )
    return [
        parse_instance(raw)
        for page in pages
        for reservation in page["Reservations"]
        for raw in reservation["Instances"]
    ]


def cpu_ms(describe: Any, client: Any, expect: int) -> float:
    gc.collect()
    start = time.process_time()
    described = describe(client)
    spent = time.process_time() - start
    if len(described) != expect:
        raise SystemExit(f"described {len(described)} instances, expected {expect}")
    return spent * 1000


def run(repeat: int, instances: int, pages: int) -> dict[str, Any]:
    bodies = [
        fleet_page(instances, next_token=f"page-{n + 1}" if n + 1 < pages else None)
        for n in range(pages)
    ]
    client = ec2_answering(bodies)
    total = instances * pages
    if by_botocore(client) != list(get_instances(client)):  # warm, and the same answer
        raise SystemExit("the targeted parser's instances differ from botocore's")
    runs: dict[str, list[float]] = {"botocore": [], "targeted": []}
    for _ in range(repeat):  # interleaved, so the machine's load falls on both alike
        runs["botocore"].append(cpu_ms(by_botocore, client, total))
        runs["targeted"].append(cpu_ms(lambda c: list(get_instances(c)), client, total))
    per_1000 = {k: statistics.median(v) * 1000 / total for k, v in runs.items()}
    return {
        "repeat": repeat,
        "instances_per_page": instances,
        "pages": pages,
        "page_bytes": len(bodies[0]),
        "botocore_ms_per_1000": per_1000["botocore"],
        "targeted_ms_per_1000": per_1000["targeted"],
        "ratio": per_1000["botocore"] / per_1000["targeted"],
        "target_ms_per_1000": TARGET_MS,
        "runs_ms": runs,
    }


def report(results: dict[str, Any]) -> str:
    ok = results["targeted_ms_per_1000"] <= TARGET_MS
    return "\n".join(
        [
            f"parse benchmark (median of {results['repeat']}; {results['pages']} pages of"
            f" {results['instances_per_page']} instances, {results['page_bytes'] / 1e6:.1f} MB"
            " each; client CPU per 1,000 instances described)",
            f"  botocore's parser   {results['botocore_ms_per_1000']:7.1f} ms",
            f"  targeted parser     {results['targeted_ms_per_1000']:7.1f} ms"
            f"   ({'meets' if ok else 'MISSES'} target <= {TARGET_MS:.0f} ms)",
            f"  ratio               {results['ratio']:7.1f} x",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(prog="python -m bench parse", description=__doc__)
    options.add_argument("--repeat", type=int, default=7)
    options.add_argument("--instances", type=int, default=1000, help="per page")
    options.add_argument("--pages", type=int, default=3)
    args = options.parse_args(argv)
    results = run(args.repeat, args.instances, args.pages)
    print(report(results))
    saved = Path("bench/results/parse.json")
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
