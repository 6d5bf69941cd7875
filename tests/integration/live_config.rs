//! Live configuration as Kubernetes delivers it: the config file and the web config file
//! (with its certificate and key) mounted from a ConfigMap or Secret, updated by swapping
//! the `..data` symlink, are re-read without a restart or a signal; a broken new file keeps
//! the last good one serving and says so in the log and a metric. The real binary, real
//! `curl` and `openssl`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::harness::*;
use crate::security::{bcrypt_hash, curl, openssl, PASSWORD, USER};

/// The watcher's poll in these tests (the default is 10 s).
const POLL: &str = "--config.auto-reload-interval=200ms";
/// How long a change may take to apply: polls, the settle period, a loaded machine.
const APPLY: Duration = Duration::from_secs(15);

/// A directory laid out as the kubelet mounts a ConfigMap or Secret: each key a symlink
/// `KEY -> ..data/KEY`, `..data` a symlink to the current version's directory.
struct Mounted {
    dir: PathBuf,
    version: usize,
}

impl Mounted {
    fn new(dir: PathBuf, files: &[(&str, &[u8])]) -> Mounted {
        std::fs::create_dir_all(&dir).unwrap();
        let mut m = Mounted { dir, version: 0 };
        m.update(files);
        for (name, _) in files {
            std::os::unix::fs::symlink(format!("..data/{name}"), m.dir.join(name)).unwrap();
        }
        m
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A new version of every file, swapped in at once as the kubelet does: a new
    /// `..data` link renamed over the old one.
    fn update(&mut self, files: &[(&str, &[u8])]) {
        self.version += 1;
        let version = format!("..v{}", self.version);
        for (name, contents) in files {
            let p = self.dir.join(&version).join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, contents).unwrap();
        }
        let tmp = self.dir.join("..data_tmp");
        std::os::unix::fs::symlink(&version, &tmp).unwrap();
        std::fs::rename(&tmp, self.dir.join("..data")).unwrap();
    }
}

fn file_source(name: &str, path: &Path) -> String {
    format!(
        "[sources.{name}]\ntype = \"file\"\npath = {}\nparser = \"kv\"\n",
        toml_str(&path.display().to_string())
    )
}

#[test]
fn a_changed_config_map_reloads_itself_and_a_broken_one_keeps_the_last_good() {
    let data = TempDir::new("live-config");
    let a = data.write("a.txt", "alpha: 1\n");
    let b = data.write("b.txt", "beta: 2\n");
    let mut cm = Mounted::new(
        data.join("config"),
        &[("adapter.toml", file_source("a", &a).as_bytes())],
    );
    let config = cm.path("adapter.toml").display().to_string();
    let adapter = Adapter::start_with(None, &["--config", &config, POLL]);
    let s = adapter.samples();
    assert_eq!(value(&s, "alpha", &[]), 1.0);
    assert_eq!(find(&s, "beta", &[]), None);

    // A second source, as `kubectl apply` of the ConfigMap delivers it.
    let both = file_source("a", &a) + &file_source("b", &b);
    cm.update(&[("adapter.toml", both.as_bytes())]);
    let s = wait_for("the new config in force", APPLY, || {
        let s = adapter.samples();
        find(&s, "beta", &[]).is_some().then_some(s)
    });
    assert_eq!(value(&s, "beta", &[]), 2.0);
    assert_eq!(value(&s, "alpha", &[]), 1.0);
    assert_eq!(
        value(&s, "metrics_adapter_config_last_reload_successful", &[]),
        1.0
    );

    // A broken one: the last good config keeps serving, the metric and the log say so.
    cm.update(&[(
        "adapter.toml",
        b"[sources.c]\ntype = \"file\"\nparser = \"kv\"\n",
    )]);
    let s = wait_for("the failed reload", APPLY, || {
        let s = adapter.samples();
        (find(&s, "metrics_adapter_config_last_reload_successful", &[]) == Some(0.0)).then_some(s)
    });
    assert_eq!(value(&s, "beta", &[]), 2.0, "the last good config serves");
    assert_eq!(value(&s, "alpha", &[]), 1.0);
    let log = adapter.stderr();
    assert!(
        log.contains("reload failed, the previous configuration keeps serving")
            && log.contains("adapter.toml: sources.c.path: missing"),
        "the log names the key:\n{log}"
    );
    // Not retried while the file stays as it is: one failure logged, however many polls.
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(
        adapter.stderr().matches("reload failed").count(),
        1,
        "{}",
        adapter.stderr()
    );

    // Fixed: in force again, with only source b.
    cm.update(&[("adapter.toml", file_source("b", &b).as_bytes())]);
    let s = wait_for("the fixed config in force", APPLY, || {
        let s = adapter.samples();
        (find(&s, "metrics_adapter_config_last_reload_successful", &[]) == Some(1.0)).then_some(s)
    });
    assert_eq!(find(&s, "alpha", &[]), None);
    assert_eq!(value(&s, "beta", &[]), 2.0);
}

#[test]
fn an_edited_recipe_in_a_recipe_directory_is_picked_up() {
    let data = TempDir::new("live-recipes");
    let input = data.write("queue.txt", "depth: 7\n");
    let recipe = |name: &str| {
        format!(
            "description = \"queue\"\nformat = \"kv\"\n[mapping]\nprefix = \"{name}_\"\n\
             unmatched = \"gauge\"\n"
        )
    };
    let recipes = data.mkdir("recipes");
    std::fs::write(recipes.join("queued.toml"), recipe("old")).unwrap();
    let config = data.write(
        "adapter.toml",
        format!(
            "[parsers]\ndirs = [{}]\n[sources.q]\ntype = \"file\"\npath = {}\nparser = \"queued\"\n",
            toml_str(&recipes.display().to_string()),
            toml_str(&input.display().to_string())
        ),
    );
    let config = config.display().to_string();
    let adapter = Adapter::start_with(None, &["--config", &config, POLL]);
    assert_eq!(value(&adapter.samples(), "old_depth", &[]), 7.0);
    std::fs::write(recipes.join("queued.toml"), recipe("new")).unwrap();
    let s = wait_for("the edited recipe in force", APPLY, || {
        let s = adapter.samples();
        find(&s, "new_depth", &[]).is_some().then_some(s)
    });
    assert_eq!(value(&s, "new_depth", &[]), 7.0);
    assert_eq!(find(&s, "old_depth", &[]), None);
}

/// A self-signed certificate for 127.0.0.1 named `cn`, in `dir`: (cert PEM, key PEM).
fn cert(dir: &Path, cn: &str) -> (Vec<u8>, Vec<u8>) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{cn}.key"),
            "-out",
            &format!("{cn}.crt"),
            "-subj",
            &format!("/CN={cn}"),
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-days",
            "2",
        ],
    );
    (
        std::fs::read(dir.join(format!("{cn}.crt"))).unwrap(),
        std::fs::read(dir.join(format!("{cn}.key"))).unwrap(),
    )
}

fn web_yml(password: &str) -> Vec<u8> {
    format!(
        "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n\
         basic_auth_users:\n  {USER}: {}\n",
        bcrypt_hash(password)
    )
    .into_bytes()
}

#[test]
fn a_rotated_certificate_and_a_changed_password_apply_without_a_restart() {
    let dir = TempDir::new("live-web");
    let (crt1, key1) = cert(dir.path(), "first");
    let (crt2, key2) = cert(dir.path(), "second");
    let (ca1, ca2) = (
        dir.join("first.crt").display().to_string(),
        dir.join("second.crt").display().to_string(),
    );
    let web1 = web_yml(PASSWORD);
    // One Secret with the web config, certificate and key, as cert-manager renews it.
    let mut secret = Mounted::new(
        dir.join("secret"),
        &[("web.yml", &web1), ("tls.crt", &crt1), ("tls.key", &key1)],
    );
    let web = secret.path("web.yml").display().to_string();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut cmd = std::process::Command::new(BIN);
    clean_env(&mut cmd);
    cmd.args(["--listen", &listen, "--web.config.file", &web, POLL]);
    let mut proc_ = Proc::spawn("metrics-adapter", cmd, dir.join("adapter.log"));
    proc_.wait_ready(START_TIMEOUT, || port_open(port));
    let url = format!("https://127.0.0.1:{port}/metrics");
    let good = format!("{USER}:{PASSWORD}");

    let r = curl(&["--cacert", &ca1, "-u", &good, &url]);
    assert_eq!((r.exit, r.status), (0, 200), "{r:?}");
    assert!(
        r.body
            .contains("metrics_adapter_web_config_last_reload_successful 1"),
        "{}",
        r.body
    );

    // Renewed certificate and a new password, in one update.
    let new_password = "pw-rotated-Kd93";
    let new_good = format!("{USER}:{new_password}");
    let web2 = web_yml(new_password);
    secret.update(&[("web.yml", &web2), ("tls.crt", &crt2), ("tls.key", &key2)]);
    wait_until("the new certificate served", APPLY, || {
        curl(&["--cacert", &ca2, "-u", &new_good, &url]).status == 200
    });
    // The old certificate is not served any more (curl: 60, peer certificate cannot be
    // authenticated with the given CA), and the old password is refused.
    let r = curl(&["--cacert", &ca1, "-u", &new_good, &url]);
    assert_eq!(r.exit, 60, "{r:?}");
    let r = curl(&["--cacert", &ca2, "-u", &good, &url]);
    assert_eq!((r.exit, r.status), (0, 401), "{r:?}");

    // A broken web config: the last good one keeps serving; log and metric say so.
    secret.update(&[
        ("web.yml", b"basic_auth_users: [not, a, map]\n"),
        ("tls.crt", &crt2),
        ("tls.key", &key2),
    ]);
    wait_until("the failed web config reload", APPLY, || {
        let r = curl(&["--cacert", &ca2, "-u", &new_good, &url]);
        r.body
            .contains("metrics_adapter_web_config_last_reload_successful 0")
    });
    let r = curl(&["--cacert", &ca2, "-u", &new_good, &url]);
    assert_eq!(
        (r.exit, r.status),
        (0, 200),
        "the last good web config serves: {r:?}"
    );
    let logs = proc_.logs();
    assert!(
        logs.contains("web config reload failed, the previous one keeps serving")
            && logs.contains("basic_auth_users"),
        "{logs}"
    );
}

#[test]
fn a_bad_auto_reload_interval_stops_the_start_with_its_name() {
    let out = run_cli(
        &[
            "--listen",
            "127.0.0.1:0",
            "--config.auto-reload-interval",
            "soon",
        ],
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert_eq!(
        out.stderr.trim(),
        "metrics-adapter: error: --config.auto-reload-interval: \"soon\" is not a positive \
         duration like 500ms, 5s or 1m, or 0 to turn it off",
        "{out}"
    );
}
