"""What the next launch from a launch setting actually gets: its effective HttpTokens.

Evidence only; verdicts judge the launch setting's own HttpTokens, as EC2.170 and
AutoScaling.3 do. The precedence (docs/aws-behaviour.md#the-api) is applied by
``collect.effective``; this module holds the frozen data it reads and yields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from imdsguard.model.scan import HttpTokens, JSONValue

# Which rule of the launch precedence decided, or ``unknown`` when a rule that would have
# been consulted could not be read: never a guess.
EffectiveSource = Literal["explicit", "account-default", "ami", "aws-default", "unknown"]


@dataclass(frozen=True, slots=True)
class EffectiveTokens:
    """``http_tokens`` is ``None`` exactly when ``source`` is ``unknown``; ``reason`` says why."""

    http_tokens: HttpTokens | None
    source: EffectiveSource
    reason: str | None = None

    def as_json(self) -> dict[str, JSONValue]:
        return {
            "effective_http_tokens": self.http_tokens,
            "effective_source": self.source,
            "effective_reason": self.reason,
        }


def unknown(reason: str) -> EffectiveTokens:
    return EffectiveTokens(None, "unknown", reason)


# What a resource built outside the scan's join carries: nothing was read to decide it.
NOT_JOINED = unknown("account default and AMI not read")
