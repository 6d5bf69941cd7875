//! [`Haproxy`]: a real haproxy with a stats page and a backend of one UP and one DOWN
//! server.

use std::process::Command;

use crate::harness::{
    free_port, http_ok_text, require_binary, try_http_request, Proc, TempDir, START_TIMEOUT,
};

/// haproxy on 127.0.0.1: a stats frontend (`/stats`, so `/stats;csv` for CSV) and an HTTP
/// frontend whose backend `be_app` has two servers: `up1` (pointing at the stats
/// frontend, so it is UP) and `dead1` (a closed port, so it is DOWN). Health checks run
/// every 100 ms; `start` returns once the stats show `up1` UP and `dead1` DOWN. The same
/// stats are on the stats socket [`Haproxy::stats_socket`] (`show stat`).
#[derive(Debug)]
pub struct Haproxy {
    proc_: Proc,
    pub stats_port: u16,
    pub frontend_port: u16,
    /// The closed port `dead1` points at.
    pub dead_port: u16,
    pub dir: TempDir,
}

impl Haproxy {
    pub const BIN: &'static str = "/usr/sbin/haproxy";

    pub fn start() -> Haproxy {
        require_binary(Self::BIN);
        let dir = TempDir::new("haproxy");
        let (stats_port, frontend_port, dead_port) = (free_port(), free_port(), free_port());
        let conf = dir.write(
            "haproxy.cfg",
            format!(
                "global\n\
                 \x20 pidfile {d}/haproxy.pid\n\
                 \x20 stats socket {d}/stats.sock mode 600 level user\n\
                 \x20 nbthread 1\n\
                 defaults\n\
                 \x20 mode http\n\
                 \x20 timeout connect 1s\n\
                 \x20 timeout client 10s\n\
                 \x20 timeout server 10s\n\
                 frontend stats\n\
                 \x20 bind 127.0.0.1:{stats_port}\n\
                 \x20 stats enable\n\
                 \x20 stats uri /stats\n\
                 frontend fe_app\n\
                 \x20 bind 127.0.0.1:{frontend_port}\n\
                 \x20 default_backend be_app\n\
                 backend be_app\n\
                 \x20 balance roundrobin\n\
                 \x20 default-server inter 100ms downinter 100ms fall 1 rise 1\n\
                 \x20 server up1 127.0.0.1:{stats_port} check\n\
                 \x20 server dead1 127.0.0.1:{dead_port} check\n",
                d = dir.path().display()
            ),
        );
        let mut cmd = Command::new(Self::BIN);
        cmd.arg("-db").arg("-f").arg(&conf);
        let mut proc_ = Proc::spawn("haproxy", cmd, dir.join("haproxy.log"));
        proc_.wait_ready(START_TIMEOUT, || {
            let Ok(r) = try_http_request(stats_port, "GET", "/stats;csv", &[]) else {
                return false;
            };
            let csv = r.text();
            let status = |sv: &str| {
                csv.lines()
                    .find(|l| l.starts_with(&format!("be_app,{sv},")))
                    .and_then(|l| l.split(',').nth(17).map(str::to_string))
            };
            r.status == 200
                && status("up1").as_deref() == Some("UP")
                && status("dead1").as_deref() == Some("DOWN")
        });
        Haproxy {
            proc_,
            stats_port,
            frontend_port,
            dead_port,
            dir,
        }
    }

    /// The stats socket (`show stat` answers the CSV of `/stats;csv`).
    pub fn stats_socket(&self) -> std::path::PathBuf {
        self.dir.join("stats.sock")
    }

    pub fn pid(&self) -> u32 {
        self.proc_.pid()
    }

    /// `http://127.0.0.1:STATS_PORT<path>`.
    pub fn stats_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.stats_port)
    }

    /// `/stats;csv`, read directly.
    pub fn stats_csv(&self) -> String {
        http_ok_text(self.stats_port, "/stats;csv")
    }
}
