//! [`Vsftpd`]: a real vsftpd on 127.0.0.1 serving anonymous FTP from a temp dir, writing
//! both its own log (with the protocol) and the xferlog.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::harness::{free_port, require_binary, Proc, TempDir, START_TIMEOUT};

const CURL: &str = "/usr/bin/curl";

#[derive(Debug)]
pub struct Vsftpd {
    _proc: Proc,
    pub port: u16,
    pub dir: TempDir,
    /// vsftpd's own log (`vsftpd_log_file`, `log_ftp_protocol=YES`).
    pub log: PathBuf,
    /// The transfer log (`xferlog_file`).
    pub xferlog: PathBuf,
}

impl Vsftpd {
    pub const BIN: &'static str = "/usr/sbin/vsftpd";

    /// Serves `files` (name, contents) anonymously; `incoming/` takes uploads.
    pub fn start(files: &[(&str, &[u8])]) -> Vsftpd {
        require_binary(Self::BIN);
        require_binary(CURL);
        let dir = TempDir::new("vsftpd");
        let root = dir.join("pub");
        std::fs::create_dir_all(root.join("incoming")).unwrap();
        std::fs::create_dir_all(dir.join("empty")).unwrap();
        for (name, data) in files {
            std::fs::write(root.join(name), data).unwrap();
        }
        use std::os::unix::fs::PermissionsExt;
        // vsftpd refuses a chroot it can write to; uploads go to a writable subdirectory.
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o555)).unwrap();
        std::fs::set_permissions(
            root.join("incoming"),
            std::fs::Permissions::from_mode(0o777),
        )
        .unwrap();
        let port = free_port();
        let (log, xferlog) = (dir.join("vsftpd.log"), dir.join("xferlog"));
        let conf = dir.write(
            "vsftpd.conf",
            format!(
                "listen=YES\nlisten_ipv6=NO\nlisten_address=127.0.0.1\nlisten_port={port}\n\
                 background=NO\nanonymous_enable=YES\nanon_root={}\nno_anon_password=YES\n\
                 ftp_username=ftp\nwrite_enable=YES\nanon_upload_enable=YES\nlocal_enable=NO\n\
                 secure_chroot_dir={}\nxferlog_enable=YES\nxferlog_file={}\n\
                 vsftpd_log_file={}\ndual_log_enable=YES\nlog_ftp_protocol=YES\n\
                 pasv_enable=YES\npasv_address=127.0.0.1\nseccomp_sandbox=NO\n",
                root.display(),
                dir.join("empty").display(),
                xferlog.display(),
                log.display()
            ),
        );
        let mut cmd = Command::new(Self::BIN);
        cmd.arg(&conf);
        let mut proc_ = Proc::spawn("vsftpd", cmd, dir.join("vsftpd.out"));
        proc_.wait_ready(START_TIMEOUT, || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Vsftpd {
            _proc: proc_,
            port,
            dir,
            log,
            xferlog,
        }
    }

    /// `curl` on `ftp://127.0.0.1:PORT/path` with `args` (`-T file` uploads); its status.
    pub fn curl(&self, path: &str, args: &[&str]) -> bool {
        Command::new(CURL)
            .args(["-s", "-o", "/dev/null"])
            .args(args)
            .arg(format!("ftp://127.0.0.1:{}/{path}", self.port))
            .status()
            .expect("run curl")
            .success()
    }

    /// A session by hand: connect, log in, wait `hold`, then QUIT (a session of a known
    /// length, which curl's are not).
    pub fn session(&self, hold: Duration) {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.set_read_timeout(Some(START_TIMEOUT)).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let mut expect = |code: &str| {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            assert!(line.starts_with(code), "expected {code}, got {line:?}");
        };
        expect("220");
        writer.write_all(b"USER anonymous\r\n").unwrap();
        expect("230");
        std::thread::sleep(hold);
        writer.write_all(b"QUIT\r\n").unwrap();
        expect("221");
    }
}
