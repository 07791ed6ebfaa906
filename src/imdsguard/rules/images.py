"""The owned-AMI rule: ImdsSupport v2.0 or not (INFO by default, FAIL with --strict-amis)."""

from __future__ import annotations

from imdsguard.model.launch import Image
from imdsguard.model.scan import Finding, Scope
from imdsguard.options import EvaluationOptions
from imdsguard.rules import rule


@rule(Image)
def evaluate_image(scope: Scope, image: Image, options: EvaluationOptions) -> Finding:
    if image.imds_support == "v2.0":
        return Finding(scope, image, "PASS", "imds-support-v2")
    # The AMI only decides when neither the launch nor the account default does.
    return Finding(scope, image, "FAIL" if options.strict_amis else "INFO", "imds-support-unset")
