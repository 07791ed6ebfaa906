"""A replay server on 127.0.0.1: generated DescribeInstances pages at memory speed.

``python -m bench.replay --instances N`` prints its URL and serves, until terminated, what a
``scan --resources instances --regions us-east-1`` calls: STS GetCallerIdentity,
DescribeRegions and DescribeInstances, whose N instances are made on the fly, page by page,
in the shape AWS answers (EC2's XML with its namespace, a ``requestId`` in the body and the
``x-amzn-RequestId`` header, and ``nextToken`` paging up to MaxResults per page), so the
reply rule (imdsguard/aws/replies.py) accepts every page. Anything else is answered as EC2
answers an unknown action, so an unexpected call shows up as a scope error, never as an
empty success. moto needs about 3 s per 1,000 instances; this needs milliseconds.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

ACCOUNT = "123456789012"
REGIONS = ("us-east-1", "us-east-2", "us-west-2", "eu-west-1", "ap-southeast-2")
EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"

# One instance as DescribeInstances returns it, with the fields a real reply carries (a
# parser's cost grows with them, not only with the few imdsguard reads).
_INSTANCE = """<item>
<instanceId>i-%(n)017x</instanceId><imageId>ami-0abcdef1234567890</imageId>
<instanceState><code>16</code><name>running</name></instanceState>
<privateDnsName>ip-10-0-%(a)d-%(b)d.ec2.internal</privateDnsName><dnsName/>
<reason/><keyName>fleet</keyName><amiLaunchIndex>0</amiLaunchIndex><productCodes/>
<instanceType>m5.large</instanceType><launchTime>2026-01-02T03:04:05.000Z</launchTime>
<placement><availabilityZone>us-east-1a</availabilityZone><groupName/><tenancy>default</tenancy></placement>
<monitoring><state>disabled</state></monitoring><subnetId>subnet-0123456789abcdef0</subnetId>
<vpcId>vpc-0123456789abcdef0</vpcId><privateIpAddress>10.0.%(a)d.%(b)d</privateIpAddress>
<sourceDestCheck>true</sourceDestCheck>
<groupSet><item><groupId>sg-0123456789abcdef0</groupId><groupName>fleet</groupName></item></groupSet>
<architecture>x86_64</architecture><rootDeviceType>ebs</rootDeviceType>
<rootDeviceName>/dev/xvda</rootDeviceName>
<blockDeviceMapping><item><deviceName>/dev/xvda</deviceName><ebs><volumeId>vol-%(n)017x</volumeId>
<status>attached</status><attachTime>2026-01-02T03:04:06.000Z</attachTime>
<deleteOnTermination>true</deleteOnTermination></ebs></item></blockDeviceMapping>
<virtualizationType>hvm</virtualizationType><clientToken/>
<tagSet><item><key>Name</key><value>fleet-%(n)d</value></item>
<item><key>team</key><value>platform</value></item></tagSet>
<hypervisor>xen</hypervisor>
<iamInstanceProfile><arn>arn:aws:iam::%(account)s:instance-profile/fleet</arn>
<id>AIPA0123456789EXAMPLE</id></iamInstanceProfile>
<ebsOptimized>false</ebsOptimized><enaSupport>true</enaSupport>
<cpuOptions><coreCount>1</coreCount><threadsPerCore>2</threadsPerCore></cpuOptions>
<metadataOptions><state>applied</state><httpTokens>%(tokens)s</httpTokens>
<httpPutResponseHopLimit>2</httpPutResponseHopLimit><httpEndpoint>enabled</httpEndpoint>
<httpProtocolIpv6>disabled</httpProtocolIpv6><instanceMetadataTags>disabled</instanceMetadataTags>
</metadataOptions><bootMode>uefi-preferred</bootMode><platformDetails>Linux/UNIX</platformDetails>
</item>"""


def instances_page(total: int, offset: int, size: int, request_id: str) -> str:
    """One page: instances ``offset`` to ``offset + size`` of ``total``, one reservation."""
    end = min(total, offset + size)
    items = "".join(
        _INSTANCE
        % {
            "n": n,
            "a": (n >> 8) & 255,
            "b": n & 255,
            "account": ACCOUNT,
            "tokens": "optional" if n % 3 == 0 else "required",
        }
        for n in range(offset, end)
    )
    reservation = (
        f"<item><reservationId>r-{offset:017x}</reservationId><ownerId>{ACCOUNT}</ownerId>"
        f"<groupSet/><instancesSet>{items}</instancesSet></item>"
        if items
        else ""
    )
    token = f"<nextToken>{end}</nextToken>" if end < total else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<DescribeInstancesResponse xmlns="{EC2_NS}">'
        f"<requestId>{request_id}</requestId><reservationSet>{reservation}</reservationSet>"
        f"{token}</DescribeInstancesResponse>"
    )


def regions_reply(request_id: str) -> str:
    items = "".join(
        f"<item><regionName>{r}</regionName><regionEndpoint>ec2.{r}.amazonaws.com</regionEndpoint>"
        f"<optInStatus>opt-in-not-required</optInStatus></item>"
        for r in REGIONS
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<DescribeRegionsResponse xmlns="{EC2_NS}">'
        f"<requestId>{request_id}</requestId><regionInfo>{items}</regionInfo>"
        "</DescribeRegionsResponse>"
    )


def identity_reply(request_id: str) -> str:
    return (
        f'<GetCallerIdentityResponse xmlns="{STS_NS}"><GetCallerIdentityResult>'
        f"<Arn>arn:aws:iam::{ACCOUNT}:user/bench</Arn><UserId>AIDA0123456789EXAMPLE</UserId>"
        f"<Account>{ACCOUNT}</Account></GetCallerIdentityResult>"
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        "</GetCallerIdentityResponse>"
    )


def unknown_reply(action: str, request_id: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
        f"<Code>InvalidAction</Code><Message>The action {action} is not valid for this web "
        f"service.</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
    )


class Replay(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    total = 0

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        action, request_id = form.get("Action", ""), str(uuid.uuid4())
        status = 200
        if action == "DescribeInstances":
            size = int(form.get("MaxResults", "1000"))
            body = instances_page(self.total, int(form.get("NextToken", "0")), size, request_id)
        elif action == "DescribeRegions":
            body = regions_reply(request_id)
        elif action == "GetCallerIdentity":
            body = identity_reply(request_id)
        else:
            status, body = 400, unknown_reply(action, request_id)
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/xml;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", request_id)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the benchmark reads only the URL line from stdout."""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replay")
    parser.add_argument("--instances", type=int, required=True)
    args = parser.parse_args(argv)
    handler = type("FleetReplay", (Replay,), {"total": args.instances})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
