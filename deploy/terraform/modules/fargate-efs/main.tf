# Fargate Spot + EFS: one task on FARGATE_SPOT (really: the study's text said Spot but its
# code used FARGATE), the counter in a file on EFS, behind an ALB on port 80. Only the
# ALB's port 80 is reachable from outside; the task takes traffic from the ALB only and
# reaches EFS only; EFS takes NFS from the task only. The task's command, port, CPU,
# memory, CPU architecture and data directory are the description's
# (deploy/architectures/fargate-efs.json), which the lab launches too.

locals {
  container = var.description.container
  port      = local.container.port
  data_path = local.container.data_dir
  template_values = {
    port     = tostring(local.port)
    data_dir = local.data_path
  }
  command = [for arg in local.container.args : templatestring(arg, local.template_values)]
  # Fargate counts CPU in units of 1/1024 vCPU.
  cpu_units = floor(local.container.vcpu * 1024)
}

data "aws_vpc" "default" {
  default = true
}

data "aws_subnets" "default" {
  filter {
    name   = "vpc-id"
    values = [data.aws_vpc.default.id]
  }
  filter {
    name   = "default-for-az"
    values = ["true"]
  }
}

data "aws_region" "current" {}

# --- security groups -----------------------------------------------------------------

resource "aws_security_group" "alb" {
  name        = "${var.name}-fargate-alb"
  description = "The app's HTTP port on the load balancer"
  vpc_id      = data.aws_vpc.default.id
}

resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  #checkov:skip=CKV_AWS_260:Port 80 is the app's HTTP port, the one thing this row exposes (to http_ingress_cidrs).
  for_each          = toset(var.http_ingress_cidrs)
  security_group_id = aws_security_group.alb.id
  description       = "The app over HTTP"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "alb_to_task" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the task's port"
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
  referenced_security_group_id = aws_security_group.task.id
}

resource "aws_security_group" "task" {
  name        = "${var.name}-fargate-task"
  description = "The task: HTTP from the load balancer only"
  vpc_id      = data.aws_vpc.default.id
}

resource "aws_vpc_security_group_ingress_rule" "task_from_alb" {
  security_group_id            = aws_security_group.task.id
  description                  = "HTTP from the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_egress_rule" "task_https" {
  # Image pulls (ECR or another registry) and CloudWatch Logs are HTTPS endpoints; the
  # default VPC has no VPC endpoints.
  security_group_id = aws_security_group.task.id
  description       = "HTTPS to the image registry and CloudWatch Logs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "task_nfs" {
  security_group_id            = aws_security_group.task.id
  description                  = "NFS to EFS"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = aws_security_group.efs.id
}

resource "aws_security_group" "efs" {
  name        = "${var.name}-fargate-efs"
  description = "EFS: NFS from the task only"
  vpc_id      = data.aws_vpc.default.id
}

resource "aws_vpc_security_group_ingress_rule" "efs_from_task" {
  security_group_id            = aws_security_group.efs.id
  description                  = "NFS from the task"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = aws_security_group.task.id
}

# --- EFS -----------------------------------------------------------------------------

resource "aws_efs_file_system" "data" {
  #checkov:skip=CKV_AWS_184:Encrypted with the AWS-managed key; the file holds one integer.
  #checkov:skip=CKV2_AWS_18:The counter is experiment data; a backup plan would outlive the row.
  creation_token = "${var.name}-fargate-efs"
  encrypted      = true
}

resource "aws_efs_mount_target" "data" {
  for_each        = toset(data.aws_subnets.default.ids)
  file_system_id  = aws_efs_file_system.data.id
  subnet_id       = each.value
  security_groups = [aws_security_group.efs.id]
}

# The container runs as uid 10001 (deploy/Dockerfile); the access point gives it its own
# directory, owned by that user.
resource "aws_efs_access_point" "data" {
  file_system_id = aws_efs_file_system.data.id

  posix_user {
    uid = 10001
    gid = 10001
  }

  root_directory {
    path = "/latency"
    creation_info {
      owner_uid   = 10001
      owner_gid   = 10001
      permissions = "0750"
    }
  }
}

# --- roles ---------------------------------------------------------------------------

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

# Used by ECS to start the task: write its logs (image pulls from a public registry need
# nothing; add ECR read actions for a private ECR image).
resource "aws_iam_role" "execution" {
  name               = "${var.name}-fargate-execution"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "execution" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.task.arn}:*"]
  }
  statement {
    actions = ["ecr:GetAuthorizationToken"]
    # GetAuthorizationToken has no resource-level permissions.
    resources = ["*"]
  }
  statement {
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = ["arn:aws:ecr:${data.aws_region.current.name}:*:repository/*"]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "${var.name}-fargate-execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# The app's own role: mount and write its EFS access point, nothing else.
resource "aws_iam_role" "task" {
  name               = "${var.name}-fargate-task"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "task" {
  statement {
    actions   = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
    resources = [aws_efs_file_system.data.arn]
    condition {
      test     = "StringEquals"
      variable = "elasticfilesystem:AccessPointArn"
      values   = [aws_efs_access_point.data.arn]
    }
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "${var.name}-fargate-task"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}

# --- ECS -----------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "task" {
  #checkov:skip=CKV_AWS_158:Logs hold request lines only; CloudWatch's default encryption is enough.
  #checkov:skip=CKV_AWS_338:A latency experiment needs days of logs, not a year; retention is a variable.
  name              = "/latency/${var.name}/fargate"
  retention_in_days = var.log_retention_days
}

resource "aws_ecs_cluster" "cluster" {
  name = "${var.name}-fargate"

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_ecs_cluster_capacity_providers" "spot" {
  cluster_name       = aws_ecs_cluster.cluster.name
  capacity_providers = ["FARGATE_SPOT"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE_SPOT"
    weight            = 1
  }
}

resource "aws_ecs_task_definition" "app" {
  family                   = "${var.name}-fargate"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = local.cpu_units
  memory                   = local.container.memory_mb
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    # The image must be built for the same CPU (docs/deploy.md: docker build --platform).
    cpu_architecture = upper(local.container.architecture)
  }

  volume {
    name = "data"
    efs_volume_configuration {
      file_system_id     = aws_efs_file_system.data.id
      transit_encryption = "ENABLED"
      authorization_config {
        access_point_id = aws_efs_access_point.data.id
        iam             = "ENABLED"
      }
    }
  }

  container_definitions = jsonencode([{
    name      = "latency"
    image     = var.image
    essential = true
    command   = local.command
    user      = "10001:10001"
    # The app writes only the counter file, on EFS.
    readonlyRootFilesystem = true
    portMappings           = [{ containerPort = local.port, protocol = "tcp" }]
    mountPoints            = [{ sourceVolume = "data", containerPath = local.data_path, readOnly = false }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.task.name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = "latency"
      }
    }
    # The image is FROM scratch (no shell, no curl): the ALB's /healthz check is the
    # health check; see deploy/Dockerfile for its HEALTHCHECK under Docker.
  }])
}

resource "aws_ecs_service" "app" {
  #checkov:skip=CKV_AWS_333:The default VPC has no NAT gateway, so the task needs a public address to pull its image; its security group takes traffic from the ALB only.
  name            = "${var.name}-fargate"
  cluster         = aws_ecs_cluster.cluster.id
  task_definition = aws_ecs_task_definition.app.arn
  desired_count   = local.container.replicas

  # Spot for real: the capacity provider, not launch_type = "FARGATE".
  capacity_provider_strategy {
    capacity_provider = "FARGATE_SPOT"
    weight            = 1
  }

  network_configuration {
    subnets         = data.aws_subnets.default.ids
    security_groups = [aws_security_group.task.id]
    # The default VPC has no NAT gateway; a public address lets the task pull its image.
    assign_public_ip = true
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.app.arn
    container_name   = "latency"
    container_port   = local.port
  }

  depends_on = [aws_lb_listener.http, aws_efs_mount_target.data, aws_ecs_cluster_capacity_providers.spot]
}

# --- ALB -----------------------------------------------------------------------------

resource "aws_lb" "app" {
  #checkov:skip=CKV_AWS_91:Access logs need a log bucket that outlives the row; the target group's metrics cover the experiment.
  #checkov:skip=CKV_AWS_150:The row is torn down after measuring; deletion protection would block `terraform destroy`.
  #checkov:skip=CKV2_AWS_20:No HTTPS listener to redirect to without a certificate (see the listener).
  #checkov:skip=CKV2_AWS_28:A WAF adds latency and $5+/month to a demo counter; the study had none.
  name                       = "${var.name}-fargate"
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = data.aws_subnets.default.ids
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
}

resource "aws_lb_target_group" "app" {
  #checkov:skip=CKV_AWS_378:TLS ends at the ALB when a certificate is added; ALB to task stays inside the VPC.
  name        = "${var.name}-fargate"
  port        = local.port
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = data.aws_vpc.default.id

  health_check {
    path                = "/healthz"
    matcher             = "200"
    interval            = 10
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "http" {
  #checkov:skip=CKV_AWS_2:The study served HTTP without a domain; add an ACM certificate and an HTTPS listener for real traffic.
  #checkov:skip=CKV_AWS_103:No TLS listener without a certificate (see CKV_AWS_2).
  load_balancer_arn = aws_lb.app.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.app.arn
  }
}
