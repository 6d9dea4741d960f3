//! The verification mail of data-subject requests, sent over SMTP with
//! `lettre` when `CLIENTELE_SMTP_URL` is set.
//!
//! The message is plain text in the controller's name (`CLIENTELE_MAIL_FROM`),
//! from a template (`CLIENTELE_MAIL_TEMPLATE_FILE`, else
//! [`DEFAULT_TEMPLATE`]). It carries the link and the request type, nothing
//! else the service holds about the person.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::{SmtpTransport, Transport};

/// The default template: a `Subject:` line, a blank line, then the body.
/// Placeholders: `{controller}`, `{request_type}`, `{link}`, `{expires_at}`.
pub const DEFAULT_TEMPLATE: &str = include_str!("verification_mail.txt");

/// Why a configuration of the mailer cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MailConfigError(pub String);

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    subject: String,
    body: String,
}

impl Template {
    /// Parses `Subject: ...`, a blank line, the body; every placeholder but
    /// `{link}` is optional, `{link}` is required.
    pub fn parse(text: &str) -> Result<Self, MailConfigError> {
        let text = text.replace("\r\n", "\n");
        let (head, body) = text.split_once("\n\n").ok_or_else(|| {
            MailConfigError("the mail template needs a `Subject:` line, a blank line, then the body".into())
        })?;
        let subject = head
            .strip_prefix("Subject:")
            .map(str::trim)
            .filter(|s| !s.is_empty() && !s.contains('\n'))
            .ok_or_else(|| MailConfigError("the mail template must start with one `Subject:` line".into()))?;
        if !body.contains("{link}") {
            return Err(MailConfigError("the mail template's body must contain {link}".into()));
        }
        Ok(Template { subject: subject.to_owned(), body: body.to_owned() })
    }

    /// The subject and body with the placeholders filled.
    pub fn render(&self, vars: &[(&str, &str)]) -> (String, String) {
        let fill = |s: &str| vars.iter().fold(s.to_owned(), |acc, (k, v)| acc.replace(&format!("{{{k}}}"), v));
        (fill(&self.subject), fill(&self.body))
    }
}

/// The SMTP transport, the sender and the template, built once at startup.
pub struct Mailer {
    transport: SmtpTransport,
    from: Mailbox,
    template: Template,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold credentials: never printed.
        f.debug_struct("Mailer").field("from", &self.from.email.to_string()).finish_non_exhaustive()
    }
}

/// What a failed send tells (never the server's text, which may quote the address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// Worth retrying (a 4xx answer, a connection or TLS failure).
    Transient,
    /// The server refused for good (a 5xx answer).
    Permanent,
}

impl Mailer {
    /// `url`: `smtp://host:port` (plain), `smtp://host:port?tls=required`
    /// (STARTTLS), `smtps://host:port` (TLS), with optional `user:password@`.
    pub fn new(url: &str, from: &str, template: Template) -> Result<Self, MailConfigError> {
        let transport = SmtpTransport::from_url(url)
            .map_err(|_| MailConfigError("CLIENTELE_SMTP_URL is not a valid smtp:// or smtps:// URL".into()))?
            .timeout(Some(Duration::from_secs(10)))
            .build();
        let from: Mailbox = from.parse().map_err(|_| {
            MailConfigError("CLIENTELE_MAIL_FROM must be an address, e.g. `Acme <privacy@acme.example>`".into())
        })?;
        Ok(Mailer { transport, from, template })
    }

    /// The mailer of a checked configuration.
    pub fn from_config(cfg: &crate::config::MailConfig) -> Result<Self, MailConfigError> {
        use secrecy::ExposeSecret;
        Mailer::new(cfg.url.expose_secret(), &cfg.from, Template::parse(&cfg.template)?)
    }

    /// The controller's name as the template's `{controller}`: the display
    /// name of the sender, or its address.
    pub fn controller(&self) -> String {
        self.from.name.clone().unwrap_or_else(|| self.from.email.to_string())
    }

    /// Sends the verification message to `to` (blocking: call it off the async workers).
    pub fn send_verification(
        &self,
        to: &str,
        request_type: &str,
        link: &str,
        expires_at: &str,
    ) -> Result<(), SendError> {
        let to: Mailbox = to.parse().map_err(|_| SendError::Permanent)?;
        let controller = self.controller();
        let (subject, body) = self.template.render(&[
            ("controller", &controller),
            ("request_type", request_type),
            ("link", link),
            ("expires_at", expires_at),
        ]);
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|_| SendError::Permanent)?;
        self.transport
            .send(&message)
            .map(|_| ())
            .map_err(|e| if e.is_permanent() { SendError::Permanent } else { SendError::Transient })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_template_parses_and_fills_every_placeholder() {
        let t = Template::parse(DEFAULT_TEMPLATE).unwrap();
        let (subject, body) = t.render(&[
            ("controller", "Acme"),
            ("request_type", "erasure"),
            ("link", "https://x/l"),
            ("expires_at", "then"),
        ]);
        assert!(subject.contains("Acme"), "{subject}");
        assert!(body.contains("https://x/l") && body.contains("erasure") && body.contains("then"), "{body}");
        assert!(!body.contains('{') && !subject.contains('{'), "{subject}\n{body}");
    }

    #[test]
    fn a_template_without_subject_or_link_is_refused() {
        assert!(Template::parse("Hello {link}").is_err());
        assert!(Template::parse("Subject: x\n\nno link here").is_err());
        assert!(Template::parse("Subject: \n\n{link}").is_err());
        assert!(Template::parse("Subject: ok\r\n\r\nclick {link}").is_ok());
    }
}
