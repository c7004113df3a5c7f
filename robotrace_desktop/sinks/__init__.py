"""Exports of episodes, findings and verify results to other tools (W&B, MLflow,
OpenTelemetry). Each sink lives behind an optional extra and fails soft."""
