//! [`PhpFpm`]: a real php-fpm pool on a FastCGI port, and `cgi-fcgi` to read it directly.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{
    free_port, port_open, read_lossy, require_binary, Proc, TempDir, START_TIMEOUT,
};

/// php-fpm (`-F -R`: foreground, pool allowed to run as root) with one static pool of two
/// workers listening on 127.0.0.1 (FastCGI), `pm.status_path = /status`,
/// `ping.path = /ping`.
#[derive(Debug)]
pub struct PhpFpm {
    proc_: Proc,
    pub port: u16,
    pub bin: PathBuf,
    pub dir: TempDir,
}

impl PhpFpm {
    pub const CGI_FCGI: &'static str = "/usr/bin/cgi-fcgi";

    /// The installed `php-fpmX.Y` (the newest, if several).
    pub fn installed() -> Option<PathBuf> {
        let mut found: Vec<PathBuf> = fs::read_dir("/usr/sbin")
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| {
                        p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with("php-fpm"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        found.pop()
    }

    /// [`PhpFpm::installed`], panicking with the Debian package to install.
    pub fn binary() -> PathBuf {
        Self::installed().unwrap_or_else(|| {
            panic!(
                "/usr/sbin/php-fpm* is missing: install the Debian package `php-fpm` \
                 (`bash tests/setup.sh` installs everything the tests need)"
            )
        })
    }

    pub fn start() -> PhpFpm {
        let bin = Self::binary();
        let dir = TempDir::new("php-fpm");
        let port = free_port();
        let conf = dir.write(
            "php-fpm.conf",
            format!(
                "[global]\n\
                 pid = {d}/php-fpm.pid\n\
                 error_log = {d}/error.log\n\
                 daemonize = no\n\
                 [www]\n\
                 listen = 127.0.0.1:{port}\n\
                 listen.allowed_clients = 127.0.0.1\n\
                 pm = static\n\
                 pm.max_children = 2\n\
                 pm.status_path = /status\n\
                 ping.path = /ping\n",
                d = dir.path().display()
            ),
        );
        let mut cmd = Command::new(&bin);
        cmd.arg("-F").arg("-R").arg("-y").arg(&conf);
        let mut proc_ = Proc::spawn("php-fpm", cmd, dir.join("php-fpm.out"));
        proc_.extra_logs.push(dir.join("error.log"));
        let log = dir.join("error.log");
        proc_.wait_ready(START_TIMEOUT, || {
            port_open(port) && read_lossy(&log).contains("ready to handle connections")
        });
        PhpFpm {
            proc_,
            port,
            bin,
            dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.proc_.pid()
    }

    /// `address` for a `fastcgi` source.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A FastCGI request to `script` with `query`, straight to php-fpm with `cgi-fcgi`
    /// (Debian package `libfcgi-bin`): the CGI-style headers, a blank line, the body.
    pub fn fcgi_get(&self, script: &str, query: &str) -> String {
        require_binary(Self::CGI_FCGI);
        let mut child = Command::new(Self::CGI_FCGI)
            .args(["-bind", "-connect", &self.address()])
            .env_clear()
            .env("SCRIPT_NAME", script)
            .env("SCRIPT_FILENAME", script)
            .env("QUERY_STRING", query)
            .env("REQUEST_METHOD", "GET")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run cgi-fcgi");
        let start = Instant::now();
        while child.try_wait().ok().flatten().is_none() {
            if start.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("cgi-fcgi {script}?{query} did not finish in 10 s");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let out = child.wait_with_output().expect("cgi-fcgi output");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The body of `fcgi_get` (after the header block).
    pub fn status(&self, query: &str) -> String {
        let raw = self.fcgi_get("/status", query);
        match raw.split_once("\r\n\r\n") {
            Some((_, body)) => body.to_string(),
            None => raw,
        }
    }
}
