"""Accept a reply only if it is recognisably the operation's answer; anything else fails.

botocore parses an HTTP 200 whose body is empty, cut off, or something else entirely (a
proxy's or captive portal's page, another operation's reply, an emulator that does not
know the call) into an empty result, and an empty result reads as "nothing there". For
an auditor that is the worst possible answer, so every client imdsguard builds carries
this rule:

- the reply carries a request id (the ``x-amzn-RequestId`` header, or the
  ``requestId``/``RequestId`` element AWS's XML protocols put in the body);
- XML (EC2 and Query protocols): the root element is ``<Operation>Response``, the
  document is complete, and the result element the output shape names is there;
- JSON: the body is one JSON object holding every member the output shape requires;
- and it is UTF-8 text.

A reply that fails is retried (``ATTEMPTS`` in all) and then becomes an AWS error with
code ``NotAnAwsAnswer`` and a plain reason, which the adapters turn into a scope error.
Pagination needs nothing more: a page ends a listing only when it is a real answer
without a next token.

The botocore internals this needs (the ``before-parse`` and ``needs-retry`` events and
what they pass) stay in ``install``, pinned by tests/test_replies.py. See botocore's
"Events" documentation: https://boto3.amazonaws.com/v1/documentation/api/latest/guide/events.html
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from imdsguard.errors import redact

CODE = "NotAnAwsAnswer"
ATTEMPTS = 3
_BACKOFF = 0.2  # seconds before the first retry of a bad reply, doubled after each
_VERDICT = "ImdsguardNotAnAnswer"  # carried from before-parse to needs-retry in the parse
_XML_PROTOCOLS = frozenset({"ec2", "query"})
# The root element: after an optional XML declaration and comments, with any prefix.
_ROOT = re.compile(rb"\A\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<(?:[\w.-]+:)?([\w.-]+)", re.S)
_REQUEST_ID = re.compile(rb"<(?:[\w.-]+:)?(?:requestId|RequestId)>")


def install(client: Any) -> None:
    """Hold every reply ``client`` receives to the rule above."""
    events = client.meta.events
    service = client.meta.service_model.service_id.hyphenize()
    # ``first`` on the service's own node: ahead of botocore's retry handler, which
    # registers on the same node, so a bad 200 never reaches it as a success.
    events.register_first(f"before-parse.{service}", _check, unique_id="imdsguard-reply-check")
    events.register_first(f"needs-retry.{service}", _retry, unique_id="imdsguard-reply-retry")


def problem(operation_model: Any, status: int, headers: Any, body: bytes) -> str | None:
    """Why this reply is not ``operation_model``'s answer, or ``None`` if it is.

    Only successful replies are judged: an error reply is botocore's to parse.
    """
    if not 200 <= status < 300:
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"the body is not UTF-8 text (byte {exc.start})"
    if not body.strip():
        return "empty body"
    protocol = operation_model.service_model.resolved_protocol
    if protocol in _XML_PROTOCOLS:
        why = _xml_problem(operation_model, body)
    else:
        why = _json_problem(operation_model, text)
    if why is None and not _has_request_id(headers, body, protocol):
        why = "no request id"
    return why


def _xml_problem(operation_model: Any, body: bytes) -> str | None:
    expected = f"{operation_model.name}Response"
    match = _ROOT.match(body[:4096])
    if match is None:
        return "not an XML document"
    root = match.group(1).decode("ascii", "replace")
    if root != expected:
        return f"its root element is <{root}>, not <{expected}>"
    # The last closing tag, then only whitespace: looked for from the end, as a search of
    # a 5 MB page for it costs ~10 ms (bytes.rstrip strips what a bytes regex's \s is).
    text = body.rstrip()
    closing = text[text.rfind(b"</") :]
    if not re.fullmatch(rb"</(?:[\w.-]+:)?" + re.escape(expected.encode()) + rb">", closing):
        return "the document is cut off"
    output = operation_model.output_shape
    wrapper = output.serialization.get("resultWrapper") if output is not None else None
    if wrapper and not re.search(
        rb"<(?:[\w.-]+:)?" + re.escape(wrapper.encode()) + rb"[\s/>]", body
    ):
        return f"it has no <{wrapper}>"
    return None


def _json_problem(operation_model: Any, text: str) -> str | None:
    try:
        doc = json.loads(text)
    except ValueError:
        return "the body is not JSON (cut off?)"
    except RecursionError:
        return "the body is nested too deeply"
    if not isinstance(doc, dict):
        return "the body is not a JSON object"
    output = operation_model.output_shape
    if output is None:
        return None
    in_body = [
        name
        for name in output.required_members
        if output.members[name].serialization.get("location") is None
    ]
    missing = [name for name in in_body if name not in doc]
    if missing:
        return f"it lacks the required {', '.join(missing)}"
    if output.members and not any(name in doc for name in output.members):
        # AWS's JSON answers carry their result members (empty lists included): a body
        # with none of them is some other document, not an empty listing.
        return f"it has none of {operation_model.name}'s result members"
    return None


def _has_request_id(headers: Any, body: bytes, protocol: str) -> bool:
    if headers.get("x-amzn-requestid") or headers.get("x-amz-request-id"):
        return True
    return protocol in _XML_PROTOCOLS and _REQUEST_ID.search(body) is not None


def _check(
    operation_model: Any, response_dict: dict[str, Any], customized_response_dict: dict[str, Any],
    **_: Any,
) -> None:  # fmt: skip
    why = problem(
        operation_model,
        response_dict["status_code"],
        response_dict["headers"],
        response_dict["body"] or b"",
    )
    if why is not None:
        # Parse nothing of it (a cut-off document would only raise a parser error, which
        # is never retried), and tell the retry step why: ``customized_response_dict`` is
        # merged into the parsed result.
        response_dict["body"] = _blank(operation_model)
        customized_response_dict[_VERDICT] = why


def _blank(operation_model: Any) -> bytes:
    """The smallest document botocore's parser for this operation reads without error."""
    if operation_model.service_model.resolved_protocol not in _XML_PROTOCOLS:
        return b"{}"
    root = f"{operation_model.name}Response"
    output = operation_model.output_shape
    wrapper = output.serialization.get("resultWrapper") if output is not None else None
    inner = f"<{wrapper}/>" if wrapper else ""
    return f"<{root}>{inner}</{root}>".encode()


def _retry(
    response: Any, operation: Any, attempts: int, request_dict: dict[str, Any], **_: Any
) -> float | bool | None:
    if response is None:
        return None
    http_response, parsed = response
    why = parsed.pop(_VERDICT, None) if isinstance(parsed, dict) else None
    if why is None:
        return None  # a real answer: botocore's own retry rules decide
    if attempts < ATTEMPTS:
        return float(_BACKOFF * 2 ** (attempts - 1))
    host = redact(urlsplit(str(request_dict.get("url", ""))).netloc) or "the endpoint"
    service = str(operation.service_model.service_id)
    article = "an" if service[0] in "AEIOU" or service[:3] in {"EC2", "STS"} else "a"
    message = f"reply from {host} is not {article} {service} {operation.name} response ({why})"
    if attempts > 1:
        message += f", {attempts} times"
    # Make the call fail as an AWS error would: botocore raises ClientError for >= 300.
    http_response.status_code = 502
    parsed["Error"] = {"Code": CODE, "Message": message}
    parsed.setdefault("ResponseMetadata", {})["HTTPStatusCode"] = 502
    return False  # and no other retry handler may retry it
