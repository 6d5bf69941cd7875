//! The real servers the adapter reads, one file each, all started the same way: a config
//! written to a [`TempDir`](super::TempDir), the server run in the foreground as a
//! [`Proc`](super::Proc) on a free port of 127.0.0.1, `start` returning once it answers
//! (or panicking with its log). A missing server panics naming its Debian package.
//! [`Hanging`] is the one fake: a listener that never answers.

mod apache;
mod hanging;
mod haproxy;
mod lighttpd;
mod mariadb;
mod memcached;
mod nginx;
mod php_fpm;
mod redis;
mod rsyncd;
mod sshd;
mod vsftpd;

pub use apache::*;
pub use hanging::*;
pub use haproxy::*;
pub use lighttpd::*;
pub use mariadb::*;
pub use memcached::*;
pub use nginx::*;
pub use php_fpm::*;
pub use redis::*;
pub use rsyncd::*;
pub use sshd::*;
pub use vsftpd::*;
