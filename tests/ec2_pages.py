"""DescribeInstances reply bodies as EC2 sends them, for the parser tests and `bench parse`.

``real_instance`` is a full instance as real EC2 describes one (every block an instance
launched in a VPC with an EBS root volume carries; element order as EC2 writes it, which
the API reference says may vary), in the 2016-11-15 namespace with its trailing slash.
``page`` wraps instances into one reply; ``moto_page`` is moto's shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
MOTO_NS = "http://ec2.amazonaws.com/doc/2016-11-15"
STATES = {
    "pending": 0,
    "running": 16,
    "shutting-down": 32,
    "terminated": 48,
    "stopping": 64,
    "stopped": 80,
}


def real_instance(
    n: int, *, state: str = "running", tokens: str = "optional", tags: int = 4
) -> str:
    """Instance ``n`` as real EC2 writes it (about 5 KB, four timestamps)."""
    iid = f"i-{n:017x}"
    ip = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
    tag_items = "".join(
        f"<item><key>{k}</key><value>{v}</value></item>"
        for k, v in [("Name", f"web-{n}"), ("team", "payments"), ("env", "prod")][:tags]
        + [(f"cost-centre-{i}", f"cc-{n % 97}") for i in range(max(0, tags - 3))]
    )
    volumes = "".join(
        f"<item><deviceName>/dev/{dev}</deviceName><ebs><volumeId>vol-{n:08x}{i:09x}</volumeId>"
        "<status>attached</status><attachTime>2024-03-05T10:21:44.000Z</attachTime>"
        "<deleteOnTermination>true</deleteOnTermination></ebs></item>"
        for i, dev in enumerate(("xvda", "sdf"))
    )
    return (
        f"<item><instanceId>{iid}</instanceId><imageId>ami-0abcdef1234567890</imageId>"
        f"<instanceState><code>{STATES[state]}</code><name>{state}</name></instanceState>"
        f"<privateDnsName>ip-{ip.replace('.', '-')}.eu-west-1.compute.internal</privateDnsName>"
        "<dnsName/><reason/><keyName>ops-2024</keyName><amiLaunchIndex>0</amiLaunchIndex>"
        "<productCodes/><instanceType>m7g.large</instanceType>"
        "<launchTime>2024-03-05T10:21:43.000Z</launchTime>"
        "<placement><availabilityZone>eu-west-1b</availabilityZone><groupName/>"
        "<tenancy>default</tenancy></placement>"
        "<monitoring><state>disabled</state></monitoring>"
        "<subnetId>subnet-0a1b2c3d4e5f60718</subnetId><vpcId>vpc-0fedcba9876543210</vpcId>"
        f"<privateIpAddress>{ip}</privateIpAddress><sourceDestCheck>true</sourceDestCheck>"
        "<groupSet><item><groupId>sg-0123456789abcdef0</groupId><groupName>web</groupName>"
        "</item></groupSet><architecture>arm64</architecture>"
        "<rootDeviceType>ebs</rootDeviceType><rootDeviceName>/dev/xvda</rootDeviceName>"
        f"<blockDeviceMapping>{volumes}</blockDeviceMapping>"
        "<virtualizationType>hvm</virtualizationType>"
        f"<clientToken>terraform-{n:020d}</clientToken>"
        f"<tagSet>{tag_items}</tagSet><hypervisor>xen</hypervisor>"
        "<networkInterfaceSet><item>"
        f"<networkInterfaceId>eni-{n:017x}</networkInterfaceId>"
        "<subnetId>subnet-0a1b2c3d4e5f60718</subnetId><vpcId>vpc-0fedcba9876543210</vpcId>"
        "<description/><ownerId>111122223333</ownerId><status>in-use</status>"
        "<macAddress>06:1f:2e:3d:4c:5b</macAddress>"
        f"<privateIpAddress>{ip}</privateIpAddress>"
        f"<privateDnsName>ip-{ip.replace('.', '-')}.eu-west-1.compute.internal</privateDnsName>"
        "<sourceDestCheck>true</sourceDestCheck>"
        "<groupSet><item><groupId>sg-0123456789abcdef0</groupId><groupName>web</groupName>"
        "</item></groupSet>"
        f"<attachment><attachmentId>eni-attach-{n:017x}</attachmentId>"
        "<deviceIndex>0</deviceIndex><status>attached</status>"
        "<attachTime>2024-03-05T10:21:43.000Z</attachTime>"
        "<deleteOnTermination>true</deleteOnTermination><networkCardIndex>0</networkCardIndex>"
        "</attachment>"
        f"<privateIpAddressesSet><item><privateIpAddress>{ip}</privateIpAddress>"
        f"<privateDnsName>ip-{ip.replace('.', '-')}.eu-west-1.compute.internal</privateDnsName>"
        "<primary>true</primary></item></privateIpAddressesSet>"
        "<ipv6AddressesSet/><interfaceType>interface</interfaceType>"
        "<operator><managed>false</managed></operator>"
        "</item></networkInterfaceSet>"
        "<iamInstanceProfile>"
        "<arn>arn:aws:iam::111122223333:instance-profile/web</arn>"
        "<id>AIPAEXAMPLE0123456789</id></iamInstanceProfile>"
        "<ebsOptimized>true</ebsOptimized><enaSupport>true</enaSupport>"
        "<cpuOptions><coreCount>2</coreCount><threadsPerCore>1</threadsPerCore></cpuOptions>"
        "<capacityReservationSpecification><capacityReservationPreference>open"
        "</capacityReservationPreference></capacityReservationSpecification>"
        "<hibernationOptions><configured>false</configured></hibernationOptions>"
        "<enclaveOptions><enabled>false</enabled></enclaveOptions>"
        "<bootMode>uefi</bootMode>"
        f"<metadataOptions><state>applied</state><httpTokens>{tokens}</httpTokens>"
        "<httpPutResponseHopLimit>2</httpPutResponseHopLimit><httpEndpoint>enabled"
        "</httpEndpoint><httpProtocolIpv6>disabled</httpProtocolIpv6>"
        "<instanceMetadataTags>disabled</instanceMetadataTags></metadataOptions>"
        "<maintenanceOptions><autoRecovery>default</autoRecovery>"
        "<rebootMigration>default</rebootMigration></maintenanceOptions>"
        "<currentInstanceBootMode>uefi</currentInstanceBootMode>"
        "<networkPerformanceOptions><bandwidthWeighting>default</bandwidthWeighting>"
        "</networkPerformanceOptions><operator><managed>false</managed></operator>"
        "<platformDetails>Linux/UNIX</platformDetails><usageOperation>RunInstances"
        "</usageOperation><usageOperationUpdateTime>2024-03-05T10:21:43.000Z"
        "</usageOperationUpdateTime><privateDnsNameOptions><hostnameType>ip-name"
        "</hostnameType><enableResourceNameDnsARecord>false</enableResourceNameDnsARecord>"
        "<enableResourceNameDnsAAAARecord>false</enableResourceNameDnsAAAARecord>"
        "</privateDnsNameOptions></item>"
    )


def reservation(instances: Sequence[str], n: int = 0, ns_prefix: str = "") -> str:
    p = ns_prefix
    return (
        f"<{p}item><{p}reservationId>r-{n:017x}</{p}reservationId>"
        f"<{p}ownerId>111122223333</{p}ownerId><{p}groupSet/>"
        f"<{p}instancesSet>{''.join(instances)}</{p}instancesSet></{p}item>"
    )


def page(
    reservations: Sequence[str],
    next_token: str | None = None,
    *,
    ns: str = EC2_NS,
    request_id: str | None = "8f7724cf-496f-496e-8fe3-example",
    declaration: bool = True,
) -> bytes:
    """One DescribeInstances reply body; ``next_token`` ``""`` writes an empty element."""
    head = '<?xml version="1.0" encoding="UTF-8"?>\n' if declaration else ""
    rid = "" if request_id is None else f"<requestId>{escape(request_id)}</requestId>"
    token = "" if next_token is None else f"<nextToken>{escape(next_token)}</nextToken>"
    return (
        f'{head}<DescribeInstancesResponse xmlns="{ns}">{rid}'
        f"<reservationSet>{''.join(reservations)}</reservationSet>{token}"
        "</DescribeInstancesResponse>"
    ).encode()


def fleet_page(instances: int, per_reservation: int = 1, next_token: str | None = None) -> bytes:
    """A full page of real-shaped instances: the benchmark's page of 1,000."""
    states = list(STATES)
    items = [
        real_instance(n, state=states[n % len(states)], tokens=("optional", "required")[n % 2])
        for n in range(instances)
    ]
    groups = [items[i : i + per_reservation] for i in range(0, instances, per_reservation)]
    return page([reservation(g, n) for n, g in enumerate(groups)], next_token)


def moto_page(instances: int, tokens: str = "required") -> bytes:
    """moto 5.2's shape, as it answered in the tests: its namespace without the trailing
    slash, the request id last, members in its own order, ``<kernelId>None</kernelId>``."""
    items = "".join(
        "<item><architecture>x86_64</architecture><blockDeviceMapping><item><deviceName>"
        "/dev/sda1</deviceName><ebs><attachTime>2026-12-02T01:00:05.000Z</attachTime>"
        "<deleteOnTermination>true</deleteOnTermination><status>attached</status>"
        f"<volumeId>vol-{n:017x}</volumeId></ebs></item></blockDeviceMapping>"
        "<clientToken>9e9a6df5-6b38-440d-ba8d-78e66b11f838</clientToken>"
        "<ebsOptimized>false</ebsOptimized><hypervisor>xen</hypervisor>"
        "<rootDeviceName>/dev/sda1</rootDeviceName><rootDeviceType>ebs</rootDeviceType>"
        "<groupSet/><sourceDestCheck>true</sourceDestCheck><sriovNetSupport>simple"
        "</sriovNetSupport><stateReason><code/><message/></stateReason><tagSet><item><key>"
        f"Name</key><value>a&amp;b {n}</value></item></tagSet><virtualizationType>paravirtual"
        "</virtualizationType><hibernationOptions/><metadataOptions><state>applied</state>"
        f"<httpTokens>{tokens}</httpTokens><httpPutResponseHopLimit>1"
        "</httpPutResponseHopLimit><httpEndpoint>enabled</httpEndpoint><httpProtocolIpv6>"
        "disabled</httpProtocolIpv6><instanceMetadataTags>disabled</instanceMetadataTags>"
        f"</metadataOptions><instanceId>i-{n:017x}</instanceId><imageId>ami-12345678"
        "</imageId><instanceState><code>16</code><name>running</name></instanceState>"
        "<privateDnsName>ip-10-165-232-128.eu-west-1.compute.internal</privateDnsName>"
        "<dnsName>ec2-54-214-88-187.eu-west-1.compute.amazonaws.com</dnsName><reason/>"
        "<amiLaunchIndex>0</amiLaunchIndex><productCodes/><instanceType>m1.small"
        "</instanceType><launchTime>2026-12-02T01:00:05.000Z</launchTime><placement>"
        "<groupName/><tenancy>default</tenancy><availabilityZone>eu-west-1a"
        "</availabilityZone></placement><kernelId>None</kernelId><monitoring><state>"
        "disabled</state></monitoring><subnetId>subnet-49cb2e6b766b66255</subnetId>"
        "<vpcId>vpc-9c3519e296689de30</vpcId><privateIpAddress>10.165.232.128"
        "</privateIpAddress><ipAddress>54.214.88.187</ipAddress></item>"
        for n in range(instances)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<DescribeInstancesResponse xmlns="{MOTO_NS}"><reservationSet><item>'
        "<reservationId>r-97deadc12b7e5964e</reservationId><ownerId>123456789012</ownerId>"
        f"<groupSet/><instancesSet>{items}</instancesSet></item></reservationSet>"
        "<requestId>request-id</requestId></DescribeInstancesResponse>"
    ).encode()
