//! [`Sftpd`]: a real OpenSSH sshd on 127.0.0.1 whose `internal-sftp` logs through syslog
//! (`-l INFO`), with a small syslog receiver writing rsyslog's file format. sshd logs to
//! `/dev/log`, a fixed path, so it runs in a private mount namespace (`unshare --mount`)
//! where `/dev/log` is the receiver's socket, and `/home` a tmpfs holding `/home/alice`:
//! neither the host's syslog nor its `/home` is touched.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;

use crate::harness::{free_port, require_binary, Proc, TempDir, PYTHON, START_TIMEOUT};

/// A syslog receiver: datagrams on a unix socket, written as `MMM dd hh:mm:ss host tag:
/// msg` lines (the PRI dropped and the host put after the time, as rsyslog writes a file).
const SYSLOGD: &str = r#"
import os, socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
f = open(out, "a")
while True:
    data = s.recv(65536).decode("utf-8", "replace").rstrip("\n")
    if data.startswith("<"):
        data = data[data.index(">") + 1:]
    f.write(data[:15] + " localhost" + data[15:] + "\n")
    f.flush()
"#;

#[derive(Debug)]
pub struct Sftpd {
    _syslogd: Proc,
    _sshd: Proc,
    pub port: u16,
    pub dir: TempDir,
    /// What the syslog receiver wrote (an auth.log).
    pub log: PathBuf,
    key: PathBuf,
}

impl Sftpd {
    pub const SSHD: &'static str = "/usr/sbin/sshd";
    pub const SFTP: &'static str = "/usr/bin/sftp";
    pub const KEYGEN: &'static str = "/usr/bin/ssh-keygen";

    /// `/home/alice` holds `files` (name, contents).
    pub fn start(files: &[(&str, &str)]) -> Sftpd {
        for bin in [
            Self::SSHD,
            Self::SFTP,
            Self::KEYGEN,
            PYTHON,
            "/usr/bin/unshare",
        ] {
            require_binary(bin);
        }
        let dir = TempDir::new("sshd");
        for key in ["hostkey", "userkey"] {
            let out = Command::new(Self::KEYGEN)
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(dir.join(key))
                .output()
                .expect("run ssh-keygen");
            assert!(out.status.success(), "ssh-keygen: {out:?}");
        }
        let log = dir.join("auth.log");
        std::fs::create_dir_all(dir.join("dev")).unwrap();
        let script = dir.write("syslogd.py", SYSLOGD);
        let mut cmd = Command::new(PYTHON);
        cmd.arg(&script).arg(dir.join("dev/log")).arg(&log);
        let mut syslogd = Proc::spawn("syslogd.py", cmd, dir.join("syslogd.out"));
        syslogd.wait_ready(START_TIMEOUT, || dir.join("dev/log").exists());
        let port = free_port();
        let config = dir.write(
            "sshd_config",
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\n\
                 AuthorizedKeysFile {}\nPermitRootLogin prohibit-password\nStrictModes no\n\
                 UsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 SyslogFacility AUTH\nLogLevel INFO\nSubsystem sftp internal-sftp -l INFO\n",
                dir.join("hostkey").display(),
                dir.join("sshd.pid").display(),
                dir.join("userkey.pub").display()
            ),
        );
        let mut home = String::from("mkdir -p /home/alice\n");
        for (name, text) in files {
            home += &format!("printf '%s' '{text}' > /home/alice/{name}\n");
        }
        // /dev inside: the devices sshd opens, and the receiver's socket as /dev/log.
        let d = dir.join("dev").display().to_string();
        let run = dir.write(
            "run.sh",
            format!(
                "set -e\nfor n in null zero random urandom; do touch {d}/$n; \
                 mount --bind /dev/$n {d}/$n; done\nmount --rbind {d} /dev\n\
                 mount -t tmpfs tmpfs /run\nmkdir -p /run/sshd\nmount -t tmpfs tmpfs /home\n\
                 {home}exec {} -D -f {}\n",
                Self::SSHD,
                config.display()
            ),
        );
        let mut cmd = Command::new("/usr/bin/unshare");
        cmd.args(["--mount", "--propagation", "private", "sh"])
            .arg(&run);
        let mut sshd = Proc::spawn("sshd", cmd, dir.join("sshd.out"));
        sshd.wait_ready(START_TIMEOUT, || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        let key = dir.join("userkey");
        Sftpd {
            _syslogd: syslogd,
            _sshd: sshd,
            port,
            dir,
            log,
            key,
        }
    }

    /// One sftp session as the current user running `commands` (sftp's batch mode).
    pub fn session(&self, commands: &str) {
        let batch = self.dir.write("batch", commands);
        let out = Command::new(Self::SFTP)
            .args(["-q", "-b"])
            .arg(&batch)
            .arg("-i")
            .arg(&self.key)
            .args(["-P", &self.port.to_string()])
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
            ])
            .arg(format!("{}@127.0.0.1", whoami()))
            .output()
            .expect("run sftp");
        assert!(out.status.success(), "sftp {commands:?}: {out:?}");
    }
}

fn whoami() -> String {
    let out = Command::new("id").arg("-un").output().expect("run id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
