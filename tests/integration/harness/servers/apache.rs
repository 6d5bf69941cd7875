//! [`Apache`]: a real apache2 with `mod_status` and an access log, from a self-contained
//! config.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use crate::harness::{
    free_port, http_ok_text, require_binary, try_http_request, Proc, TempDir, START_TIMEOUT,
};

/// apache2 (event MPM, `-DFOREGROUND`) on 127.0.0.1 with a self-contained config (no
/// `/etc/apache2/envvars` needed): `mod_status` at `/server-status` (so
/// `/server-status?auto`) with `ExtendedStatus On`, and [`Apache::docroot`] at `/`. Every
/// request is logged to [`Apache::access_log`] in `combined` with `%D` appended (the
/// `apache_access` recipe's timed form).
#[derive(Debug)]
pub struct Apache {
    proc_: Proc,
    pub port: u16,
    pub docroot: PathBuf,
    pub dir: TempDir,
}

impl Apache {
    pub const BIN: &'static str = "/usr/sbin/apache2";
    const MODULES: &'static str = "/usr/lib/apache2/modules";

    pub fn start() -> Apache {
        Apache::start_with_log_format(
            r#"%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\" %D"#,
        )
    }

    /// Like [`Apache::start`], the access log written in `log_format` (a `LogFormat`
    /// string, quotes escaped as in apache2.conf).
    pub fn start_with_log_format(log_format: &str) -> Apache {
        require_binary(Self::BIN);
        let dir = TempDir::new("apache2");
        let docroot = dir.mkdir("www");
        let run = dir.mkdir("run");
        fs::write(
            docroot.join("index.html"),
            "<html><body>hello</body></html>\n",
        )
        .expect("write index.html");
        let port = free_port();
        let m = Self::MODULES;
        let conf = dir.write(
            "apache2.conf",
            format!(
                "ServerRoot \"/etc/apache2\"\n\
                 DefaultRuntimeDir {run}\n\
                 PidFile {run}/apache2.pid\n\
                 Mutex file:{run} default\n\
                 LoadModule mpm_event_module {m}/mod_mpm_event.so\n\
                 LoadModule authz_core_module {m}/mod_authz_core.so\n\
                 LoadModule mime_module {m}/mod_mime.so\n\
                 LoadModule dir_module {m}/mod_dir.so\n\
                 LoadModule status_module {m}/mod_status.so\n\
                 User www-data\n\
                 Group www-data\n\
                 Listen 127.0.0.1:{port}\n\
                 ServerName localhost\n\
                 TypesConfig /etc/mime.types\n\
                 DocumentRoot {docroot}\n\
                 DirectoryIndex index.html\n\
                 ErrorLog {d}/error.log\n\
                 LogFormat \"{log_format}\" timed\n\
                 CustomLog {d}/access.log timed\n\
                 StartServers 1\n\
                 ServerLimit 2\n\
                 ThreadsPerChild 5\n\
                 MinSpareThreads 1\n\
                 MaxSpareThreads 10\n\
                 MaxRequestWorkers 10\n\
                 ExtendedStatus On\n\
                 <Directory />\n  Require all denied\n</Directory>\n\
                 <Directory {docroot}>\n  Require all granted\n</Directory>\n\
                 <Location /server-status>\n  SetHandler server-status\n  Require all granted\n</Location>\n",
                run = run.display(),
                docroot = docroot.display(),
                d = dir.path().display()
            ),
        );
        let mut cmd = Command::new(Self::BIN);
        cmd.arg("-f").arg(&conf).arg("-DFOREGROUND");
        let mut proc_ = Proc::spawn("apache2", cmd, dir.join("apache2.out"));
        proc_.extra_logs.push(dir.join("error.log"));
        proc_.wait_ready(START_TIMEOUT, || {
            try_http_request(port, "GET", "/server-status?auto", &[]).is_ok_and(|r| r.status == 200)
        });
        Apache {
            proc_,
            port,
            docroot,
            dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.proc_.pid()
    }

    /// `http://127.0.0.1:PORT<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The access log apache2 writes (see [`Apache`]).
    pub fn access_log(&self) -> PathBuf {
        self.dir.join("access.log")
    }

    /// `/server-status?auto`, read directly.
    pub fn status_auto(&self) -> String {
        http_ok_text(self.port, "/server-status?auto")
    }
}
