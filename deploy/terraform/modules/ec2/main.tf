# Server + VM: one instance in the default VPC running the server under systemd on port
# 8000, the counter in memory (the study's 1-fastapi-ec2). The binary travels through a
# private bucket that only this instance's role can read. There is no SSH: port 8000 is the
# only ingress, and SSM Session Manager gives a shell (`output ssm_session_command`).

locals {
  port     = 8000
  artifact = var.server == "rust" ? var.server_binary : var.fastapi_bundle
  key      = var.server == "rust" ? "latency" : "python-fastapi.zip"
}

data "aws_vpc" "default" {
  default = true
}

data "aws_ssm_parameter" "al2023" {
  name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
}

module "artifacts" {
  source = "../private-bucket"

  prefix  = "${var.name}-server-"
  purpose = "the ${var.name} server binary"
}

resource "aws_s3_object" "server" {
  bucket      = module.artifacts.id
  key         = local.key
  source      = local.artifact
  source_hash = filemd5(local.artifact)
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
  #checkov:skip=CKV_AWS_126:Detailed monitoring costs more than a t3.micro's worth of insight here; the app has /metrics.
  ami                         = data.aws_ssm_parameter.al2023.value
  instance_type               = var.instance_type
  iam_instance_profile        = aws_iam_instance_profile.server.name
  vpc_security_group_ids      = [aws_security_group.server.id]
  associate_public_ip_address = true
  ebs_optimized               = true
  user_data_replace_on_change = true
  user_data = templatefile("${path.module}/user-data.sh.tftpl", {
    server     = var.server
    object_uri = "s3://${module.artifacts.id}/${local.key}"
    port       = local.port
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
