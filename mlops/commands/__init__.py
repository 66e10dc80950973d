"""One module per `mlops` command or group of commands.

Each module's `register(commands)` adds its sub-parser(s) and sets `handler` to the function
that runs the command. `mlops.cli` imports every module to build the parser, so a module imports
its heavy collaborators (boto3, pandas, the local cloud, the pipeline's functions) inside the
function that runs the command: `mlops --help` and a usage error must not wait for them.
"""
