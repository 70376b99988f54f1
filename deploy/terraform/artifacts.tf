# Every file Terraform uploads, and nothing else: scripts/build-lambdas builds exactly these
# paths (`scripts/build-lambdas --list` prints them, and scripts/check-deploy checks that
# the two lists agree). No other .tf file names a build output.
locals {
  # scripts/build-lambdas writes under target/lambda of this repository.
  artifacts_dir = coalesce(var.artifacts_dir, "${path.root}/../../target/lambda")

  artifacts = {
    # The `latency` server for EC2: cargo lambda's zig linker targets an older glibc than
    # Amazon Linux 2023's 2.34, so the binary runs there without a musl toolchain.
    server_x86_64 = "${local.artifacts_dir}/x86_64/latency/bootstrap"
    # The study's FastAPI server (variants/python-fastapi), for ec2-fastapi.
    fastapi = "${local.artifacts_dir}/variants/python-fastapi.zip"

    app_lambda = {
      rust = {
        arm64  = "${local.artifacts_dir}/arm64/latency-lambda/bootstrap.zip"
        x86_64 = "${local.artifacts_dir}/x86_64/latency-lambda/bootstrap.zip"
      }
      # Interpreted variants are the same zip for either architecture.
      python = {
        arm64  = "${local.artifacts_dir}/variants/lambda-python.zip"
        x86_64 = "${local.artifacts_dir}/variants/lambda-python.zip"
      }
      js = {
        arm64  = "${local.artifacts_dir}/variants/lambda-js-dynamodb.zip"
        x86_64 = "${local.artifacts_dir}/variants/lambda-js-dynamodb.zip"
      }
      # The C++ variant is built by the host's compiler: x86_64 only.
      cpp = {
        arm64  = "${local.artifacts_dir}/x86_64/latency-cpp-dynamodb/bootstrap.zip"
        x86_64 = "${local.artifacts_dir}/x86_64/latency-cpp-dynamodb/bootstrap.zip"
      }
    }

    calc_lambda = {
      arm64  = "${local.artifacts_dir}/arm64/latency-calc/bootstrap.zip"
      x86_64 = "${local.artifacts_dir}/x86_64/latency-calc/bootstrap.zip"
    }

    bench_lambda = {
      arm64  = "${local.artifacts_dir}/arm64/latency-lambda-bench/bootstrap.zip"
      x86_64 = "${local.artifacts_dir}/x86_64/latency-lambda-bench/bootstrap.zip"
    }
  }
}
