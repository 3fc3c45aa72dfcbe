"""What an operator sees: structured logs (``logs``), Prometheus metrics (``metrics``, ``media``),
OpenTelemetry traces (``tracing``) and the job middleware that carries a request's id and trace
into the jobs it queues (``jobs``). See docs/operations.md."""
