"""The CDK app: `cdk synth` runs `python -m infra.app`; tests and the local runtime call
`build_app(config_path)` and synthesize in-process.

The config path comes from the `config` context key (cdk.json: "pipeline.json"; override
with `cdk synth -c config=other.json`). cdk-nag's AwsSolutions and Serverless packs check
every synthesis; an unacknowledged finding fails it.
"""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from functions.common.config import ConfigError, load_config
from infra.assets import REPOSITORY_ROOT, staged_assets
from infra.outputs import stack_name
from infra.stack import PipelineStack
from infra.training_source import resolve_source_dir

CONFIG_CONTEXT_KEY = "config"
# `cdk synth -c region=eu-west-1` synthesizes for one region, and fails for a region that lacks
# something the pipeline needs; without it the template is region-agnostic.
REGION_CONTEXT_KEY = "region"
DEFAULT_CONFIG_PATH = "pipeline.json"
CDK_JSON = REPOSITORY_ROOT / "cdk.json"


def feature_flags() -> dict[str, object]:
    """cdk.json's feature flags, so an in-process synthesis matches `cdk synth`."""
    context = json.loads(CDK_JSON.read_text(encoding="utf-8")).get("context", {})
    return {key: value for key, value in context.items() if key.startswith("@aws-cdk/")}


def build_app(
    config_path: str | Path | None, outdir: str | Path | None = None, context: dict[str, str] | None = None
) -> App:
    """Construct the app with the pipeline stack; call `.synth()` on the result.

    Without `config_path`, the `config` context key names the config file.
    """
    app = App(outdir=str(outdir) if outdir is not None else None, context={**feature_flags(), **(context or {})})
    if config_path is None:
        config_path = app.node.try_get_context(CONFIG_CONTEXT_KEY) or DEFAULT_CONFIG_PATH
    config = load_config(config_path)
    with staged_assets(config_path, training_source=resolve_source_dir(config, config_path)) as assets:
        name = stack_name(config)
        region = app.node.try_get_context(REGION_CONTEXT_KEY)
        environment = Environment(region=region) if region else None
        PipelineStack(app, name, stack_name=name, config=config, assets=assets, env=environment)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    return app


def pipeline_stack(app: App) -> PipelineStack:
    """The pipeline stack of an app made by `build_app`."""
    for child in app.node.children:
        if isinstance(child, PipelineStack):
            return child
    raise LookupError("the app has no pipeline stack")


def main() -> None:
    try:
        build_app(None).synth()
    except ConfigError as error:
        # The config's own problem, said in one line rather than as a traceback.
        raise SystemExit(f"pipeline config error: {error}") from None


if __name__ == "__main__":
    main()
