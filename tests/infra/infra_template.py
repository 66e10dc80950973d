"""Reading synthesized CloudFormation in the infra tests."""

from __future__ import annotations

from typing import Any


def render(value: Any) -> str:
    """Flatten a CloudFormation string expression; references become <Name> / <Id.Attr>."""
    if isinstance(value, str):
        return value
    (function, argument), = value.items()
    if function == "Fn::Join":
        return argument[0].join(render(part) for part in argument[1])
    if function == "Ref":
        return f"<{argument}>"
    if function == "Fn::GetAtt":
        return f"<{argument[0]}.{argument[1]}>"
    if function == "Fn::FindInMap":
        return f"<FindInMap:{argument[0]}:{render(argument[1])}:{argument[2]}>"
    if function == "Fn::Sub":
        return argument
    if function == "Fn::Select":
        return f"<Select:{argument[0]}:{render(argument[1])}>"
    if function == "Fn::Split":
        return f"<Split:{argument[0]}:{render(argument[1])}>"
    raise AssertionError(f"unexpected intrinsic {function}")


def rendered_group_name(configured_name: str) -> str:
    """The model package group's name as `render` shows it: the configured name and the first
    block of the stack's id (infra/constructs/registry.py)."""
    return f"{configured_name}-<Select:0:<Split:-:<Select:2:<Split:/:<AWS::StackId>>>>>"
