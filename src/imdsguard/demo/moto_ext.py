"""EMULATOR ONLY: teach moto's EC2 the IMDS calls it lacks, for the demo and the tests.

moto 5.2 gaps (docs/aws-behaviour.md#the-emulator) this closes, and nothing else:

- Get/ModifyInstanceMetadataDefaults are not implemented (HTTP 500 in server mode), so
  every account-defaults read would be a scope error on the emulator.
- AMI ``ImdsSupport`` is accepted by RegisterImage/ModifyImageAttribute and then dropped.

moto dispatches an Action to the snake_case method of its EC2 response class and
serializes an ``ActionResult`` through the botocore model, so the replies have exactly
the AWS XML shape. Defaults are stored on moto's EC2 backend, which is per (account,
Region) and cleared by ``/moto-api/reset`` like all emulator state.

Limits: ManagedBy is always ``account`` (declarative policies are not emulated);
values are not validated; HttpTokensEnforced does not block IMDSv1 launches.
"""

from __future__ import annotations

from typing import Any

_STORE = "imdsguard_metadata_defaults"
_FIELDS = (
    "HttpTokens",
    "HttpPutResponseHopLimit",
    "HttpEndpoint",
    "InstanceMetadataTags",
    "HttpTokensEnforced",
)
# ModifyInstanceMetadataDefaults clears a field with no-preference (-1 for the hop limit).
_CLEAR = ("no-preference", "-1", -1)


def _get_defaults(self: Any) -> Any:
    from moto.core.responses import ActionResult

    self.error_on_dryrun()
    level = dict(getattr(self.ec2_backend, _STORE, {}))
    level["ManagedBy"] = "account"
    return ActionResult({"AccountLevel": level})


def _modify_defaults(self: Any) -> Any:
    from moto.core.responses import ActionResult

    self.error_on_dryrun()
    # AWS leaves every field the request omits unchanged.
    store = dict(getattr(self.ec2_backend, _STORE, {}))
    for name in _FIELDS:
        value = self._get_param(name)
        if value is None:
            continue
        if value in _CLEAR:
            store.pop(name, None)
        else:
            store[name] = int(value) if name == "HttpPutResponseHopLimit" else value
    setattr(self.ec2_backend, _STORE, store)
    return ActionResult({"Return": True})


def _keep_imds_support(original: Any, image_id_of: Any) -> Any:
    """Wrap an AMI action so that the ImdsSupport it was given is stored on the image."""

    def action(self: Any) -> Any:
        result = original(self)
        support = self._get_param("ImdsSupport")
        if isinstance(support, dict):  # ModifyImageAttribute sends ImdsSupport.Value
            support = support.get("Value")
        if support:
            self.ec2_backend.amis[image_id_of(self, result)].imds_support = support
        return result

    return action


def install() -> None:
    """Patch moto's EC2 responses in this process; call before the server starts."""
    from moto.ec2.models.amis import Ami
    from moto.ec2.responses import EC2Response

    if getattr(EC2Response, "imdsguard_extension", False):
        return
    # setattr: these are runtime additions to third-party classes, by design.
    setattr(EC2Response, "get_instance_metadata_defaults", _get_defaults)  # noqa: B010
    setattr(EC2Response, "modify_instance_metadata_defaults", _modify_defaults)  # noqa: B010
    # moto's serializer reads Image.ImdsSupport from the ``imds_support`` attribute.
    setattr(Ami, "imds_support", None)  # noqa: B010
    register = _keep_imds_support(
        EC2Response.register_image, lambda _self, result: result.result["ImageId"]
    )
    modify = _keep_imds_support(
        EC2Response.modify_image_attribute, lambda self, _result: self._get_param("ImageId")
    )
    setattr(EC2Response, "register_image", register)  # noqa: B010
    setattr(EC2Response, "modify_image_attribute", modify)  # noqa: B010
    setattr(EC2Response, "imdsguard_extension", True)  # noqa: B010
