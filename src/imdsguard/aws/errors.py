"""Translate botocore failures (and DryRun answers) into imdsguard's own errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
)
from botocore.parsers import ResponseParserError

from imdsguard.errors import AwsError, UsageError
from imdsguard.model.kinds import KINDS, OPERATIONS
from imdsguard.model.scan import one_of

# Everything botocore raises for a failed call. ResponseParserError (an HTML error page
# from a proxy or an emulator's HTTP 500) is not a BotoCoreError, but it is still a
# failed read that must become a scope error, not a crash.
BOTO_FAILURES = (ClientError, BotoCoreError, ResponseParserError)

# Throttling codes botocore's standard retry mode retries; if one escapes, retries ran out.
THROTTLING = frozenset(
    {
        "RequestLimitExceeded",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestThrottled",
        "SlowDown",
    }
)
_Member = TypeVar("_Member", bound=str)

DENIED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthFailure",
        "OptInRequired",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
    }
)

# The denials that mean a missing IAM permission (not bad credentials or a disabled Region).
MISSING_PERMISSION = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
# API operation -> IAM action, from the kind table (tests/test_kinds.py proves it complete).
IAM_ACTIONS = {
    action.split(":", 1)[1]: action
    for action in {a for k in KINDS for a in (*k.reads, *k.writes)} | {o.action for o in OPERATIONS}
}


def _naming_the_action(message: str, operation: str) -> str:
    """A denial's message with the IAM action it lacks, so the reader knows what to grant.

    AWS names it in some messages and not in others (EC2's UnauthorizedOperation does not).
    """
    action = IAM_ACTIONS.get(operation.split("(", 1)[0])
    if action is None or action in message:
        return message
    return f"{message} (missing permission {action})"


def translate(exc: Exception, operation: str = "") -> AwsError | UsageError:
    """Map a botocore exception to our tree; credentials problems are usage errors."""
    if isinstance(exc, ProfileNotFound):
        return UsageError(f"unknown AWS profile: {exc.kwargs.get('profile')}")
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return UsageError(
            "no AWS credentials found: set a profile (--profile), environment "
            "variables, SSO or an instance role"
        )
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = str(error.get("Message", "")) or str(exc)
        op = operation or exc.operation_name
        if code in THROTTLING:
            attempts = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
            message = f"throttled, retries exhausted after {attempts} retries: {message}"
        if code in MISSING_PERMISSION:
            message = _naming_the_action(message, op)
        return AwsError(code, message, op)
    if isinstance(exc, ConnectionError):
        return AwsError("ConnectionError", str(exc), operation)
    if isinstance(exc, BotoCoreError | ResponseParserError):
        return AwsError(type(exc).__name__, _without_body(str(exc)), operation)
    raise exc


def _without_body(message: str) -> str:
    """botocore's message without the reply body it quotes after a colon and a newline
    ("... Further retries may succeed:\n<html>..."): the sentence ends, nothing dangles."""
    first = message.strip().split("\n", 1)[0].rstrip()
    return first.removesuffix(":").rstrip() or "no message"


@contextmanager
def aws_errors(operation: str = "") -> Iterator[None]:
    """Run AWS calls; re-raise any botocore failure as AwsError or UsageError."""
    try:
        yield
    except BOTO_FAILURES as exc:
        raise translate(exc, operation) from exc


def check_permission(call: Callable[..., Any], operation: str, **params: Any) -> None:
    """Call with DryRun=True: return if allowed (DryRunOperation), raise AwsError if not."""
    try:
        call(DryRun=True, **params)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "DryRunOperation":
            return
        with aws_errors(operation):
            raise
    # Real EC2 never answers a DryRun with success; an emulator that does may have acted
    # (moto does, docs/aws-behaviour.md#the-emulator). Say so rather than report a
    # permission that was not really tested.
    raise AwsError(
        "DryRunIgnored",
        "the endpoint executed a DryRun request instead of answering DryRunOperation",
        operation,
    )


def known(value: object, allowed: tuple[_Member, ...], field: str) -> _Member:
    """``value`` narrowed to a closed set, or AwsError naming ``field``.

    An answer this version does not know is a failed read, never a guess: judging an
    unknown HttpTokens as if it were known could pass an instance that answers IMDSv1.
    """
    try:
        return one_of(value, allowed, field)
    except ValueError as exc:
        raise AwsError("UnexpectedValue", str(exc)) from exc
