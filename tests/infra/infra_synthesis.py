"""Synthesizing the pipeline app in-process for the infra tests (~20 s per config)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import App
from aws_cdk.assertions import Template

from functions.common.config import PipelineConfig, load_config
from infra.app import build_app, pipeline_stack
from infra.stack import PipelineStack
from infra_template import render


@dataclass(frozen=True)
class Synthesized:
    app: App
    stack: PipelineStack
    config: PipelineConfig
    outdir: Path
    template_json: dict[str, Any]
    template: Template

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template_json["Resources"].items() if v["Type"] == resource_type}

    def only(self, resource_type: str) -> tuple[str, dict[str, Any]]:
        found = self.resources(resource_type)
        assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
        return next(iter(found.items()))

    def definition(self) -> dict[str, Any]:
        _, machine = self.only("AWS::StepFunctions::StateMachine")
        return json.loads(render(machine["Properties"]["DefinitionString"]))


def synthesize(config_path: Path, outdir: Path) -> Synthesized:
    app = build_app(config_path, outdir=outdir)
    stack = pipeline_stack(app)
    assembly = app.synth()
    template_json = assembly.get_stack_by_name(stack.stack_name).template
    return Synthesized(
        app=app,
        stack=stack,
        config=load_config(config_path),
        outdir=outdir,
        template_json=template_json,
        template=Template.from_json(template_json),
    )
