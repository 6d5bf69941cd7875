//! What the integration tests need installed besides the adapter: [`PROGRAMS`], each with
//! the Debian package that provides it (`bash tests/setup.sh` installs them all). A test
//! that runs one calls [`require_binary`] first, so a missing program is a failure naming
//! its package, never a skip; [`missing`] lists every one at once, for the up-front check in
//! `setup.rs`.

use std::path::Path;
use std::process::{Command, Stdio};

use super::{
    Apache, Haproxy, Lighttpd, MariaDb, Memcached, Nginx, PhpFpm, Redis, Rsyncd, Sftpd, Vsftpd,
    PYTHON,
};

/// Every program a test runs, with its Debian package. POSIX basics (`sh`, `date`, `kill`,
/// `mkfifo`) are left out; php-fpm too, whose file name has a version in it
/// ([`PhpFpm::binary`] finds it).
pub const PROGRAMS: &[(&str, &str)] = &[
    (Nginx::BIN, "nginx-light (or nginx)"),
    (Redis::BIN, "redis-server"),
    (Redis::CLI, "redis-tools"),
    (Memcached::BIN, "memcached"),
    (Haproxy::BIN, "haproxy"),
    (Apache::BIN, "apache2"),
    (PhpFpm::CGI_FCGI, "libfcgi-bin"),
    (MariaDb::BIN, "mariadb-server"),
    (MariaDb::INSTALL, "mariadb-server"),
    (MariaDb::CLI, "mariadb-client"),
    (Vsftpd::BIN, "vsftpd"),
    (Lighttpd::BIN, "lighttpd"),
    (Rsyncd::BIN, "rsync"),
    (Sftpd::SSHD, "openssh-server"),
    (Sftpd::SFTP, "openssh-client"),
    (Sftpd::KEYGEN, "openssh-client"),
    ("/usr/bin/promtool", "prometheus"),
    ("/usr/bin/prometheus", "prometheus"),
    (PYTHON, "python3"),
    ("/usr/bin/curl", "curl"),
    ("/usr/bin/openssl", "openssl"),
    ("/usr/bin/php", "php-cli"),
    ("/usr/bin/ss", "iproute2"),
    ("/usr/sbin/ip", "iproute2"),
    ("/usr/bin/unshare", "util-linux"),
    (
        "/usr/bin/prometheus-nginx-exporter",
        "prometheus-nginx-exporter",
    ),
    (
        "/usr/bin/prometheus-redis-exporter",
        "prometheus-redis-exporter",
    ),
    (
        "/usr/bin/prometheus-haproxy-exporter",
        "prometheus-haproxy-exporter",
    ),
    (
        "/usr/bin/prometheus-apache-exporter",
        "prometheus-apache-exporter",
    ),
];

/// Panics unless `path` exists, naming the Debian package that provides it. `path` must be
/// one of [`PROGRAMS`], so the up-front check misses nothing a test runs.
pub fn require_binary(path: &str) {
    let Some((_, package)) = PROGRAMS.iter().find(|(p, _)| *p == path) else {
        panic!("{path} is not in harness::PROGRAMS: add it there, with its Debian package");
    };
    if !Path::new(path).exists() {
        panic!(
            "{path} is missing: install the Debian package `{package}` \
             (`bash tests/setup.sh` installs everything the tests need)"
        );
    }
}

/// One line per missing program or Python module, naming its Debian package.
pub fn missing() -> Vec<String> {
    let mut out: Vec<String> = PROGRAMS
        .iter()
        .filter(|(path, _)| !Path::new(path).exists())
        .map(|(path, package)| format!("{path} (Debian package `{package}`)"))
        .collect();
    if PhpFpm::installed().is_none() {
        out.push("/usr/sbin/php-fpm* (Debian package `php-fpm`)".into());
    }
    let has_client = Command::new(PYTHON)
        .args(["-c", "import prometheus_client"])
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_client {
        out.push(format!(
            "{PYTHON}'s prometheus_client (Debian package `python3-prometheus-client`)"
        ));
    }
    out
}
