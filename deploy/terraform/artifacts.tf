# Every file Terraform uploads, and nothing else: scripts/build-lambdas builds exactly these
# paths (`scripts/build-lambdas --list` prints them, and scripts/check-deploy checks that
# the two lists agree, and that every description's artifact and CPU architecture is
# here). No other .tf file names a build output. Keys are the `artifact` names of the
# descriptions (deploy/architectures/*.json), then the CPU architecture built for.
locals {
  # scripts/build-lambdas writes under target/lambda of this repository.
  artifacts_dir = coalesce(var.artifacts_dir, "${path.root}/../../target/lambda")

  artifacts = {
    # The Rust functions, built by cargo lambda for either architecture.
    "latency-lambda" = {
      arm64  = "${local.artifacts_dir}/arm64/latency-lambda/bootstrap.zip"
      x86_64 = "${local.artifacts_dir}/x86_64/latency-lambda/bootstrap.zip"
    }
    "latency-calc" = {
      arm64  = "${local.artifacts_dir}/arm64/latency-calc/bootstrap.zip"
      x86_64 = "${local.artifacts_dir}/x86_64/latency-calc/bootstrap.zip"
    }
    "latency-lambda-bench" = {
      arm64  = "${local.artifacts_dir}/arm64/latency-lambda-bench/bootstrap.zip"
      x86_64 = "${local.artifacts_dir}/x86_64/latency-lambda-bench/bootstrap.zip"
    }
    # The `latency` server for EC2: cargo lambda's zig linker targets an older glibc than
    # Amazon Linux 2023's 2.34, so the binary runs there without a musl toolchain.
    "latency" = {
      x86_64 = "${local.artifacts_dir}/x86_64/latency/bootstrap"
    }
    # The C++ variant is built by the host's compiler: x86_64 only.
    "latency-cpp-dynamodb" = {
      x86_64 = "${local.artifacts_dir}/x86_64/latency-cpp-dynamodb/bootstrap.zip"
    }
    # Interpreted variants: the same zip runs on either architecture.
    "lambda-python" = {
      arm64  = "${local.artifacts_dir}/variants/lambda-python.zip"
      x86_64 = "${local.artifacts_dir}/variants/lambda-python.zip"
    }
    "lambda-js-dynamodb" = {
      arm64  = "${local.artifacts_dir}/variants/lambda-js-dynamodb.zip"
      x86_64 = "${local.artifacts_dir}/variants/lambda-js-dynamodb.zip"
    }
    "python-fastapi" = {
      arm64  = "${local.artifacts_dir}/variants/python-fastapi.zip"
      x86_64 = "${local.artifacts_dir}/variants/python-fastapi.zip"
    }
  }
}
