# The in-region load generator (the study's test/lambda-latency.py): `latency bench
# --via-lambda` invokes it with a bench plan and merges the Reports it returns. It needs no
# AWS permission beyond its logs: it only sends HTTP requests to the URL in its plan.

module "function" {
  source = "../function"

  name               = "${var.name}-bench"
  description        = "latency-lambda-bench: runs a bench plan against a URL and returns the JSON Report"
  package            = var.package
  language           = "rust"
  architecture       = var.architecture
  memory_mb          = var.memory_mb
  log_retention_days = var.log_retention_days
  # Lambda's maximum: a plan's duration_s may be up to 14 minutes.
  timeout_s = 900
  # --fanout K invokes K copies at once; 50 is the most one bench may start.
  reserved_concurrency = 50
  policy_statements    = []
}
