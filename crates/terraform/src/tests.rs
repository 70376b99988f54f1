//! Tests against the real `terraform` binary and its built-in provider (no download, no
//! network). Where terraform is not installed they say so and return.

use super::*;

/// A configuration that "creates" a resource by writing a file, fails when asked to,
/// and blocks when asked to (for the interrupt test).
const CONFIG: &str = r#"
terraform {
  backend "local" {}
}
variable "dir" {
  type = string
}
variable "fail" {
  type    = bool
  default = false
}
variable "block" {
  type    = bool
  default = false
}
resource "terraform_data" "thing" {
  input = var.dir
  provisioner "local-exec" {
    command = "echo made > '${var.dir}/made'"
  }
  provisioner "local-exec" {
    when    = destroy
    command = "rm -f '${self.input}/made'"
  }
}
resource "terraform_data" "broken" {
  count      = var.fail ? 1 : 0
  depends_on = [terraform_data.thing]
  provisioner "local-exec" {
    command = "echo 'this apply breaks on purpose' >&2; exit 3"
  }
}
resource "terraform_data" "slow" {
  count      = var.block ? 1 : 0
  depends_on = [terraform_data.thing]
  provisioner "local-exec" {
    command = "echo blocking; exec sleep 600"
  }
}
output "where" {
  value = "${var.dir}/made"
}
"#;

struct Fixture {
    _tmp: tempfile::TempDir,
    tf: Terraform,
    work: PathBuf,
}

fn fixture() -> Option<Fixture> {
    if std::process::Command::new("terraform")
        .arg("version")
        .output()
        .is_err()
    {
        eprintln!(
            "skipped: `terraform` is not on the PATH (install Terraform >= 1.6 to run these tests)"
        );
        return None;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let config_dir = tmp.path().join("config");
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&config_dir).expect("config dir");
    std::fs::create_dir_all(&work).expect("work dir");
    std::fs::write(config_dir.join("main.tf"), CONFIG).expect("main.tf");
    let mut config = TerraformConfig::new(&config_dir, tmp.path().join("state"));
    // No CLI configuration: nothing may be fetched or mirrored.
    config.env = vec![("TF_CLI_CONFIG_FILE".into(), "/dev/null".into())];
    config.interrupt_grace = Duration::from_secs(60);
    Some(Fixture {
        tf: Terraform::new(config),
        work,
        _tmp: tmp,
    })
}

fn vars(dir: &Path, extra: &[(&str, &str)]) -> Vars {
    let mut vars = Vars::from([("dir".to_owned(), dir.display().to_string())]);
    for (k, v) in extra {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    vars
}

#[tokio::test]
async fn workspaces_keep_separate_states_through_plan_apply_and_destroy() {
    let Some(f) = fixture() else { return };
    f.tf.init(Hooks::default())
        .await
        .expect("init works offline");
    assert!(f.tf.version().await.expect("version").starts_with("1."));
    let (a, b) = (f.work.join("a"), f.work.join("b"));
    for (ws, dir) in [("row-a", &a), ("row-b", &b)] {
        std::fs::create_dir_all(dir).expect("dir");
        f.tf.ensure_workspace(ws).await.expect("workspace");
        f.tf.ensure_workspace(ws).await.expect("twice is fine");
        assert!(f.tf.resources(ws).await.expect("resources").is_empty());
        let plan =
            f.tf.plan(ws, &vars(dir, &[]), Hooks::default())
                .await
                .expect("plan");
        let created: Vec<&str> = plan.creates().map(|c| c.address.as_str()).collect();
        assert_eq!(created, ["terraform_data.thing"]);
        let mut lines = Vec::new();
        let mut on_line = |l: &str| lines.push(l.to_owned());
        let hooks = Hooks {
            on_line: Some(&mut on_line),
            log: Some(f.work.join(format!("{ws}.log"))),
            ..Hooks::default()
        };
        f.tf.apply_plan(ws, &plan, hooks).await.expect("apply");
        assert!(
            lines.iter().any(|l| l.contains("Apply complete")),
            "{lines:?}"
        );
        let log = std::fs::read_to_string(f.work.join(format!("{ws}.log"))).expect("log");
        assert!(log.contains("Apply complete"), "{log}");
    }
    assert_eq!(f.tf.workspaces().await.expect("list"), ["row-a", "row-b"]);
    assert!(
        f.tf.workspace_dir()
            .join("row-a/terraform.tfstate")
            .is_file()
    );
    let outputs = f.tf.outputs("row-a").await.expect("outputs");
    assert_eq!(
        outputs["where"],
        serde_json::json!(a.join("made").display().to_string())
    );
    // Destroying one row leaves the other.
    f.tf.destroy("row-a", &vars(&a, &[]), Hooks::default())
        .await
        .expect("destroy");
    assert!(!a.join("made").exists(), "the destroy provisioner ran");
    assert!(b.join("made").exists(), "the other workspace is untouched");
    assert!(f.tf.resources("row-a").await.expect("a").is_empty());
    assert_eq!(
        f.tf.resources("row-b").await.expect("b"),
        ["terraform_data.thing"]
    );
    f.tf.delete_workspace("row-a").await.expect("delete");
    assert_eq!(f.tf.workspaces().await.expect("list"), ["row-b"]);
    let err = f.tf.delete_workspace("row-b").await.expect_err("not empty");
    assert!(matches!(err, TerraformError::Failed { .. }), "{err}");
    f.tf.destroy("row-b", &vars(&b, &[]), Hooks::default())
        .await
        .expect("destroy b");
}

#[tokio::test]
async fn a_failed_apply_names_the_command_and_its_stderr_and_keeps_what_it_made() {
    let Some(f) = fixture() else { return };
    f.tf.init(Hooks::default()).await.expect("init");
    f.tf.ensure_workspace("broken").await.expect("workspace");
    let v = vars(&f.work, &[("fail", "true")]);
    let plan =
        f.tf.plan("broken", &v, Hooks::default())
            .await
            .expect("plan");
    let err =
        f.tf.apply_plan("broken", &plan, Hooks::default())
            .await
            .expect_err("fails");
    let TerraformError::Failed {
        command,
        stderr_tail,
        ..
    } = &err
    else {
        panic!("{err}");
    };
    assert!(
        command.contains("TF_WORKSPACE=broken") && command.contains(" apply "),
        "{command}"
    );
    assert!(
        stderr_tail.contains("this apply breaks on purpose"),
        "{stderr_tail}"
    );
    assert!(
        !stderr_tail.contains('\u{1b}'),
        "no colour codes: {stderr_tail:?}"
    );
    // The first half exists and is in the state, so a destroy can find it.
    assert!(f.work.join("made").exists());
    let left = f.tf.resources("broken").await.expect("resources");
    assert!(
        left.contains(&"terraform_data.thing".to_owned()),
        "{left:?}"
    );
    // The command printed for a human is the one that works.
    let line = f.tf.destroy_command("broken", &v);
    let status = std::process::Command::new("sh")
        .args(["-c", &line])
        .stdout(Stdio::null())
        .status()
        .expect("sh");
    assert!(status.success(), "{line}");
    assert!(!f.work.join("made").exists());
    assert!(
        f.tf.resources("broken")
            .await
            .expect("resources")
            .is_empty()
    );
}

#[tokio::test]
async fn an_interrupt_stops_terraform_and_says_so() {
    let Some(f) = fixture() else { return };
    f.tf.init(Hooks::default()).await.expect("init");
    f.tf.ensure_workspace("slow").await.expect("workspace");
    let v = vars(&f.work, &[("block", "true")]);
    let plan = f.tf.plan("slow", &v, Hooks::default()).await.expect("plan");
    let (stop, interrupt) = watch::channel(false);
    // Interrupt when the blocking provisioner has started, not after a guessed delay.
    let mut on_line = move |line: &str| {
        if line.contains("blocking") {
            let _ = stop.send(true);
        }
    };
    let hooks = Hooks {
        on_line: Some(&mut on_line),
        interrupt: Some(interrupt),
        log: None,
    };
    let err =
        f.tf.apply_plan("slow", &plan, hooks)
            .await
            .expect_err("interrupted");
    assert!(matches!(err, TerraformError::Interrupted { .. }), "{err}");
    // Terraform saved what it had made before it stopped: destroy finds and removes it.
    f.tf.destroy("slow", &v, Hooks::default())
        .await
        .expect("destroy");
    assert!(f.tf.resources("slow").await.expect("resources").is_empty());
    assert!(!f.work.join("made").exists());
}

#[tokio::test]
async fn two_inits_on_one_state_directory_both_succeed() {
    let Some(f) = fixture() else { return };
    let (a, b) = tokio::join!(f.tf.init(Hooks::default()), f.tf.init(Hooks::default()));
    a.expect("first init");
    b.expect("second init");
    f.tf.ensure_workspace("after")
        .await
        .expect("a usable data directory");
}

#[tokio::test]
async fn a_missing_program_is_named() {
    let mut config = TerraformConfig::new("/nonexistent", "/nonexistent/state");
    config.program = PathBuf::from("/nonexistent/terraform-not-here");
    let err = Terraform::new(config).version().await.expect_err("missing");
    assert!(matches!(err, TerraformError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("terraform-not-here"), "{err}");
}

#[test]
fn workspace_names_that_could_escape_are_refused() {
    for bad in ["", "../x", "a b", "a/b", "ä"] {
        assert!(check_workspace(bad).is_err(), "{bad:?}");
    }
    check_workspace("lambda-dynamodb").expect("an id");
}

#[test]
fn command_lines_quote_what_a_shell_would_split() {
    let tf = Terraform::new(TerraformConfig::new("/repo/deploy/terraform", "/st ate"));
    let vars = Vars::from([
        ("architecture".to_owned(), "ec2".to_owned()),
        ("note".to_owned(), "it's here".to_owned()),
    ]);
    let line = tf.destroy_command("ec2", &vars);
    assert_eq!(
        line,
        "TF_DATA_DIR='/st ate/data' TF_WORKSPACE=ec2 terraform -chdir=/repo/deploy/terraform \
         destroy -input=false -no-color -lock-timeout=60s -auto-approve -var architecture=ec2 \
         -var 'note=it'\\''s here'"
    );
}

#[test]
fn a_plan_lists_what_it_touches() {
    let json = r#"{"resource_changes":[
        {"address":"a.x","type":"a","change":{"actions":["create"]}},
        {"address":"b.y","type":"b","change":{"actions":["no-op"]}},
        {"address":"c.z","type":"c","change":{"actions":["delete","create"]}},
        {"address":"data.d","type":"d","change":{"actions":["read"]}}]}"#;
    let plan = Plan {
        file: PathBuf::new(),
        changes: parse_plan(json).expect("parses"),
    };
    assert_eq!(plan.changes.len(), 2);
    assert_eq!(plan.creates().count(), 2);
    assert_eq!(plan.deletes().count(), 1);
    assert!(parse_plan("{").is_err());
}

#[test]
fn tails_are_bounded_and_colourless() {
    let lines: Vec<String> = (0..50)
        .map(|i| format!("\u{1b}[31mline {i}\u{1b}[0m"))
        .collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let t = tail(&refs);
    assert_eq!(t.lines().count(), TAIL_LINES);
    assert!(t.starts_with("line 30") && t.ends_with("line 49"), "{t}");
}
