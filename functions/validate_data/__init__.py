"""The "Validate data" step: schema, quality and drift checks, quarantine, curated splits."""
