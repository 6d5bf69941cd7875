//! `http` sources over TLS (`https://` + `tls = { ... }`) against a real nginx serving
//! `stub_status` with `ssl`, its certificates made by `openssl` in the test: a CA, a
//! server certificate for localhost and 127.0.0.1, an expired one, and a client
//! certificate for the server that requires one (mutual TLS). Each check that fails is
//! named in the source's error.

use std::path::Path;
use std::process::Command;

use crate::harness::*;
use crate::security::openssl;

const NGINX: &str = "/usr/sbin/nginx";

const EC: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

/// A CA `NAME.crt`/`NAME.key` in `dir`.
fn ca(dir: &Path, name: &str) {
    let (key, crt, subj) = (
        format!("{name}.key"),
        format!("{name}.crt"),
        format!("/CN={name}"),
    );
    let mut args = vec!["req", "-x509"];
    args.extend(EC);
    args.extend(["-keyout", &key, "-out", &crt, "-subj", &subj, "-days", "2"]);
    args.extend(["-addext", "basicConstraints=critical,CA:TRUE"]);
    args.extend(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    openssl(dir, &args);
}

/// `NAME.crt`/`NAME.key` signed by CA `ca`, for `purpose` (serverAuth, clientAuth),
/// valid for `days` (negative: expired).
fn leaf(dir: &Path, ca: &str, name: &str, purpose: &str, days: &str) {
    let (key, csr, crt) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.crt"),
    );
    let mut args = vec!["req"];
    args.extend(EC);
    args.extend(["-keyout", &key, "-out", &csr, "-subj", "/CN=localhost"]);
    openssl(dir, &args);
    let ext = format!("{name}.ext");
    std::fs::write(
        dir.join(&ext),
        format!(
            "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n\
             extendedKeyUsage={purpose}\n"
        ),
    )
    .unwrap();
    let (ca_crt, ca_key) = (format!("{ca}.crt"), format!("{ca}.key"));
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_crt,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            days,
            "-extfile",
            &ext,
        ],
    );
}

/// nginx with three TLS servers serving `stub_status`: the good certificate, the expired
/// one, and the good one requiring a client certificate signed by the CA.
struct TlsNginx {
    _proc: Proc,
    dir: TempDir,
    good: u16,
    expired: u16,
    mutual: u16,
}

impl TlsNginx {
    fn start() -> TlsNginx {
        require_binary(NGINX);
        let dir = TempDir::new("nginx-tls");
        let p = dir.path();
        ca(p, "ca");
        ca(p, "other-ca");
        leaf(p, "ca", "server", "serverAuth", "2");
        leaf(p, "ca", "old", "serverAuth", "-1");
        leaf(p, "ca", "client", "clientAuth", "2");
        let (good, expired, mutual) = (free_port(), free_port(), free_port());
        let d = p.display();
        let server = |port: u16, cert: &str, extra: &str| {
            format!(
                "server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {d}/{cert}.crt; \
                 ssl_certificate_key {d}/{cert}.key; {extra} \
                 location = /stub_status {{ stub_status; }} }}\n"
            )
        };
        let conf = dir.write(
            "nginx.conf",
            format!(
                "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
                 error_log {d}/error.log warn;\nevents {{ worker_connections 128; }}\n\
                 http {{\naccess_log off;\n\
                 client_body_temp_path {d}/tb; proxy_temp_path {d}/tp; fastcgi_temp_path {d}/tf;\n\
                 uwsgi_temp_path {d}/tu; scgi_temp_path {d}/ts;\n{}{}{}}}\n",
                server(good, "server", ""),
                server(expired, "old", ""),
                server(
                    mutual,
                    "server",
                    &format!("ssl_client_certificate {d}/ca.crt; ssl_verify_client on;")
                ),
            ),
        );
        let mut cmd = Command::new(NGINX);
        cmd.arg("-p").arg(p).arg("-c").arg(&conf);
        let mut proc_ = Proc::spawn("nginx", cmd, dir.join("nginx.out"));
        proc_.wait_ready(START_TIMEOUT, || {
            [good, expired, mutual]
                .iter()
                .all(|port| std::net::TcpStream::connect(("127.0.0.1", *port)).is_ok())
        });
        TlsNginx {
            _proc: proc_,
            dir,
            good,
            expired,
            mutual,
        }
    }

    fn file(&self, name: &str) -> String {
        toml_str(&self.dir.join(name).display().to_string())
    }

    /// A source table reading `stub_status` at `https://HOST:PORT` with `tls`.
    fn source(&self, name: &str, host: &str, port: u16, tls: &str) -> String {
        format!(
            "[sources.{name}]\ntype = \"http\"\nparser = \"nginx_stub_status\"\n\
             url = \"https://{host}:{port}/stub_status\"\ntls = {{ {tls} }}\n\
             labels = {{ instance = \"{name}\" }}\n"
        )
    }
}

#[test]
fn https_sources_check_the_certificate_and_say_which_check_failed() {
    let nginx = TlsNginx::start();
    let ca = format!("ca_file = {}", nginx.file("ca.crt"));
    let client = format!(
        "{ca}, cert_file = {}, key_file = {}",
        nginx.file("client.crt"),
        nginx.file("client.key")
    );
    let config = [
        nginx.source("good", "127.0.0.1", nginx.good, &ca),
        nginx.source("by_name", "localhost", nginx.good, &ca),
        nginx.source(
            "other_ca",
            "127.0.0.1",
            nginx.good,
            &format!("ca_file = {}", nginx.file("other-ca.crt")),
        ),
        nginx.source(
            "wrong_name",
            "127.0.0.1",
            nginx.good,
            &format!("{ca}, server_name = \"stats.example\""),
        ),
        nginx.source("expired", "127.0.0.1", nginx.expired, &ca),
        nginx.source(
            "insecure",
            "127.0.0.1",
            nginx.good,
            &format!(
                "ca_file = {}, insecure_skip_verify = true",
                nginx.file("other-ca.crt")
            ),
        ),
        nginx.source("no_client_cert", "127.0.0.1", nginx.mutual, &ca),
        nginx.source("mutual", "127.0.0.1", nginx.mutual, &client),
    ]
    .concat();
    let adapter = Adapter::start(&config);
    let samples = adapter.samples();
    let status = adapter.get("/").text();
    for up in ["good", "by_name", "insecure", "mutual"] {
        assert_eq!(source_up(&samples, up), 1.0, "{up}: {status}");
    }
    for down in ["other_ca", "wrong_name", "expired", "no_client_cert"] {
        assert_eq!(source_up(&samples, down), 0.0, "{down}: {status}");
    }
    // The right numbers over TLS: stub_status counts this adapter's connections; the
    // handled and accepted counters agree, and at least the one request was served.
    let requests = value(
        &samples,
        "nginx_http_requests_total",
        &[("instance", "good")],
    );
    assert!(requests >= 1.0, "{requests}");
    assert_eq!(
        value(
            &samples,
            "nginx_connections_accepted",
            &[("instance", "mutual")]
        ),
        value(
            &samples,
            "nginx_connections_handled",
            &[("instance", "mutual")]
        ),
    );
    let line = |source: &str| {
        let row = status
            .lines()
            .find(|l| l.contains(&format!(">{source}<")))
            .unwrap_or_else(|| panic!("no row for {source}: {status}"));
        row.to_string()
    };
    assert!(
        line("other_ca").contains(
            "TLS: unknown issuer (the server&#39;s certificate does not chain to tls.ca_file)<"
        ),
        "{}",
        line("other_ca")
    );
    assert!(
        line("wrong_name").contains("TLS: name mismatch"),
        "{}",
        line("wrong_name")
    );
    assert!(
        line("wrong_name").contains(
            "certificate not valid for name &quot;stats.example&quot;; certificate is only \
             valid for DnsName(&quot;localhost&quot;) or IpAddress(127.0.0.1)"
        ),
        "{}",
        line("wrong_name")
    );
    assert!(
        line("expired").contains("TLS: expired<"),
        "{}",
        line("expired")
    );
    // nginx finishes the handshake without a client certificate and answers 400.
    assert!(
        line("no_client_cert").contains("status 400"),
        "{}",
        line("no_client_cert")
    );
}

#[test]
fn https_config_errors_name_the_key() {
    let dir = TempDir::new("https-config");
    let check = |tls: &str, url: &str| {
        let path = dir.write(
            "adapter.toml",
            format!(
                "[sources.s]\ntype = \"http\"\nparser = \"nginx_stub_status\"\nurl = \"{url}\"\n{tls}"
            ),
        );
        let out = run_cli(
            &["--config", &path.display().to_string(), "check"],
            std::time::Duration::from_secs(20),
        );
        assert!(!out.success(), "{out}");
        out.stderr
    };
    let e = check("", "https://127.0.0.1:1/x");
    assert!(
        e.contains("adapter.toml: sources.s.tls.ca_file: missing: the CA"),
        "{e}"
    );
    let e = check(
        "tls = { ca_file = \"/nonexistent/ca.crt\" }\n",
        "https://127.0.0.1:1/x",
    );
    assert!(
        e.contains("adapter.toml: sources.s.tls.ca_file: /nonexistent/ca.crt: "),
        "{e}"
    );
    let e = check(
        "tls = { insecure_skip_verify = true }\n",
        "http://127.0.0.1:1/x",
    );
    assert!(
        e.contains("sources.s.tls: applies to an https:// URL"),
        "{e}"
    );
    let e = check(
        "tls = { insecure_skip_verify = true, cert_file = \"/x.crt\" }\n",
        "https://127.0.0.1:1/x",
    );
    assert!(
        e.contains("sources.s.tls.key_file: missing: the key of tls.cert_file"),
        "{e}"
    );
    let e = check("tls = { ca = \"/x\" }\n", "https://127.0.0.1:1/x");
    assert!(e.contains("sources.s.tls"), "{e}");
    assert!(e.contains("unknown field `ca`"), "{e}");
}

/// The CA file is read again for each new connection: a CA put in place after the start
/// (a mounted secret updated) is trusted from the next read on, with no reload.
#[test]
fn a_replaced_ca_file_is_used_without_a_reload() {
    let nginx = TlsNginx::start();
    let trust = nginx.dir.join("trust.crt");
    std::fs::copy(nginx.dir.join("other-ca.crt"), &trust).unwrap();
    let adapter = Adapter::start(&nginx.source(
        "s",
        "127.0.0.1",
        nginx.good,
        &format!("ca_file = {}", toml_str(&trust.display().to_string())),
    ));
    assert_eq!(source_up(&adapter.samples(), "s"), 0.0);
    std::fs::copy(nginx.dir.join("ca.crt"), &trust).unwrap();
    wait_until(
        "the new CA trusted",
        std::time::Duration::from_secs(10),
        || source_up(&adapter.samples(), "s") == 1.0,
    );
}
