"""The AWS CDK app of the pipeline: one stack, one construct per pipeline stage.

`infra.app.build_app(config_path)` synthesizes in-process (tests, the local runtime);
`cdk synth` runs `python -m infra.app` with the config path from the `config` context key.
"""

from infra.node_runtime import replace_end_of_life_banner

# Before anything imports the CDK, whose JavaScript runtime starts at import.
replace_end_of_life_banner()
