"""What the people running the service see of it: health and readiness probes, Prometheus
metrics and structured logs with a request id. Nothing here changes what a user sees."""
