locals {
  dir = "${var.run_dir}/${var.architecture}"

  # What deploy/terraform's AWS provider puts on every resource through default_tags.
  tags = {
    project      = "latency"
    architecture = var.architecture
    region       = var.region
    run_id       = var.run_id
    expires_at   = coalesce(var.expires_at, "none")
  }
}

# The row: one detached `latency serve --listen 127.0.0.1:0` process. start-server.sh
# records its pid and the address it printed (never a guessed port); the destroy-time
# provisioner stops that pid.
resource "terraform_data" "server" {
  input = {
    dir     = local.dir
    run_dir = var.run_dir
    tags    = local.tags
  }

  provisioner "local-exec" {
    command = "sh '${path.module}/start-server.sh'"
    environment = {
      DIR           = local.dir
      RUN_DIR       = var.run_dir
      ROW           = var.architecture
      LATENCY_BIN   = var.latency_bin
      COUNTER_START = var.counter_start
    }
  }

  provisioner "local-exec" {
    when    = destroy
    command = "sh '${path.module}/stop-server.sh'"
    environment = {
      DIR = self.input.dir
      # While this file exists the destroy fails (a destroy that fails, for the tests).
      REFUSE = "${self.input.run_dir}/refuse-destroy"
    }
  }
}

# The second half of the apply, which fails when asked to: the server above is running
# by then, as a real row's first resources exist when a later one fails.
resource "terraform_data" "second_half" {
  count      = var.fail_halfway ? 1 : 0
  depends_on = [terraform_data.server]

  provisioner "local-exec" {
    command = "echo 'failing halfway through the apply, as asked (fail_halfway = true)' >&2; exit 1"
  }
}

# A second half that does not finish on its own (until interrupted): the server above is
# running by then, as a long cloud apply has created its first resources.
resource "terraform_data" "held" {
  count      = var.hold_apply ? 1 : 0
  depends_on = [terraform_data.server]

  provisioner "local-exec" {
    command = "echo \"$ROW-hold $$\" >>\"$RUN_DIR/pids.log\"; : >\"$RUN_DIR/$ROW.holding\"; exec sleep 600"
    environment = {
      ROW     = var.architecture
      RUN_DIR = var.run_dir
    }
  }
}
