# Server + VM: one instance in the default VPC running the server under systemd (the
# study's 1-fastapi-ec2). The artifact travels through a private bucket that only this
# instance's role can read. There is no SSH: the server's port is the only ingress, and
# SSM Session Manager gives a shell (`output ssm_session_command`). The instance type, CPU
# architecture, command, environment and port are the description's
# (deploy/architectures/ec2.json, ec2-fastapi.json), which the lab launches too.

locals {
  instance = var.description.instance
  port     = local.instance.port
  # A binary is installed as /opt/latency/bin/<artifact>; a zipped Python app is unpacked
  # into /opt/latency/app with a venv at /opt/latency, so `python3` is /opt/latency/bin's.
  zipped = endswith(var.package, ".zip")
  key    = basename(var.package)
  template_values = {
    port = tostring(local.port)
    # systemd's StateDirectory=latency: writable, kept across restarts.
    data_dir = "/var/lib/latency"
  }
  command     = [for arg in local.instance.command : templatestring(arg, local.template_values)]
  environment = { for name, template in local.instance.environment : name => templatestring(template, local.template_values) }
  ami_arch    = local.instance.architecture == "arm64" ? "arm64" : "x86_64"
}

data "aws_vpc" "default" {
  default = true
}

data "aws_ssm_parameter" "al2023" {
  name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${local.ami_arch}"
}

module "artifacts" {
  source = "../private-bucket"

  prefix  = "${var.name}-server-"
  purpose = "the ${var.name} server binary"
}

resource "aws_s3_object" "server" {
  bucket      = module.artifacts.id
  key         = local.key
  source      = var.package
  source_hash = filemd5(var.package)
}

resource "aws_security_group" "server" {
  name        = "${var.name}-server"
  description = "The app's HTTP port only; no SSH (SSM Session Manager instead)"
  vpc_id      = data.aws_vpc.default.id

  ingress {
    description = "The app (latency serve / uvicorn)"
    from_port   = local.port
    to_port     = local.port
    protocol    = "tcp"
    cidr_blocks = var.http_ingress_cidrs
  }

  egress {
    # SSM, S3 and the package mirror are HTTPS endpoints; the default VPC has no VPC
    # endpoints, and adding them would cost more than the instance.
    description = "HTTPS to AWS APIs (SSM agent, S3) and the OS package mirror"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "server" {
  name               = "${var.name}-server"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

# Session Manager's managed policy: the agent's own channel, nothing else.
resource "aws_iam_role_policy_attachment" "ssm" {
  role       = aws_iam_role.server.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

data "aws_iam_policy_document" "server" {
  statement {
    sid       = "ReadTheServer"
    actions   = ["s3:GetObject"]
    resources = ["${module.artifacts.arn}/${local.key}"]
  }
  statement {
    sid       = "DecryptTheServer"
    actions   = ["kms:Decrypt"]
    resources = [module.artifacts.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "server" {
  name   = "${var.name}-server"
  role   = aws_iam_role.server.id
  policy = data.aws_iam_policy_document.server.json
}

resource "aws_iam_instance_profile" "server" {
  name = "${var.name}-server"
  role = aws_iam_role.server.name
}

resource "aws_instance" "server" {
  #checkov:skip=CKV_AWS_88:The row is measured from outside the region (the study's latency.py), so it needs a public address; only port 8000 is open.
  #checkov:skip=CKV_AWS_126:Detailed monitoring costs more than a t2.micro's worth of insight here; the app has /metrics.
  #checkov:skip=CKV_AWS_135:The study's t2.micro cannot be EBS-optimized (AWS refuses ebs_optimized = true for t2); the app never touches the disk on the request path.
  ami                         = data.aws_ssm_parameter.al2023.value
  instance_type               = local.instance.instance_type
  iam_instance_profile        = aws_iam_instance_profile.server.name
  vpc_security_group_ids      = [aws_security_group.server.id]
  associate_public_ip_address = true
  user_data_replace_on_change = true
  user_data = templatefile("${path.module}/user-data.sh.tftpl", {
    zipped      = local.zipped
    artifact    = local.key
    object_uri  = "s3://${module.artifacts.id}/${local.key}"
    port        = local.port
    program     = local.command[0]
    arguments   = join(" ", [for arg in slice(local.command, 1, length(local.command)) : format("\"%s\"", replace(arg, "\"", "\\\""))])
    environment = local.environment
  })

  metadata_options {
    http_tokens   = "required"
    http_endpoint = "enabled"
  }

  root_block_device {
    encrypted   = true
    volume_size = 8
    volume_type = "gp3"
  }

  tags = {
    Name = "${var.name}-server"
  }

  depends_on = [aws_s3_object.server, aws_iam_role_policy.server]
}
