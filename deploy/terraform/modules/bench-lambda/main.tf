# The in-region load generator (the study's test/lambda-latency.py): `latency bench
# --via-lambda` invokes it with a bench plan and merges the Reports it returns. It needs no
# AWS permission beyond its logs: it only sends HTTP requests to the URL in its plan. Its
# settings (memory, the 900 s timeout a 14-minute plan needs, no reserved concurrency)
# are deploy/bench-function.json's.

module "function" {
  source = "../function"

  name               = "${var.name}-bench"
  description        = "latency-lambda-bench: runs a bench plan against a URL and returns the JSON Report"
  package            = var.package
  settings           = var.settings
  log_retention_days = var.log_retention_days
  policy_statements  = []
}
