//! PostgreSQL connection strings as Neon writes them: parsed, checked, redacted for logs.

use std::{fmt, str::FromStr};

use sqlx::postgres::{PgConnectOptions, PgSslMode};
use url::Url;

use crate::secret::Secret;

/// A checked PostgreSQL URL. Its `Display` is the redacted form, safe to log.
#[derive(Clone)]
pub struct DatabaseUrl {
    url: Secret<Url>,
    options: PgConnectOptions,
    redacted: String,
    /// `channel_binding=require` was asked for; certificate verification stands in for it.
    pub channel_binding_upgraded: bool,
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl DatabaseUrl {
    /// Parses a URL; the error is a sentence to follow the variable's name, and never
    /// contains the URL's password.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let scheme = raw.split_once(':').map(|(s, _)| s).unwrap_or_default();
        let scheme_ok =
            scheme.eq_ignore_ascii_case("postgres") || scheme.eq_ignore_ascii_case("postgresql");
        if !scheme_ok || !raw[scheme.len()..].starts_with("://") {
            return Err(wrong_scheme(scheme));
        }
        let url = Url::parse(raw).map_err(|e| {
            format!("is not a valid URL ({e}): expected postgresql://user:password@host/database")
        })?;
        let password = url.password().map(str::to_owned);
        let scrub = |message: String| match &password {
            Some(p) if !p.is_empty() => message.replace(p.as_str(), "***"),
            _ => message,
        };
        let has_socket_host = url.query_pairs().any(|(k, _)| k == "host");
        if url.host_str().is_none_or(str::is_empty) && !has_socket_host {
            return Err("has no host: expected postgresql://user:password@host/database".into());
        }
        const SSL_MODES: [&str; 6] = [
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca",
            "verify-full",
        ];
        if let Some((_, mode)) = url.query_pairs().find(|(k, _)| k == "sslmode")
            && !SSL_MODES.contains(&mode.as_ref())
        {
            return Err(format!(
                "has an unknown sslmode: use one of {} (Neon needs require or verify-full)",
                SSL_MODES.join(", ")
            ));
        }
        let mut options = PgConnectOptions::from_str(raw).map_err(|e| {
            let reason = e.to_string().replace("error with configuration: ", "");
            scrub(format!("has a setting that cannot be used: {reason}"))
        })?;

        let channel_binding = url
            .query_pairs()
            .find(|(k, _)| k == "channel_binding")
            .map(|(_, v)| v.into_owned());
        let mut channel_binding_upgraded = false;
        match channel_binding.as_deref() {
            None | Some("disable") | Some("prefer") => {}
            Some("require") => {
                if matches!(options.get_ssl_mode(), PgSslMode::Disable) {
                    return Err("asks for channel_binding=require with sslmode=disable: \
                                channel binding needs TLS, so remove sslmode=disable"
                        .into());
                }
                if !matches!(
                    options.get_ssl_mode(),
                    PgSslMode::VerifyFull | PgSslMode::VerifyCa
                ) {
                    options = options.ssl_mode(PgSslMode::VerifyFull);
                }
                channel_binding_upgraded = true;
            }
            Some(_) => {
                return Err(
                    "has an unknown channel_binding value: use require, prefer or disable".into(),
                );
            }
        }
        options = options.application_name("todo-api");
        let redacted = redact(&url);
        Ok(Self {
            url: Secret::new(url),
            options,
            redacted,
            channel_binding_upgraded,
        })
    }

    pub fn connect_options(&self) -> &PgConnectOptions {
        &self.options
    }

    pub fn host(&self) -> &str {
        self.options.get_host()
    }

    pub fn database(&self) -> Option<&str> {
        self.options.get_database()
    }

    /// Neon names its transaction-mode PgBouncer endpoint `<endpoint>-pooler.<region>…`.
    pub fn is_neon_pooler(&self) -> bool {
        self.url
            .expose()
            .host_str()
            .and_then(|h| h.split('.').next())
            .is_some_and(|label| label.ends_with("-pooler"))
    }

    /// The same database through Neon's direct endpoint (the host without `-pooler`),
    /// or `None` when this URL is not a Neon pooler URL.
    pub fn direct_endpoint(&self) -> Option<Self> {
        if !self.is_neon_pooler() {
            return None;
        }
        let mut url = self.url.expose().clone();
        let host = url.host_str()?.to_owned();
        let (first, rest) = host.split_once('.').unwrap_or((host.as_str(), ""));
        let direct = format!("{}.{rest}", first.trim_end_matches("-pooler"));
        url.set_host(Some(direct.trim_end_matches('.'))).ok()?;
        Self::parse(url.as_str()).ok()
    }
}

fn wrong_scheme(scheme: &str) -> String {
    let shown: String = scheme
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '+')
        .take(20)
        .collect();
    let what = if shown.to_ascii_lowercase().starts_with("sqlite") {
        "is a SQLite URL, but todo-api stores its data only in PostgreSQL".to_owned()
    } else if shown.is_empty() {
        "is not a URL".to_owned()
    } else {
        format!("is a `{shown}://` URL, but todo-api stores its data only in PostgreSQL")
    };
    format!(
        "{what}: set it to a postgres:// or postgresql:// URL, e.g. your Neon connection string"
    )
}

/// The URL with its password (and any password-like query parameter) replaced by `***`.
pub fn redact(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        // Only fails for URLs that cannot have a password, which this one has.
        let _ = shown.set_password(Some("***"));
    }
    let secret_keys = ["password", "sslpassword"];
    if url
        .query_pairs()
        .any(|(k, _)| secret_keys.contains(&k.as_ref()))
    {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret_keys.contains(&k.as_ref()) {
                    "***".to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        shown.query_pairs_mut().clear().extend_pairs(pairs);
    }
    shown.to_string().replace("%2A%2A%2A", "***")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const NEON: &str = "postgresql://neondb_owner:npg_s3cr3t@ep-cool-tree-a1b2c3-pooler.eu-central-1.aws.neon.tech/neondb?sslmode=require&channel_binding=require";

    #[test]
    fn neon_urls_parse_and_redact() {
        let url = DatabaseUrl::parse(NEON).unwrap();
        let shown = url.to_string();
        assert!(!shown.contains("npg_s3cr3t"), "{shown}");
        assert!(shown.starts_with("postgresql://neondb_owner:***@ep-cool-tree-a1b2c3-pooler."));
        assert!(shown.contains("sslmode=require"));
        assert!(!format!("{url:?}").contains("npg_s3cr3t"));
    }

    #[test]
    fn channel_binding_require_upgrades_to_verify_full() {
        let url = DatabaseUrl::parse(NEON).unwrap();
        assert!(url.channel_binding_upgraded);
        assert!(matches!(
            url.connect_options().get_ssl_mode(),
            PgSslMode::VerifyFull
        ));
        let plain = DatabaseUrl::parse("postgres://u:p@h/db?sslmode=require").unwrap();
        assert!(!plain.channel_binding_upgraded);
        assert!(matches!(
            plain.connect_options().get_ssl_mode(),
            PgSslMode::Require
        ));
    }

    #[test]
    fn the_pooler_host_has_a_direct_endpoint() {
        let url = DatabaseUrl::parse(NEON).unwrap();
        assert!(url.is_neon_pooler());
        let direct = url.direct_endpoint().unwrap();
        assert_eq!(
            direct.host(),
            "ep-cool-tree-a1b2c3.eu-central-1.aws.neon.tech"
        );
        assert!(!direct.is_neon_pooler());
        let local = DatabaseUrl::parse("postgres://postgres@127.0.0.1:5432/test").unwrap();
        assert!(local.direct_endpoint().is_none());
    }

    #[test]
    fn non_postgres_urls_are_refused_by_name() {
        let err = DatabaseUrl::parse("sqlite:///./todo_app.db").err().unwrap();
        assert!(err.contains("SQLite"), "{err}");
        let err = DatabaseUrl::parse("mysql://root:pw@localhost/db")
            .err()
            .unwrap();
        assert!(err.contains("mysql://") && !err.contains("pw"), "{err}");
        assert!(DatabaseUrl::parse("not a url").is_err());
        assert!(DatabaseUrl::parse("postgres://").is_err());
    }

    #[test]
    fn errors_never_contain_the_password() {
        for raw in [
            "postgres://user:topsecret@host/db?sslmode=sometimes",
            "postgres://user:topsecret@host/db?channel_binding=maybe",
            "postgres://user:topsecret@host:notaport/db",
        ] {
            let err = DatabaseUrl::parse(raw).err().unwrap();
            assert!(!err.contains("topsecret"), "{err}");
        }
    }

    #[test]
    fn password_query_parameters_are_redacted() {
        let url =
            DatabaseUrl::parse("postgres://u@h/db?password=topsecret&sslmode=prefer").unwrap();
        assert!(!url.to_string().contains("topsecret"), "{url}");
    }
}
