"""cdk-nag acknowledgements (cdk-nag 3: CDK's `Validations.of(...).acknowledge`).

Each finding is acknowledged on the narrowest construct, one finding id at a time, always
with the reason the finding does not apply.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule_id: str, reason: str, findings: Iterable[str] = ()) -> None:
    """Acknowledge `rule_id` on `construct`; with `findings`, only those findings of the rule."""
    if not reason.strip():
        raise ValueError(f"acknowledging {rule_id} needs a reason")
    finding_list = list(findings)
    ids = [f"{rule_id}[{finding}]" for finding in finding_list] if finding_list else [rule_id]
    for finding_id in ids:
        Validations.of(construct).acknowledge(Acknowledgment(id=finding_id, reason=reason))


def arn_reference(element: CfnElement) -> str:
    """How cdk-nag prints `Fn::GetAtt [<element>, Arn]` in a finding id."""
    stack = Stack.of(element)
    return f"<{stack.resolve(stack.get_logical_id(element))}.Arn>"


def nag_text(scope: IConstruct, value: str) -> str:
    """How cdk-nag prints a (possibly tokenized) string in a finding id.

    References render as ``<LogicalId.Attribute>`` or ``<Name>`` and joins are flattened.
    """
    return _flatten(Stack.of(scope).resolve(value))


def _flatten(resolved: object) -> str:
    if isinstance(resolved, str):
        return resolved
    if isinstance(resolved, dict) and len(resolved) == 1:
        ((function, argument),) = resolved.items()
        if function == "Fn::Join":
            delimiter, parts = argument
            return delimiter.join(_flatten(part) for part in parts)
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if function in ("Fn::Select", "Fn::Split"):
            # cdk-nag's flattenCfnReference prints any other intrinsic as JSON.stringify does.
            return json.dumps(resolved, separators=(",", ":"))
    raise ValueError(f"cannot render {resolved!r} as cdk-nag does")
