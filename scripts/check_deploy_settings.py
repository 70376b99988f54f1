"""Fails on a setting that Terraform states for itself instead of taking it from the row's
description (deploy/architectures/<id>.json, deploy/bench-function.json), and on a
description that asks for what the build or the account cannot give.

Usage: python check_deploy_settings.py [DEPLOY_DIR] [--artifacts FILE] [--built DIR]
  DEPLOY_DIR   the deploy/ directory to check (default: deploy)
  --artifacts  scripts/build-lambdas --list output: each description's artifact and CPU
               architecture must be a path it builds
  --built DIR  the build output (target/lambda): every artifact present there must be an
               ELF for its description's CPU architecture (file(1)), and a provided.*
               zip must hold an executable `bootstrap`
  --require A,B  these artifacts must be present under --built

Run by scripts/check-deploy; run it on an older copy of deploy/ to see what it catches.
The rule: in every resource and module call, the attributes below are expressions (they
read var./local./module. values, which the descriptions feed), never literals. A literal
number, boolean or string without `${` is a setting written twice.
"""

import json
import pathlib
import sys

import hcl2

# Attributes that hold a description's setting, by resource type ("module" for the
# arguments of a module call).
SETTINGS = {
    "aws_lambda_function": {
        "runtime", "handler", "memory_size", "timeout", "architectures",
        "reserved_concurrent_executions", "environment",
    },
    "aws_dynamodb_table": {"hash_key", "attribute"},
    "aws_dynamodb_table_item": {"item"},
    "aws_sqs_queue": {"name", "redrive_policy"},
    "aws_lambda_event_source_mapping": {"batch_size", "scaling_config"},
    "aws_ecs_task_definition": {"cpu", "memory", "container_definitions", "runtime_platform.cpu_architecture"},
    "aws_ecs_service": {"desired_count"},
    "aws_instance": {"instance_type"},
    "module": {
        "memory_mb", "timeout_s", "reserved_concurrency", "environment", "runtime",
        "language", "architecture", "handler", "cpu_units", "instance_type",
    },
}


def literal(value):
    """True when an HCL value (as python-hcl2 gives it) states something of its own."""
    if isinstance(value, bool) or isinstance(value, (int, float)):
        return True
    if isinstance(value, str):
        return "${" not in value
    if isinstance(value, dict):
        return any(literal(v) for v in value.values())
    if isinstance(value, list):
        return any(literal(v) for v in value)
    return False


# Module variables that carry a description's setting must not default to one of their own.
SETTING_VARIABLES = {
    "memory_mb", "timeout_s", "reserved_concurrency", "cpu_units", "instance_type",
    "architecture", "runtime", "language", "max_receives", "server",
}


def attribute_values(body, attribute):
    """The values of `attribute` in a resource body; `block.name` looks inside a block."""
    head, _, rest = attribute.partition(".")
    if head not in body:
        return []
    value = body[head]
    if not rest:
        return [value]
    blocks = value if isinstance(value, list) else [value]
    return [b[rest] for b in blocks if isinstance(b, dict) and rest in b]


def settings_stated_in_terraform(deploy):
    errors = []
    for tf in sorted((deploy / "terraform").rglob("*.tf")):
        parsed = hcl2.loads(tf.read_text())
        for block in parsed.get("resource", []):
            for kind, named in block.items():
                for name, body in named.items():
                    for attribute in SETTINGS.get(kind, ()):
                        for value in attribute_values(body, attribute):
                            if literal(value):
                                errors.append(f"{tf}: {kind}.{name}.{attribute} = {value!r} is stated here; take it from the description")
        for block in parsed.get("module", []):
            for name, body in block.items():
                if body.get("depends_on"):
                    # Defers every data source in the module to apply time: a for_each or
                    # count over one (the kustomize overlay's ids, a VPC's subnets) then
                    # fails the plan with "Invalid for_each" (the k8s-eks defect).
                    errors.append(f"{tf}: module.{name} has depends_on = {body['depends_on']!r}; order modules through their inputs instead")
                for attribute in SETTINGS["module"]:
                    if attribute in body and literal(body[attribute]):
                        errors.append(f"{tf}: module.{name}.{attribute} = {body[attribute]!r} is stated here; take it from the description")
        if tf.parent != deploy / "terraform":
            for block in parsed.get("variable", []):
                for name, body in block.items():
                    if name in SETTING_VARIABLES and "default" in body:
                        errors.append(f"{tf}: variable {name} defaults to {body['default']!r}; a module takes the setting from the description")
    return errors


def unwrap(value):
    """python-hcl2 gives some values as a one-element list."""
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value


def artifact_table(parsed):
    """artifacts.tf's `local.artifacts`: {artifact: {architecture: path}}."""
    table = {}
    for block in parsed.get("locals", []):
        for name, entry in unwrap(block.get("artifacts", {})).items():
            table[name.strip('"')] = {arch.strip('"'): unwrap(path) for arch, path in unwrap(entry).items()}
    return table


def descriptions_against_the_build(deploy, artifacts_file):
    errors = []
    built = set(pathlib.Path(artifacts_file).read_text().split())
    tf = hcl2.loads((deploy / "terraform" / "artifacts.tf").read_text())
    table = artifact_table(tf)
    functions = []
    for path in sorted((deploy / "architectures").glob("*.json")):
        d = json.loads(path.read_text())
        for key in ("function", "instance"):
            if d.get(key):
                functions.append((path, d[key]))
    functions.append((deploy / "bench-function.json", json.loads((deploy / "bench-function.json").read_text())))
    for path, f in functions:
        arch = f["architecture"]
        entry = table.get(f["artifact"])
        if entry is None:
            errors.append(f"{path}: artifact {f['artifact']} is not in deploy/terraform/artifacts.tf")
            continue
        target = entry.get(arch)
        if target is None:
            errors.append(f"{path}: artifact {f['artifact']} is not built for {arch} (artifacts.tf has {sorted(entry)})")
            continue
        relative = target.replace("${local.artifacts_dir}", "target/lambda")
        if relative not in built:
            errors.append(f"{path}: {relative} is not what scripts/build-lambdas builds")
    return errors


ELF_MACHINE = {"arm64": "ARM aarch64", "x86_64": "x86-64"}


def built_files_match(deploy, artifacts_file, root, required=()):
    """Every artifact that exists under `root` is an ELF for its description's CPU
    architecture (checked with file(1) on the binary, inside the zip for a zip); returns
    (errors, how many were checked)."""
    import subprocess
    import tempfile
    import zipfile

    errors, checked = [], 0
    tf = hcl2.loads((deploy / "terraform" / "artifacts.tf").read_text())
    table = artifact_table(tf)
    rows = []
    for path in sorted((deploy / "architectures").glob("*.json")):
        d = json.loads(path.read_text())
        for key in ("function", "instance"):
            if d.get(key):
                rows.append((path, d[key]))
    rows.append((deploy / "bench-function.json", json.loads((deploy / "bench-function.json").read_text())))
    for path, f in rows:
        target = table.get(f["artifact"], {}).get(f["architecture"])
        if target is None:
            continue
        file = pathlib.Path(root) / target.replace("${local.artifacts_dir}/", "")
        if not file.is_file():
            if f["artifact"] in required:
                errors.append(f"{path}: {file} was not built (Terraform uploads it)")
            continue
        with tempfile.TemporaryDirectory() as scratch:
            binary = file
            if file.suffix == ".zip":
                with zipfile.ZipFile(file) as z:
                    names = z.namelist()
                    if "bootstrap" not in names:
                        # Every app but the Rust function (which embeds it) serves the
                        # page from the zip.
                        if "page.html" not in names:
                            errors.append(f"{path}: {file} has no page.html (the app serves GET / from it)")
                        # Interpreted code: nothing to run on a CPU of its own.
                        if f.get("runtime", "").startswith("provided."):
                            errors.append(f"{path}: {file} has no `bootstrap` at its root (provided.* runs it)")
                        continue
                    if f.get("runtime", "").startswith("provided.") and "page.html" not in names:
                        errors.append(f"{path}: {file} has no page.html (the function serves GET / from it)")
                    info = z.getinfo("bootstrap")
                    if not (info.external_attr >> 16) & 0o111:
                        errors.append(f"{path}: {file}: `bootstrap` is not executable in the zip")
                    z.extract("bootstrap", scratch)
                    binary = pathlib.Path(scratch) / "bootstrap"
            described = subprocess.run(["file", "-b", str(binary)], capture_output=True, text=True).stdout
            checked += 1
            if ELF_MACHINE[f["architecture"]] not in described:
                errors.append(f"{path}: {file} is `{described.strip()}`, not an ELF for {f['architecture']}")
    return errors, checked


def main(argv):
    deploy = pathlib.Path("deploy")
    artifacts = None
    built = None
    required = ()
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--artifacts":
            artifacts = args.pop(0)
        elif arg == "--built":
            built = args.pop(0)
        elif arg == "--require":
            required = tuple(args.pop(0).split(","))
        else:
            deploy = pathlib.Path(arg)
    errors = settings_stated_in_terraform(deploy)
    if artifacts:
        errors += descriptions_against_the_build(deploy, artifacts)
    if built:
        more, checked = built_files_match(deploy, artifacts, built, required)
        errors += more
        print(f"{checked} built binaries checked against their descriptions' CPU architecture", file=sys.stderr)
    for e in errors:
        print(f"error: check-deploy: {e}", file=sys.stderr)
    print(f"settings checked in {deploy}: {len(errors)} problem(s)", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
