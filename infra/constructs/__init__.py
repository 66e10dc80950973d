"""One construct per pipeline stage; `infra.stack.PipelineStack` composes them."""
