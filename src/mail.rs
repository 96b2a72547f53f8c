//! Email over SMTP (lettre): the `TESSERA_SMTP_*` settings, checked once at start, and
//! sending one message under a deadline, so a slow or absent mail server is an error the
//! caller can show, never a hung request.
use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use url::Url;

use crate::secrets::SecretString;

/// Where reset emails go out: the mail server's URL (credentials included, so it is kept
/// out of `Debug` and logs), the From address, and the longest one message may take.
#[derive(Clone)]
pub struct SmtpSettings {
    url: SecretString,
    /// The URL with any password replaced, for messages and logs.
    shown: String,
    from: Mailbox,
    pub timeout: Duration,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("url", &self.shown)
            .field("from", &self.from.to_string())
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Which of the two settings is wrong, and why.
#[derive(Debug, PartialEq, Eq)]
pub enum SettingsError {
    Url(String),
    From(String),
}

impl SmtpSettings {
    /// `url`: `smtp://host[:port]` (plain, port 25), `smtp://host[:port]?tls=required`
    /// (STARTTLS, port 587), `smtps://host[:port]` (TLS from the first byte, port 465),
    /// each with optional `user:password@`. `from`: `noreply@example.com` or
    /// `Example <noreply@example.com>`.
    pub fn parse(url: &str, from: &str, timeout: Duration) -> Result<Self, SettingsError> {
        let shown = crate::secrets::redact_url(url);
        let bad = |reason: String| SettingsError::Url(reason);
        let parsed = Url::parse(url).map_err(|_| {
            bad(format!(
                "expected smtp://HOST[:PORT] or smtps://USER:PASSWORD@HOST[:PORT], got '{shown}'"
            ))
        })?;
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad(format!("the mail server URL needs a host, got '{shown}'")))?;
        let tls: Vec<String> = parsed
            .query_pairs()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let encrypted = match (parsed.scheme(), tls.as_slice()) {
            ("smtps", []) => true,
            ("smtp", []) => false,
            ("smtp", [t]) if t == "tls=required" => true,
            ("smtp", [t]) if t == "tls=opportunistic" => false,
            ("smtp" | "smtps", _) => {
                return Err(bad(format!(
                    "the only query smtp:// takes is ?tls=required (or ?tls=opportunistic), got '{shown}'"
                )));
            }
            (scheme, _) => {
                return Err(bad(format!(
                    "expected an smtp:// or smtps:// URL, got a {scheme}: URL"
                )));
            }
        };
        // A password sent where a man in the middle can strip STARTTLS is a password given
        // away; only a relay on this machine may take one in clear.
        let loopback = host == "localhost"
            || host
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if parsed.password().is_some() && !encrypted && !loopback {
            return Err(bad(format!(
                "credentials would cross the network unencrypted: use smtps:// or ?tls=required ('{shown}')"
            )));
        }
        if parsed.path().len() > 1 {
            return Err(bad(format!(
                "the mail server URL takes no path, got '{shown}'"
            )));
        }
        // lettre reads the URL itself; building a transport here refuses at start what it
        // would refuse at the first email.
        AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| bad(format!("{e} ('{shown}')")))?;
        let from = from
            .trim()
            .parse::<Mailbox>()
            .map_err(|_| {
                SettingsError::From(format!(
                    "expected an address such as noreply@example.com or 'Tessera <noreply@example.com>', got '{from}'"
                ))
            })?;
        Ok(Self {
            url: SecretString::new(url),
            shown,
            from,
            timeout,
        })
    }

    /// The server's URL without its password.
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

/// Why a message did not go out. The text names the server's answer or the network
/// failure, never the message itself (it holds a reset link).
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("'{0}' is not an address mail can be sent to")]
    Address(String),
    #[error("the mail server did not answer in time ({0} s)")]
    Timeout(u64),
    #[error("the mail server refused or failed: {0}")]
    Smtp(String),
    #[error("the message could not be built: {0}")]
    Build(String),
}

/// One plain-text message from the configured sender.
pub fn message(
    settings: &SmtpSettings,
    to_name: Option<&str>,
    to_address: &str,
    subject: &str,
    body: String,
) -> Result<Message, MailError> {
    let address = to_address
        .parse()
        .map_err(|_| MailError::Address(to_address.chars().take(100).collect()))?;
    // lettre encodes the display name (RFC 2047); control characters go first anyway, so
    // nothing stored in a name can end the header.
    let to = Mailbox::new(to_name.map(without_controls), address);
    Message::builder()
        .from(settings.from.clone())
        .to(to)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| MailError::Build(e.to_string()))
}

/// `s` with control characters (CR, LF, ...) replaced by spaces.
pub fn without_controls(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Send one message, giving up after the configured timeout (connecting, TLS, every answer:
/// the whole exchange).
pub async fn send(settings: &SmtpSettings, message: Message) -> Result<(), MailError> {
    // The whole exchange is held to the timeout below; lettre's own per-step timeout is a
    // second longer, so a silent server reads as a timeout however far it got.
    let transport: AsyncSmtpTransport<Tokio1Executor> =
        AsyncSmtpTransport::<Tokio1Executor>::from_url(settings.url.expose())
            .map_err(|e| MailError::Smtp(e.to_string()))?
            .timeout(Some(settings.timeout + Duration::from_secs(1)))
            .build();
    match tokio::time::timeout(settings.timeout, transport.send(message)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) if e.is_timeout() => Err(MailError::Timeout(settings.timeout.as_secs())),
        Ok(Err(e)) => Err(MailError::Smtp(e.to_string())),
        Err(_) => Err(MailError::Timeout(settings.timeout.as_secs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FROM: &str = "Tessera <noreply@example.com>";

    fn parse(url: &str) -> Result<SmtpSettings, SettingsError> {
        SmtpSettings::parse(url, FROM, Duration::from_secs(5))
    }

    #[test]
    fn the_accepted_urls() {
        for url in [
            "smtp://127.0.0.1:2525",
            "smtp://mail.example.com",
            "smtp://user:pw@mail.example.com:587?tls=required",
            "smtps://user:pw@mail.example.com",
            "smtp://user:pw@localhost:25",
        ] {
            assert!(parse(url).is_ok(), "{url}: {:?}", parse(url).err());
        }
    }

    #[test]
    fn refused_urls_say_why_without_the_password() {
        for (url, words) in [
            ("http://mail.example.com", "smtp://"),
            ("smtp://", "host"),
            ("not a url", "expected smtp://"),
            ("smtp://u:hunter2@mail.example.com", "unencrypted"),
            (
                "smtp://u:hunter2@mail.example.com?tls=opportunistic",
                "unencrypted",
            ),
            ("smtp://mail.example.com?tls=maybe", "?tls=required"),
            ("smtp://mail.example.com/x", "no path"),
        ] {
            match parse(url) {
                Err(SettingsError::Url(reason)) => {
                    assert!(reason.contains(words), "{url}: {reason}");
                    assert!(!reason.contains("hunter2"), "{reason}");
                }
                other => panic!("{url}: {other:?}"),
            }
        }
        assert!(matches!(
            SmtpSettings::parse("smtp://127.0.0.1", "nobody", Duration::from_secs(1)),
            Err(SettingsError::From(_))
        ));
    }

    #[test]
    fn debug_hides_the_password() {
        let s = parse("smtps://user:hunter2@mail.example.com").unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("mail.example.com"), "{shown}");
    }

    #[test]
    fn a_name_cannot_add_headers() {
        let s = parse("smtp://127.0.0.1").unwrap();
        let m = message(
            &s,
            Some("Alice\r\nBcc: evil@example.org"),
            "alice@example.com",
            "Hello",
            "Body\r\n".into(),
        )
        .unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        let head = raw.split("\r\n\r\n").next().unwrap();
        assert!(
            !head
                .lines()
                .any(|l| l.to_ascii_lowercase().starts_with("bcc:")),
            "{head}"
        );
        assert_eq!(m.envelope().to().len(), 1);
        assert!(
            message(
                &s,
                None,
                "alice@example.com\r\nBcc: x@y.z",
                "Hi",
                "B".into()
            )
            .is_err()
        );
    }
}
