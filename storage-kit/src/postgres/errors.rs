//! PostgreSQL errors in words: what went wrong and what to check, for the messages that stop a
//! service at start-up. The server's own source position ("at line 948") and error numbers are
//! left out; SQLSTATE codes pick the advice.

use super::PgSettings;
use sqlx::postgres::PgConnectOptions;
use std::io::ErrorKind;

/// `error`, met while talking to the server of `options`, in one line with what to check.
pub(super) fn describe(
    error: &sqlx::Error,
    options: &PgConnectOptions,
    settings: &PgSettings,
) -> String {
    let at = format!("{}:{}", options.get_host(), options.get_port());
    match error {
        sqlx::Error::Io(e) => io(e, &at, options.get_host()),
        sqlx::Error::Database(db) => {
            database(db.message(), db.code().as_deref(), options.get_database())
        }
        sqlx::Error::Tls(e) => {
            format!("TLS with {at} failed ({e}); check `sslmode` in DATABASE_URL")
        }
        sqlx::Error::Protocol(e) => format!(
            "{at} does not answer like PostgreSQL ({}); check the port in DATABASE_URL",
            without_line(e)
        ),
        sqlx::Error::PoolTimedOut => format!(
            "no connection to {at} became free within {} ms (DATABASE_ACQUIRE_TIMEOUT_MS); \
             check that the server accepts more connections",
            settings.acquire_timeout.as_millis()
        ),
        sqlx::Error::Configuration(e) => format!("DATABASE_URL: {}", without_line(&e.to_string())),
        other => without_line(&other.to_string()),
    }
}

fn io(error: &std::io::Error, at: &str, host: &str) -> String {
    match error.kind() {
        ErrorKind::ConnectionRefused => format!(
            "connection refused at {at}: is PostgreSQL running there? Check the host and port \
             in DATABASE_URL"
        ),
        ErrorKind::TimedOut => format!(
            "no answer from {at}: check the host and port in DATABASE_URL and that no firewall \
             drops the connection"
        ),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::UnexpectedEof => {
            format!("{at} closed the connection: check that this port is PostgreSQL's")
        }
        ErrorKind::NetworkUnreachable | ErrorKind::HostUnreachable => {
            format!("{at} cannot be reached from here: check the host in DATABASE_URL")
        }
        _ if error.to_string().contains("lookup address") => {
            format!("the host name {host:?} cannot be resolved: check the host in DATABASE_URL")
        }
        _ => {
            let text = error.to_string();
            let words = text.split(" (os error").next().unwrap_or_default();
            format!("{words} at {at}: check the host and port in DATABASE_URL")
        }
    }
}

/// An error the server answered with, and the advice its SQLSTATE calls for.
fn database(message: &str, code: Option<&str>, database: Option<&str>) -> String {
    let message = without_line(message);
    let advice = match code.unwrap_or_default() {
        "28P01" => "check the user and password in DATABASE_URL".to_owned(),
        "28000" => "check the user in DATABASE_URL and the server's pg_hba.conf".to_owned(),
        "3D000" => format!(
            "create it (`createdb {}`) or fix the database name in DATABASE_URL",
            database.unwrap_or("<name>")
        ),
        "42501" => "grant the user of DATABASE_URL the right to create tables in it".to_owned(),
        "53300" => {
            "lower DATABASE_MAX_CONNECTIONS or raise the server's max_connections".to_owned()
        }
        "57P03" => "the server is starting or stopping; try again shortly".to_owned(),
        "57014" => "a statement ran longer than DATABASE_STATEMENT_TIMEOUT_MS".to_owned(),
        "" => return message,
        other => return format!("{message} (SQLSTATE {other})"),
    };
    format!("{message}: {advice}")
}

/// `text` without the trailing " at line N" that names a line of PostgreSQL's own source.
pub(super) fn without_line(text: &str) -> String {
    match text.rsplit_once(" at line ") {
        Some((head, line)) if !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()) => {
            head.to_owned()
        }
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postgres::{DatabaseArgs, connect};
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn settings(url: &str) -> PgSettings {
        DatabaseArgs {
            database_url: Some(url.to_owned()),
            ..DatabaseArgs::default()
        }
        .settings()
        .expect("settings")
    }

    async fn connect_error(url: &str) -> String {
        let migrator = sqlx::migrate::Migrator::DEFAULT;
        let error = connect(&settings(url), "test", migrator)
            .await
            .expect_err("refused");
        format!("{error:#}")
    }

    #[test]
    fn the_server_source_line_is_left_out() {
        assert_eq!(
            without_line("database \"x\" does not exist at line 948"),
            "database \"x\" does not exist"
        );
        assert_eq!(without_line("a line at line ten"), "a line at line ten");
    }

    #[tokio::test]
    async fn an_unreachable_server_is_refused_at_once_with_its_address() {
        let started = Instant::now();
        let text = connect_error("postgres://app:pw@127.0.0.1:1/db").await;
        assert!(text.contains("connection refused at 127.0.0.1:1"), "{text}");
        assert!(!text.contains("pool timed out"), "{text}");
        assert!(!text.contains("pw"), "no password: {text}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "took {:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn a_url_of_another_database_is_refused_before_any_lookup() {
        let text = connect_error("mysql://app:pw@nowhere.invalid/db").await;
        assert!(text.contains("must be a PostgreSQL URL"), "{text}");
        assert!(
            text.contains("postgres://user:password@host:5432/database"),
            "{text}"
        );
        assert!(!text.contains("pw@"), "no password: {text}");
    }

    /// A server that answers every connection with a FATAL error, as PostgreSQL does for a
    /// database that does not exist, source line included.
    async fn refusing_server(code: &str, message: &str) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let mut body = Vec::new();
        for (field, value) in [
            (b'S', "FATAL"),
            (b'C', code),
            (b'M', message),
            (b'L', "948"),
        ] {
            body.push(field);
            body.extend_from_slice(value.as_bytes());
            body.push(0);
        }
        body.push(0);
        let mut reply = vec![b'E'];
        reply.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        reply.extend_from_slice(&body);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let reply = reply.clone();
                tokio::spawn(async move {
                    loop {
                        let Ok(len) = socket.read_u32().await else {
                            return;
                        };
                        let mut rest = vec![0; (len as usize).saturating_sub(4)];
                        if socket.read_exact(&mut rest).await.is_err() {
                            return;
                        }
                        if rest.starts_with(&80_877_103u32.to_be_bytes()) {
                            let _ = socket.write_all(b"N").await; // no TLS
                            continue;
                        }
                        let _ = socket.write_all(&reply).await;
                        return;
                    }
                });
            }
        });
        port
    }

    #[tokio::test]
    async fn a_missing_database_says_how_to_create_it_without_the_server_source_line() {
        let port = refusing_server("3D000", "database \"shop\" does not exist").await;
        let text = connect_error(&format!("postgres://app@127.0.0.1:{port}/shop")).await;
        assert!(
            text.contains("database \"shop\" does not exist: create it (`createdb shop`)"),
            "{text}"
        );
        assert!(!text.contains("at line"), "{text}");
    }

    #[tokio::test]
    async fn a_wrong_password_says_what_to_check() {
        let port =
            refusing_server("28P01", "password authentication failed for user \"app\"").await;
        let text = connect_error(&format!("postgres://app:nope@127.0.0.1:{port}/shop")).await;
        assert!(
            text.contains("check the user and password in DATABASE_URL"),
            "{text}"
        );
        assert!(!text.contains("nope"), "no password: {text}");
    }
}
