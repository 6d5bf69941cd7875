//! [`Nginx`]: a real nginx with `stub_status` and a directory of files to serve.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use crate::harness::{
    free_port, http_ok_text, require_binary, try_http_request, Proc, TempDir, START_TIMEOUT,
};

/// nginx (`master_process off`, one process) on 127.0.0.1: `stub_status` at `/stub_status`
/// and the directory [`Nginx::files`] served at `/files/` as `text/plain` (and at `/whole/`
/// ignoring `Range` requests, as some servers do); the same server
/// also listens on the unix socket [`Nginx::socket`].
#[derive(Debug)]
pub struct Nginx {
    proc_: Proc,
    pub port: u16,
    /// Files written here are served at `/files/<name>`.
    pub files: PathBuf,
    pub dir: TempDir,
}

impl Nginx {
    pub const BIN: &'static str = "/usr/sbin/nginx";

    pub fn start() -> Nginx {
        require_binary(Self::BIN);
        let dir = TempDir::new("nginx");
        let files = dir.mkdir("files");
        let port = free_port();
        let d = dir.path().display();
        let conf = dir.write(
            "nginx.conf",
            format!(
                "daemon off;\n\
                 master_process off;\n\
                 worker_processes 1;\n\
                 pid {d}/nginx.pid;\n\
                 error_log {d}/error.log warn;\n\
                 events {{ worker_connections 128; }}\n\
                 http {{\n\
                 \x20 access_log off;\n\
                 \x20 default_type text/plain;\n\
                 \x20 client_body_temp_path {d}/tmp-body; proxy_temp_path {d}/tmp-proxy;\n\
                 \x20 fastcgi_temp_path {d}/tmp-fastcgi; uwsgi_temp_path {d}/tmp-uwsgi; scgi_temp_path {d}/tmp-scgi;\n\
                 \x20 server {{\n\
                 \x20   listen 127.0.0.1:{port};\n\
                 \x20   listen unix:{d}/nginx.sock;\n\
                 \x20   location = /stub_status {{ stub_status; }}\n\
                 \x20   location = /status500 {{ return 500 boom; }}\n\
                 \x20   location /files/ {{ alias {d}/files/; }}\n\
                 \x20   location /whole/ {{ alias {d}/files/; max_ranges 0; }}\n\
                 \x20 }}\n\
                 }}\n"
            ),
        );
        let mut cmd = Command::new(Self::BIN);
        cmd.arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.join("error.log"));
        let mut proc_ = Proc::spawn("nginx", cmd, dir.join("nginx.out"));
        proc_.extra_logs.push(dir.join("error.log"));
        proc_.wait_ready(START_TIMEOUT, || {
            try_http_request(port, "GET", "/stub_status", &[]).is_ok_and(|r| r.status == 200)
        });
        Nginx {
            proc_,
            port,
            files,
            dir,
        }
    }

    /// `http://127.0.0.1:PORT<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Writes a file served at `/files/<name>`.
    pub fn write_file(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.files.join(name);
        fs::write(&p, contents).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }

    /// The `stub_status` page, read directly.
    pub fn stub_status(&self) -> String {
        http_ok_text(self.port, "/stub_status")
    }

    /// (accepts, handled, requests) from the `stub_status` page, read directly.
    pub fn stub_counters(&self) -> (u64, u64, u64) {
        let page = self.stub_status();
        let line = page.lines().nth(2).unwrap_or("");
        let n: Vec<u64> = line
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        assert_eq!(n.len(), 3, "stub_status line 3: {page:?}");
        (n[0], n[1], n[2])
    }

    /// The unix socket the server also listens on.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("nginx.sock")
    }

    pub fn pid(&self) -> u32 {
        self.proc_.pid()
    }
}
