"""The targeted DescribeInstances parser (aws/instance_pages.py) against botocore's own.

Every case feeds one body to botocore's EC2 parser and to imdsguard's targeted one and
compares what imdsguard reads (``USED``: botocore's parse cut down to the members
instances.parse_instance reads), values and their types, tzinfo included. A page the
targeted parser does not read itself must come out exactly as botocore's parse of it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

import botocore.session
import pytest
from botocore.model import StructureShape
from botocore.parsers import EC2QueryParser
from hypothesis import given, settings
from hypothesis import strategies as st

from imdsguard.aws import instance_pages
from imdsguard.aws.instance_pages import ParserFactory, Unexpected, parse_page, targeted
from imdsguard.aws.instances import parse_instance
from tests.ec2_pages import EC2_NS, MOTO_NS, STATES, fleet_page, moto_page, page, real_instance
from tests.ec2_pages import reservation as reservation_xml

_MODEL = botocore.session.get_session().get_service_model("ec2")


def output_shape(operation: str) -> StructureShape:
    shape = _MODEL.operation_model(operation).output_shape
    assert shape is not None
    return shape


SHAPE = output_shape("DescribeInstances")
HEADERS = {"x-amzn-RequestId": "c6e2b1f4-0000-4000-8000-000000000000", "Server": "AmazonEC2"}
EXACT = "exact"  # compared whole
# What imdsguard reads of a page: parse_instance's members and the paginator's token.
_INSTANCE = {
    "InstanceId": EXACT,
    "ImageId": EXACT,
    "InstanceType": EXACT,
    "LaunchTime": EXACT,
    "State": {"Name": EXACT},
    "MetadataOptions": dict.fromkeys(
        (
            "HttpTokens",
            "HttpEndpoint",
            "HttpPutResponseHopLimit",
            "State",
            "HttpProtocolIpv6",
            "InstanceMetadataTags",
        ),
        EXACT,
    ),
    "Tags": [{"Key": EXACT, "Value": EXACT}],
    "IamInstanceProfile": {"Arn": EXACT},
}
USED: dict[str, Any] = {
    "Reservations": [{"Instances": [_INSTANCE]}],
    "NextToken": EXACT,
    "ResponseMetadata": EXACT,
}


def project(value: Any, schema: Any) -> Any:
    if schema == EXACT:
        return value
    if isinstance(schema, list):
        return [project(item, schema[0]) for item in value]
    return {k: project(v, schema[k]) for k, v in value.items() if k in schema}


def canon(value: Any) -> Any:
    """Comparable down to the types: dict order aside, a datetime with its tzinfo's repr."""
    if isinstance(value, dict):
        return sorted((k, canon(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return (type(value).__name__, [canon(v) for v in value])
    if isinstance(value, datetime):
        return ("datetime", repr(value))  # its fields and its tzinfo's
    if hasattr(value, "tag"):  # botocore reads a string member given twice as its elements
        return ("element", value.tag, value.text)
    return (type(value).__name__, value)


def response(body: bytes) -> dict[str, Any]:
    return {"body": body, "headers": HEADERS, "status_code": 200, "context": {}}


def outcome(parse: Callable[[], Any]) -> Any:
    try:
        return ("parsed", parse())
    except Exception as exc:  # botocore's failures are part of what must be the same
        return ("raised", type(exc).__name__, str(exc))


def by_botocore(body: bytes) -> Any:
    return outcome(lambda: EC2QueryParser().parse(response(body), SHAPE))


def by_targeted(body: bytes) -> Any:
    """The targeted parser as a paginator's page reaches it: inside ``targeted``."""

    def pages() -> Iterator[Any]:
        yield outcome(lambda: ParserFactory().create_parser("ec2").parse(response(body), SHAPE))

    [page_outcome] = targeted(pages())
    return page_outcome


def assert_same(body: bytes) -> None:
    ours, theirs = by_targeted(body), by_botocore(body)
    if theirs[0] == "parsed":
        theirs = ("parsed", project(theirs[1], USED))
    assert canon(ours) == canon(theirs)


def assert_fast(body: bytes) -> dict[str, Any]:
    """The targeted parser reads ``body`` itself, and as botocore does."""
    assert_same(body)
    return parse_page(body)


def assert_fallback(body: bytes) -> None:
    """The targeted parser hands ``body`` to botocore, whose parse is then all of it."""
    with pytest.raises(Unexpected):
        parse_page(body)
    assert canon(by_targeted(body)) == canon(by_botocore(body))


def one(instance: str, ns: str = EC2_NS, **kwargs: Any) -> bytes:
    return page([reservation_xml([instance])], ns=ns, **kwargs)


def without(element: str, xml: str) -> str:
    cut = re.sub(rf"<{element}>.*?</{element}>|<{element}/>", "", xml, count=1, flags=re.S)
    assert cut != xml
    return cut


def replace(element: str, text: str, xml: str) -> str:
    return re.sub(rf"<{element}>[^<]*</{element}>", f"<{element}>{text}</{element}>", xml, count=1)


REAL = real_instance(7)


# --- the shapes EC2 and moto send -------------------------------------------------------


@pytest.mark.parametrize("per_reservation", [1, 3, 50])
@pytest.mark.parametrize("token", [None, "", "eyJ2IjoiMiIsImMiOiJ4In0="])
def test_real_pages_of_every_state_many_reservations_and_tokens(
    per_reservation: int, token: str | None
) -> None:
    parsed = assert_fast(fleet_page(120, per_reservation, token))
    assert sum(len(r["Instances"]) for r in parsed["Reservations"]) == 120
    assert {i["State"]["Name"] for r in parsed["Reservations"] for i in r["Instances"]} == set(
        STATES
    )
    assert parsed.get("NextToken") == token


def test_moto_pages() -> None:
    parsed = assert_fast(moto_page(25))
    [reservation] = parsed["Reservations"]
    assert reservation["Instances"][0]["Tags"] == [{"Key": "Name", "Value": "a&b 0"}]


@pytest.mark.parametrize("ns", [EC2_NS, MOTO_NS, "", "urn:something-else"])
def test_any_namespace_as_botocore_ignores_it(ns: str) -> None:
    assert_fast(one(REAL, ns=ns))


def test_prefixed_and_mixed_namespaces() -> None:
    prefixed = re.sub(r"<(/?)(\w)", r"<\1ec2:\2", one(REAL, ns="").decode())
    prefixed = prefixed.replace(
        "<ec2:DescribeInstancesResponse", f'<ec2:DescribeInstancesResponse xmlns:ec2="{EC2_NS}"'
    )
    assert_fast(prefixed.encode())
    foreign = REAL.replace("<instanceType>", '<instanceType xmlns="urn:other">')
    assert_fast(one(foreign))


@pytest.mark.parametrize(
    "element",
    [
        "metadataOptions",
        "tagSet",
        "iamInstanceProfile",
        "launchTime",
        "imageId",
        "instanceType",
        "instanceState",
        "platformDetails",
        "networkInterfaceSet",
        "httpTokens",
        "httpPutResponseHopLimit",
        "httpEndpoint",
        "state",
        "instanceMetadataTags",
    ],
)
def test_members_left_out(element: str) -> None:
    assert_fast(one(without(element, REAL)))


@pytest.mark.parametrize(
    "instance",
    [
        REAL.replace("<tagSet>", "<tagSet/><x>").replace("</tagSet>", "</x>"),
        re.sub(r"<metadataOptions>.*?</metadataOptions>", "<metadataOptions/>", REAL),
        re.sub(
            r"<metadataOptions>.*?</metadataOptions>",
            "<metadataOptions><httpEndpoint>disabled</httpEndpoint></metadataOptions>",
            REAL,
        ),
        REAL.replace("<key>team</key>", ""),  # a tag without a key
        REAL.replace("<value>prod</value>", "<value/>"),
        replace("instanceId", "", REAL),
        "<item/>",
    ],
)
def test_empty_and_partial_members(instance: str) -> None:
    assert_fast(one(instance))


@pytest.mark.parametrize("state", sorted(STATES))
def test_every_instance_state(state: str) -> None:
    assert assert_fast(one(real_instance(1, state=state)))["Reservations"][0]["Instances"][0][
        "State"
    ] == {"Name": state}


@pytest.mark.parametrize(
    "body",
    [
        page([]),
        page([reservation_xml([])]),
        page([reservation_xml([]), reservation_xml([REAL], 1)], "next"),
        page([], request_id=None),
        page([], request_id=""),
        page([], next_token=""),
        b"<DescribeInstancesResponse/>",
    ],
)
def test_empty_pages(body: bytes) -> None:
    assert_fast(body)


@pytest.mark.parametrize(
    "instance",
    [
        replace("instanceId", "\n      i-0abc  \t", REAL),
        replace(
            "value", "a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#x41;&#233;&#8364;", REAL
        ),
        replace("value", "<![CDATA[<raw> & ]]>tail", REAL),
        replace("value", "before<!-- a comment -->after<?pi x?>", REAL),
        replace("value", "line\r\nnext\rlast", REAL),
        replace("value", "   ", REAL),
        REAL.replace(
            "<imageId>ami-0abcdef1234567890</imageId>", "<imageId>ami-1<b>x</b>tail</imageId>"
        ),
        REAL.replace("><", ">\n    <"),  # pretty-printed throughout
        REAL.replace("<instanceState>", '<instanceState code="16">'),
    ],
)
def test_whitespace_entities_and_markup_in_text(instance: str) -> None:
    assert_fast(one(instance))


def test_declared_encoding_is_ignored_as_botocore_ignores_it() -> None:
    body = one(replace("value", "café", REAL), declaration=False)
    assert_fast(b'<?xml version="1.0" encoding="ISO-8859-1"?>' + body)


@pytest.mark.parametrize(
    "stamp",
    [
        "2024-03-05T10:21:43.000Z",
        "2024-03-05T10:21:43Z",
        "2024-03-05T10:21:43.5Z",
        "2024-03-05T10:21:43.123456789Z",
        "2024-03-05T10:21:43+00:00",
        "2024-03-05T10:21:43.250-00:00",
        "2024-03-05T10:21:43+05:30",
        "2024-03-05T10:21:43.000-08:00",
        "2024-03-05T10:21:43",
        "2024-03-05T10:21:43.999999",
        "2024-02-29T23:59:59Z",
    ],
)
def test_timestamps(stamp: str) -> None:
    [instance] = assert_fast(one(replace("launchTime", stamp, REAL)))["Reservations"][0][
        "Instances"
    ]
    assert isinstance(instance["LaunchTime"], datetime)


@pytest.mark.parametrize(
    "zone",
    [
        "UTC",
        "Etc/UTC",
        "Europe/London",
        "America/New_York",
        "UTC0UTC,M3.5.0,M10.5.0",
        "UTC0BST,M3.5.0/1,M10.5.0",
    ],
)
@pytest.mark.parametrize(
    "stamp", ["2024-03-05T10:21:43.000Z", "2024-07-05T10:21:43-00:00", "2024-10-27T01:30:00Z"]
)
def test_zero_offsets_in_every_local_zone(
    zone: str, stamp: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dateutil's tzinfo for UTC depends on the process's zone names: the same here."""
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        assert_fast(one(replace("launchTime", stamp, REAL)))
    finally:
        monkeypatch.undo()
        time.tzset()


# --- what the targeted parser leaves to botocore ----------------------------------------


@pytest.mark.parametrize(
    "stamp",
    [
        "2024-03-05 10:21:43Z",
        "1709634103",
        "March 5 2024",
        "2024-03-05T10:21:43+0100",
        "2024-03-05t10:21:43z",
        "2024-02-30T00:00:00Z",
        "2024-03-05T24:00:00Z",
        "2024-03-05T10:21:43+24:00",
        " 2024-03-05T10:21:43Z",
        "",
    ],
)
def test_other_timestamps_are_botocores(stamp: str) -> None:
    assert_fallback(one(replace("launchTime", stamp, REAL)))


@pytest.mark.parametrize("limit", ["", " 2", "+2", "two", "²", "1e3"])
def test_other_integers_are_botocores(limit: str) -> None:
    assert_fallback(one(replace("httpPutResponseHopLimit", limit, REAL)))


@pytest.mark.parametrize(
    "body",
    [
        one(REAL.replace("</instanceId>", "</instanceId><instanceId>i-twice</instanceId>")),
        one(REAL.replace("<tagSet>", "<tagSet/><tagSet>")),
        one(REAL.replace("<httpTokens>", "<httpTokens>required</httpTokens><httpTokens>")),
        one(REAL.replace("<name>", "<name>x</name><name>")),
        one(REAL.replace("<arn>", "<arn>x</arn><arn>")),
        one(REAL.replace("<key>Name</key>", "<key>Name</key><key>Other</key>")),
        page([reservation_xml([REAL])]).replace(
            b"<reservationSet>", b"<reservationSet/><reservationSet>"
        ),
        page([], "a").replace(
            b"</DescribeInstancesResponse>", b"<nextToken>b</nextToken></DescribeInstancesResponse>"
        ),
        page([]).replace(b"<requestId>", b"<requestId>x</requestId><requestId>"),
    ],
)
def test_a_member_twice_is_botocores(body: bytes) -> None:
    assert_fallback(body)


@pytest.mark.parametrize(
    "body",
    [
        b'<!DOCTYPE DescribeInstancesResponse [<!ENTITY n "web">]>'
        + one(replace("value", "&n;", REAL), declaration=False),
        b'<!DOCTYPE DescribeInstancesResponse SYSTEM "x.dtd">'
        + one(replace("value", "&n;", REAL), declaration=False),
        b'<?xml version="2.0"?>' + one(REAL, declaration=False),
        one(replace("value", "<a>" * 300 + "</a>" * 300, REAL)),
        b"<DescribeInstancesResponse>",
        b"",
        b"not xml",
    ],
)
def test_documents_lxml_reads_otherwise_are_botocores(body: bytes) -> None:
    assert_fallback(body)


# --- where the targeted path applies ----------------------------------------------------


def test_outside_targeted_the_parser_is_botocores() -> None:
    body = fleet_page(3)
    parser = ParserFactory().create_parser("ec2")
    ours = parser.parse(response(body), SHAPE)
    assert canon(ours) == canon(by_botocore(body)[1])
    assert "Placement" in ours["Reservations"][0]["Instances"][0]


def test_inside_targeted_other_operations_are_botocores() -> None:
    shape = output_shape("DescribeImages")
    body = (
        f'<DescribeImagesResponse xmlns="{EC2_NS}"><requestId>r</requestId><imagesSet><item>'
        "<imageId>ami-1</imageId><creationDate>2024-01-01T00:00:00.000Z</creationDate>"
        "<imdsSupport>v2.0</imdsSupport></item></imagesSet></DescribeImagesResponse>"
    ).encode()

    def pages() -> Iterator[Any]:
        yield ParserFactory().create_parser("ec2").parse(response(body), shape)

    [ours] = targeted(pages())
    assert canon(ours) == canon(EC2QueryParser().parse(response(body), shape))


def test_targeted_covers_each_fetch_only() -> None:
    seen: list[bool] = []

    def pages() -> Iterator[int]:
        for n in range(3):
            seen.append(instance_pages._TARGETED.get())
            yield n

    for _ in targeted(pages()):
        seen.append(instance_pages._TARGETED.get())
    assert seen == [True, False, True, False, True, False]


def test_other_protocols_keep_botocores_parsers() -> None:
    for protocol in ("query", "json", "rest-json", "rest-xml"):
        parser = ParserFactory().create_parser(protocol)
        assert type(parser) is type(botocore.parsers.create_parser(protocol))


class Recorder(Mapping[str, Any]):
    """A parsed instance that notes every member path read of it."""

    def __init__(self, data: Mapping[str, Any], path: str, reads: set[str]) -> None:
        self._data, self._path, self._reads = data, path, reads

    def _wrap(self, key: str, value: Any) -> Any:
        path = f"{self._path}.{key}"
        if isinstance(value, Mapping):
            return Recorder(value, path, self._reads)
        if isinstance(value, list):
            return [Recorder(v, f"{path}[]", self._reads) for v in value]
        return value

    def __getitem__(self, key: str) -> Any:
        self._reads.add(f"{self._path}.{key}")
        return self._wrap(key, self._data[key])

    def __contains__(self, key: object) -> bool:
        self._reads.add(f"{self._path}.{key}")
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        raise AssertionError(f"parse_instance iterates {self._path}: list what it reads")

    def __len__(self) -> int:
        return len(self._data)


def paths(schema: Any, prefix: str) -> set[str]:
    if schema == EXACT:
        return set()
    if isinstance(schema, list):
        return paths(schema[0], f"{prefix}[]")
    found: set[str] = set()
    for key, sub in schema.items():
        found |= {f"{prefix}.{key}"} | paths(sub, f"{prefix}.{key}")
    return found


def test_parse_instance_reads_only_what_the_targeted_parser_fills() -> None:
    """A member parse_instance starts to read must be added to instance_pages' table."""
    reads: set[str] = set()
    full = by_botocore(one(REAL))[1]["Reservations"][0]["Instances"][0]
    parse_instance(Recorder(full, "Instance", reads))
    assert reads <= paths(_INSTANCE, "Instance")
    assert reads >= {"Instance.MetadataOptions.HttpTokens", "Instance.Tags[].Key"}


# --- generated pages ----------------------------------------------------------------------

# XML 1.0 characters (no surrogates, no U+FFFE/FFFF), escaped as a serialiser would.
_CHARS = st.characters(
    codec="utf-8", exclude_categories=["Cs"], exclude_characters="\ufffe\uffff"
).filter(lambda c: c in "\t\n\r" or c >= " ")
_TEXT = st.text(_CHARS, max_size=12)
_STAMP = st.builds(
    lambda d, frac, zone: d.strftime("%Y-%m-%dT%H:%M:%S") + frac + zone,
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1)),
    st.sampled_from(["", ".0", ".000", ".5", ".123456", ".123456789"]),
    st.sampled_from(["", "Z", "+00:00", "-00:00", "+01:00", "-08:00", "+05:45", "+14:00"]),
)


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )


def _element(name: str, text: str | None) -> str:
    return f"<{name}/>" if text is None else f"<{name}>{_escape(text)}</{name}>"


@st.composite
def instances(draw: st.DrawFn, odd: bool) -> str:
    value = _TEXT if odd else st.text(st.sampled_from("abc-/&<> 0"), max_size=8)
    stamp = st.one_of(_STAMP, _TEXT) if odd else _STAMP
    limit = st.one_of(st.integers(1, 64).map(str), _TEXT) if odd else st.integers(1, 64).map(str)
    words = st.sampled_from(["optional", "required", "enabled", "disabled", "applied", "pending"])
    members = {
        "instanceId": value,
        "imageId": value,
        "instanceType": value,
        "launchTime": stamp,
        "platformDetails": value,
    }
    parts = [_element(name, draw(text)) for name, text in members.items() if draw(st.booleans())]
    if draw(st.booleans()):
        parts.append(
            f"<instanceState><name>{draw(st.sampled_from(sorted(STATES)))}</name></instanceState>"
        )
    if draw(st.booleans()):
        fields = ["httpTokens", "httpEndpoint", "state", "httpProtocolIpv6", "instanceMetadataTags"]
        inner = [_element(f, draw(words | value)) for f in fields if draw(st.booleans())]
        if draw(st.booleans()):
            inner.append(_element("httpPutResponseHopLimit", draw(limit)))
        parts.append(f"<metadataOptions>{''.join(draw(st.permutations(inner)))}</metadataOptions>")
    if draw(st.booleans()):
        tags = draw(st.lists(st.tuples(st.none() | value, st.none() | value), max_size=4))
        items = "".join(
            "<item>"
            + "".join(_element(n, t) for n, t in (("key", k), ("value", v)) if t is not None)
            + "</item>"
            for k, v in tags
        )
        parts.append(f"<tagSet>{items}</tagSet>")
    if draw(st.booleans()):
        parts.append(
            f"<iamInstanceProfile>{_element('arn', draw(value))}<id>x</id></iamInstanceProfile>"
        )
    return f"<item>{''.join(draw(st.permutations(parts)))}</item>"


@st.composite
def pages(draw: st.DrawFn, odd: bool) -> bytes:
    groups = draw(st.lists(st.lists(instances(odd), max_size=3), max_size=4))
    token = draw(st.none() | st.just("") | st.text(st.sampled_from("abcXYZ09+/="), min_size=1))
    ns = draw(st.sampled_from([EC2_NS, MOTO_NS, ""]))
    return page([reservation_xml(g, n) for n, g in enumerate(groups)], token, ns=ns)


@settings(max_examples=300, deadline=None)
@given(pages(odd=False))
def test_generated_pages_of_values_ec2_sends_are_read_without_botocore(body: bytes) -> None:
    assert_fast(body)


@settings(max_examples=300, deadline=None)
@given(pages(odd=True))
def test_generated_pages_of_any_values_read_as_botocore_reads_them(body: bytes) -> None:
    assert_same(body)
