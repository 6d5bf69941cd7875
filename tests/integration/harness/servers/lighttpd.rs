//! [`Lighttpd`]: a real lighttpd on 127.0.0.1 writing its access log in the format mtail's
//! lighttpd program reads (`%I %O %T` appended to the common fields).

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;

use crate::harness::{free_port, require_binary, Proc, TempDir, START_TIMEOUT};

#[derive(Debug)]
pub struct Lighttpd {
    _proc: Proc,
    pub port: u16,
    pub dir: TempDir,
    pub log: PathBuf,
}

/// What curl saw of one exchange: status, and the bytes of each part.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exchange {
    pub status: u16,
    pub header_bytes: f64,
    pub body_bytes: f64,
    pub request_bytes: f64,
}

impl Lighttpd {
    pub const BIN: &'static str = "/usr/sbin/lighttpd";

    /// Serves `files` (name, contents) from a temp document root.
    pub fn start(files: &[(&str, &str)]) -> Lighttpd {
        require_binary(Self::BIN);
        let dir = TempDir::new("lighttpd");
        for (name, text) in files {
            dir.write(format!("www/{name}"), text);
        }
        let port = free_port();
        let log = dir.join("access.log");
        let conf = dir.write(
            "lighttpd.conf",
            format!(
                "server.document-root = \"{}\"\nserver.bind = \"127.0.0.1\"\nserver.port = {port}\n\
                 server.errorlog = \"{}\"\nserver.modules = (\"mod_accesslog\")\n\
                 accesslog.filename = \"{}\"\n\
                 accesslog.format = \"%{{X-Forwarded-For}}i %h %u %t \\\"%r\\\" %>s %b %I %O %T \\\"%{{Referer}}i\\\" \\\"%{{User-Agent}}i\\\"\"\n",
                dir.join("www").display(),
                dir.join("error.log").display(),
                log.display()
            ),
        );
        let mut cmd = Command::new(Self::BIN);
        cmd.arg("-D").arg("-f").arg(&conf);
        let mut proc_ = Proc::spawn("lighttpd", cmd, dir.join("lighttpd.out"));
        proc_.wait_ready(START_TIMEOUT, || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Lighttpd {
            _proc: proc_,
            port,
            dir,
            log,
        }
    }

    /// One request with curl (`args` before the URL: `-X POST -d ...`, `-H ...`).
    pub fn request(&self, path: &str, args: &[&str]) -> Exchange {
        let out = Command::new("/usr/bin/curl")
            .args(["-s", "-o", "/dev/null"])
            .args([
                "-w",
                "%{http_code} %{size_header} %{size_download} %{size_request} %{size_upload}",
            ])
            .args(args)
            .arg(format!("http://127.0.0.1:{}{path}", self.port))
            .output()
            .expect("run curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let f: Vec<f64> = text.split(' ').map(|n| n.parse().unwrap()).collect();
        Exchange {
            status: f[0] as u16,
            header_bytes: f[1],
            body_bytes: f[2],
            // %I counts a request's head: lighttpd 1.4 leaves a body out, and curl's
            // size_request holds the body it sent with the head.
            request_bytes: f[3] - f[4],
        }
    }
}
