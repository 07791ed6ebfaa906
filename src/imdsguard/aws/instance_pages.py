"""A targeted parser for DescribeInstances pages: botocore's answer, for the fields imdsguard reads.

botocore turns every element of a reply into Python through its shape model, and a page of
1,000 instances (about 5 MB of XML, four timestamps each) costs it close to a second of
CPU, most of it in members imdsguard never reads. This parser builds the document with
lxml and reads only the members ``instances.parse_instance`` reads (and the paginator's
NextToken and the request id), under botocore's names and with botocore's values: the
page a caller gets is botocore's page with every other member left out.

It is botocore's own reply path with one step swapped: a session whose
``response_parser_factory`` component is ``ParserFactory`` gives its clients an EC2
parser that reads a DescribeInstances page this way while the caller is inside
``targeted`` and otherwise parses as botocore does. Everything before the parse stays
botocore's and imdsguard's: signing, retries, the reply rule of ``aws/replies.py``
(``before-parse`` runs first), the paginator, and error replies (status >= 301), which
never reach ``_do_parse``.

Anything it does not expect (a member twice, a value botocore would read differently, a
DTD, a document lxml refuses) makes it hand the whole page to botocore's parser: a page is
botocore's or this parser's, never a guess. tests/test_instance_pages.py holds the two to
the same result.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from datetime import datetime
from typing import Any, TypeVar

from botocore.parsers import EC2QueryParser, ResponseParser, ResponseParserFactory
from dateutil.tz import enfold, tzlocal, tzoffset, tzutc
from lxml import etree

_Page = TypeVar("_Page")
_Reader = Callable[[Any], Any]
_TARGETED: ContextVar[bool] = ContextVar("imdsguard_targeted_describe", default=False)
_RESULT_SHAPE = "DescribeInstancesResult"
# The ISO 8601 form EC2 writes (``2024-03-05T10:21:43.000Z``) and moto's ``+00:00``.
_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?(?:(Z)|([+-])([0-9]{2}):([0-9]{2}))?",
    re.ASCII,
)
_DIGITS = re.compile(r"[0-9]+", re.ASCII)


class Unexpected(Exception):
    """The page is not one this parser reads exactly like botocore: botocore's parser must."""


def targeted(pages: Iterable[_Page]) -> Iterator[_Page]:
    """``pages`` (a DescribeInstances paginator's), each fetched with the targeted parser.

    Only while each page is fetched: a caller holding a page reads everything else
    botocore's way.
    """
    iterator = iter(pages)
    while True:
        token = _TARGETED.set(True)
        try:
            page = next(iterator, None)
        finally:
            _TARGETED.reset(token)
        if page is None:
            return
        yield page


class ParserFactory(ResponseParserFactory):
    """botocore's parser factory, whose EC2 parser knows the targeted path.

    Its EC2 parser is made without the factory's ``set_parser_defaults`` (a custom
    timestamp or blob parser), which the targeted path could not honour: imdsguard sets
    none.
    """

    def create_parser(self, protocol_name: str) -> ResponseParser:
        parser = super().create_parser(protocol_name)
        if type(parser) is EC2QueryParser:
            return _TargetedEC2Parser()
        return parser


class _TargetedEC2Parser(EC2QueryParser):
    # ``_do_parse`` is where botocore's parsers read a successful body; ``parse`` around it
    # adds ResponseMetadata's status and headers. Pinned by tests/test_instance_pages.py.
    def _do_parse(self, response: Mapping[str, Any], shape: Any) -> Any:
        if _TARGETED.get() and shape is not None and shape.name == _RESULT_SHAPE:
            try:
                return parse_page(response["body"])
            except Unexpected:
                pass  # botocore reads this page, as it reads every other
        return super()._do_parse(response, shape)  # type: ignore[misc]


def parse_page(body: bytes) -> dict[str, Any]:
    """Pure: one DescribeInstances reply body -> botocore's parse of it, cut to ``_ROOT``.

    Raises Unexpected where botocore might read the page differently.
    """
    # As botocore's parser reads it: UTF-8 whatever the declaration says, comments and
    # processing instructions dropped (ElementTree's TreeBuilder keeps neither), nothing
    # fetched, no entity resolved (a DTD sends the page to botocore). One parser per page:
    # lxml serialises the threads that share one.
    parser = etree.XMLParser(
        encoding="utf-8",
        remove_comments=True,
        remove_pis=True,
        resolve_entities=False,
        no_network=True,
        collect_ids=False,
    )
    try:
        root = etree.fromstring(body, parser)
    except etree.LxmlError as exc:
        raise Unexpected(f"lxml does not read it: {exc}") from exc
    if root.getroottree().docinfo.internalDTD is not None:  # any <!DOCTYPE>, lxml sets it
        # ElementTree expands a DTD's entities, lxml leaves references: botocore's call.
        raise Unexpected("it has a document type declaration")
    # botocore reads the root as the result, whatever its name (replies.py checks that).
    return _ROOT(root)


class _Structure:
    """Reads a structure as botocore does: XML name -> (botocore's name, how it reads it)."""

    __slots__ = ("members", "tags")

    def __init__(self, members: Mapping[str, tuple[str, _Reader]]) -> None:
        self.members = members
        # lxml's ``{*}name`` is the local name in any namespace or none, as botocore
        # matches members; lxml skips the other children without making them objects.
        self.tags = tuple(f"{{*}}{name}" for name in members)

    def __call__(self, node: Any) -> dict[str, Any]:
        parsed: dict[str, Any] = {}
        for child in node.iterchildren(*self.tags):
            name = child.tag.rpartition("}")[2]
            key, read = self.members[name]
            if key in parsed:
                # botocore reads a member given twice as a list, of elements: not ours.
                raise Unexpected(f"<{name}> twice in <{node.tag}>")
            parsed[key] = read(child)
        return parsed


def _string(node: Any) -> str:
    # botocore: the element's own text (before any child element), "" when it has none.
    return node.text or ""


def _integer(node: Any) -> int:
    text = _string(node)
    if _DIGITS.fullmatch(text) is None:
        raise Unexpected(f"integer {text!r}")
    return int(text)


def _timestamp(node: Any) -> datetime:
    """What botocore's ``parse_timestamp`` (dateutil's parser) makes of the forms matched."""
    text = _string(node)
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        raise Unexpected(f"timestamp {text!r}")
    year, month, day, hour, minute, second, fraction, utc, sign, zh, zm = match.groups()
    # dateutil keeps the first six digits of the fraction.
    micro = int(fraction.ljust(6, "0")[:6]) if fraction else 0
    try:
        naive = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro
        )
    except ValueError as exc:
        raise Unexpected(f"timestamp {text!r}") from exc
    if utc is None and sign is None:
        return naive  # no zone: dateutil's datetime is naive too
    offset = 0
    if sign is not None:
        if int(zh) > 23 or int(zm) > 59:
            raise Unexpected(f"timestamp {text!r}")
        offset = (1 if sign == "+" else -1) * (int(zh) * 3600 + int(zm) * 60)
    if offset:
        return naive.replace(tzinfo=tzoffset(None, offset))
    return _utc(naive)


def _utc(naive: datetime) -> datetime:
    """dateutil names a zero offset "UTC", and gives a zone of that name in the process's
    local names (``time.tzname``: a machine on UTC) ``tzlocal()``, else ``tzutc()``."""
    if "UTC" not in time.tzname:
        return naive.replace(tzinfo=tzutc())
    aware = naive.replace(tzinfo=tzlocal())
    if aware.tzname() != "UTC":
        folded = enfold(aware, fold=1)
        aware = folded if folded.tzname() == "UTC" else aware
    return aware if aware.tzname() == "UTC" else naive.replace(tzinfo=tzutc())


def _list(member: _Structure) -> _Reader:
    # botocore's EC2 lists: every child element is a member, whatever its name.
    return lambda node: [member(child) for child in node]


# The members instances.parse_instance reads; tests/test_instance_pages.py holds the
# values to botocore's and parse_instance to reading nothing else.
_METADATA = _Structure(
    {
        "httpTokens": ("HttpTokens", _string),
        "httpPutResponseHopLimit": ("HttpPutResponseHopLimit", _integer),
        "httpEndpoint": ("HttpEndpoint", _string),
        "state": ("State", _string),
        "httpProtocolIpv6": ("HttpProtocolIpv6", _string),
        "instanceMetadataTags": ("InstanceMetadataTags", _string),
    }
)
_INSTANCE = _Structure(
    {
        "instanceId": ("InstanceId", _string),
        "imageId": ("ImageId", _string),
        "instanceType": ("InstanceType", _string),
        "launchTime": ("LaunchTime", _timestamp),
        "instanceState": ("State", _Structure({"name": ("Name", _string)})),
        "metadataOptions": ("MetadataOptions", _METADATA),
        "tagSet": (
            "Tags",
            _list(_Structure({"key": ("Key", _string), "value": ("Value", _string)})),
        ),
        "iamInstanceProfile": ("IamInstanceProfile", _Structure({"arn": ("Arn", _string)})),
    }
)
_RESULT = {
    "reservationSet": (
        "Reservations",
        _list(_Structure({"instancesSet": ("Instances", _list(_INSTANCE))})),
    ),
    "nextToken": ("NextToken", _string),
}
# EC2QueryParser's ResponseMetadata: the element's text as it is, None when empty.
_ROOT = _Structure(
    {**_RESULT, "requestId": ("ResponseMetadata", lambda node: {"RequestId": node.text})}
)
