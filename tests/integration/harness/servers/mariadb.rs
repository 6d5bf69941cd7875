//! [`MariaDb`]: a real mariadbd writing its slow query log (every statement:
//! `long_query_time = 0`), and the `mariadb` client to send it statements.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::harness::{free_port, require_binary, Proc, TempDir, START_TIMEOUT};

/// mariadbd on 127.0.0.1 with its data in a temp dir (made by `mariadb-install-db`), run
/// as the current user, logging every statement to [`MariaDb::slow_log`].
#[derive(Debug)]
pub struct MariaDb {
    _proc: Proc,
    pub port: u16,
    pub dir: TempDir,
    pub slow_log: PathBuf,
}

impl MariaDb {
    pub const BIN: &'static str = "/usr/sbin/mariadbd";
    pub const INSTALL: &'static str = "/usr/bin/mariadb-install-db";
    pub const CLI: &'static str = "/usr/bin/mariadb";

    pub fn start() -> MariaDb {
        for bin in [Self::BIN, Self::INSTALL, Self::CLI] {
            require_binary(bin);
        }
        let dir = TempDir::new("mariadb");
        let user = whoami();
        let out = Command::new(Self::INSTALL)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", dir.join("data").display()))
            .arg(format!("--user={user}"))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .stdin(Stdio::null())
            .output()
            .expect("run mariadb-install-db");
        assert!(out.status.success(), "mariadb-install-db: {out:?}");
        let port = free_port();
        let slow_log = dir.join("slow.log");
        let mut cmd = Command::new(Self::BIN);
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", dir.join("data").display()))
            .arg(format!("--socket={}", dir.join("sock").display()))
            .arg(format!("--pid-file={}", dir.join("pid").display()))
            .args(["--bind-address=127.0.0.1", &format!("--port={port}")])
            .arg(format!("--user={user}"))
            .args(["--skip-log-bin", "--innodb-buffer-pool-size=8M"])
            .args(["--slow-query-log=1", "--long-query-time=0"])
            .arg(format!("--slow-query-log-file={}", slow_log.display()));
        let mut proc_ = Proc::spawn("mariadbd", cmd, dir.join("mariadbd.log"));
        proc_.wait_ready(START_TIMEOUT * 3, || {
            TcpStream::connect(("127.0.0.1", port)).is_ok() && dir.join("sock").exists()
        });
        MariaDb {
            _proc: proc_,
            port,
            dir,
            slow_log,
        }
    }

    /// Runs `sql` as root over the unix socket (`mariadb -e`: each statement is one entry
    /// of the slow log, and the client sends nothing else).
    pub fn sql(&self, sql: &str) -> String {
        self.client(
            &[
                "-uroot",
                &format!("--socket={}", self.dir.join("sock").display()),
            ],
            sql,
        )
    }

    /// Runs `sql` as `user` (password `pw`) over TCP.
    pub fn sql_as(&self, user: &str, sql: &str) -> String {
        self.client(
            &[
                &format!("-u{user}"),
                "-ppw",
                "-h127.0.0.1",
                &format!("-P{}", self.port),
                "--protocol=tcp",
            ],
            sql,
        )
    }

    fn client(&self, args: &[&str], sql: &str) -> String {
        let out = Command::new(Self::CLI)
            .arg("--no-defaults")
            .args(args)
            .args(["--comments", "-e", sql])
            .stdin(Stdio::null())
            .output()
            .expect("run mariadb");
        assert!(out.status.success(), "mariadb -e {sql:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn whoami() -> String {
    let out = Command::new("id").arg("-un").output().expect("run id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
