//! [`Rsyncd`]: a real rsync daemon on 127.0.0.1 serving one module (`files`, writable) from
//! a temp dir, logging transfers to its own log file.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;

use crate::harness::{free_port, require_binary, Proc, TempDir, START_TIMEOUT};

#[derive(Debug)]
pub struct Rsyncd {
    _proc: Proc,
    pub port: u16,
    pub dir: TempDir,
    pub log: PathBuf,
}

impl Rsyncd {
    pub const BIN: &'static str = "/usr/bin/rsync";

    /// Serves `files` (name, contents) as module `files`.
    pub fn start(files: &[(&str, &[u8])]) -> Rsyncd {
        require_binary(Self::BIN);
        let dir = TempDir::new("rsyncd");
        for (name, data) in files {
            dir.write(format!("files/{name}"), data);
        }
        let port = free_port();
        let log = dir.join("rsyncd.log");
        // The log file is named in the config: a module's process logs there (with only
        // --log-file it would log to syslog).
        // The module runs as the daemon's own user (as root it would be `nobody`, who
        // cannot write the temp dir).
        let id = |flag: &str| {
            let out = Command::new("id").arg(flag).output().expect("run id");
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        let conf = dir.write(
            "rsyncd.conf",
            format!(
                "log file = {}\npid file = {}\nuse chroot = no\ntransfer logging = yes\n\
                 [files]\npath = {}\nread only = no\nuid = {}\ngid = {}\n",
                log.display(),
                dir.join("pid").display(),
                dir.join("files").display(),
                id("-u"),
                id("-g")
            ),
        );
        let mut cmd = Command::new(Self::BIN);
        cmd.args(["--daemon", "--no-detach", "--address=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--config={}", conf.display()));
        let mut proc_ = Proc::spawn("rsyncd", cmd, dir.join("rsyncd.out"));
        proc_.wait_ready(START_TIMEOUT, || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Rsyncd {
            _proc: proc_,
            port,
            dir,
            log,
        }
    }

    /// `rsync args...` with `rsync://127.0.0.1:PORT/` put where `{url}` is.
    pub fn run(&self, args: &[&str]) {
        let url = format!("rsync://127.0.0.1:{}/", self.port);
        let out = Command::new(Self::BIN)
            .args(args.iter().map(|a| a.replace("{url}", &url)))
            .output()
            .expect("run rsync");
        assert!(out.status.success(), "rsync {args:?}: {out:?}");
    }
}
