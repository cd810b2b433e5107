//! Outgoing mail. With `SMTP_URL` set every message goes to that server (lettre; `smtp://` plain,
//! `smtps://` or `?tls=required` encrypted). Without it (development) the message is written to
//! `MAIL_OUTBOX_DIR` as a file and its recipient logged; the token itself is never logged.

use std::path::PathBuf;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Body, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// A message to send: plain text, and optionally HTML with inline images.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    /// The plain-text part (every mail has one).
    pub body: String,
    pub html: Option<String>,
    /// Images the HTML shows as `cid:{content_id}`.
    pub images: Vec<InlineImage>,
}

/// A PNG shown inside an HTML mail.
#[derive(Debug, Clone)]
pub struct InlineImage {
    pub content_id: String,
    pub png: Vec<u8>,
}

impl Mail {
    /// A plain-text message.
    pub fn text(to: impl Into<String>, subject: impl Into<String>, body: impl Into<String>) -> Self {
        Self { to: to.into(), subject: subject.into(), body: body.into(), html: None, images: Vec::new() }
    }
}

#[derive(Clone)]
enum Delivery {
    Outbox(PathBuf),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

#[derive(Clone)]
pub struct Mailer {
    delivery: Delivery,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The SMTP URL may carry a password: never print it.
        let kind = match &self.delivery {
            Delivery::Outbox(dir) => format!("outbox {}", dir.display()),
            Delivery::Smtp(_) => "smtp".to_owned(),
        };
        f.debug_struct("Mailer").field("delivery", &kind).field("from", &self.from.to_string()).finish()
    }
}

/// Why a message could not be handed over.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("mail configuration: {0}")]
    Config(String),
    #[error("address: {0}")]
    Address(#[from] lettre::address::AddressError),
    #[error("building the message: {0}")]
    Build(#[from] lettre::error::Error),
    #[error("SMTP: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("outbox: {0}")]
    Outbox(#[from] std::io::Error),
}

impl Mailer {
    /// Mail written to files in `dir`.
    ///
    /// # Errors
    /// `from` is not a mailbox (`Name <a@b>` or `a@b`).
    pub fn outbox(dir: impl Into<PathBuf>, from: &str) -> Result<Self, MailError> {
        Ok(Self { delivery: Delivery::Outbox(dir.into()), from: from.parse()? })
    }

    /// Mail sent to the SMTP server at `url`.
    ///
    /// # Errors
    /// `url` is not an SMTP URL or `from` is not a mailbox.
    pub fn smtp(url: &str, from: &str) -> Result<Self, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailError::Config(format!("SMTP_URL: {e}")))?
            .timeout(Some(std::time::Duration::from_secs(10)))
            .build();
        Ok(Self { delivery: Delivery::Smtp(transport), from: from.parse()? })
    }

    /// Delivers `mail`.
    ///
    /// # Errors
    /// The recipient is not an address, the SMTP server refused or could not be reached, or the outbox
    /// directory cannot be written.
    #[tracing::instrument(skip_all, fields(to = %mail.to))]
    pub async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        match &self.delivery {
            Delivery::Smtp(transport) => {
                let builder = Message::builder().from(self.from.clone()).to(mail.to.parse()?).subject(&mail.subject);
                // lettre picks 7bit or quoted-printable by content (long link lines get soft breaks).
                let text = SinglePart::builder().header(ContentType::TEXT_PLAIN).body(Body::new(mail.body.clone()));
                let message = match &mail.html {
                    None => builder.singlepart(text)?,
                    Some(html) => {
                        let mut related = MultiPart::related().singlepart(SinglePart::html(html.clone()));
                        for image in &mail.images {
                            let png = ContentType::parse("image/png").map_err(|e| MailError::Config(e.to_string()))?;
                            related = related.singlepart(
                                Attachment::new_inline(image.content_id.clone()).body(image.png.clone(), png),
                            );
                        }
                        builder.multipart(MultiPart::alternative().singlepart(text).multipart(related))?
                    }
                };
                transport.send(message).await?;
                tracing::info!(subject = %mail.subject, "mail sent over SMTP");
            }
            Delivery::Outbox(dir) => {
                tokio::fs::create_dir_all(dir).await?;
                let safe: String = mail
                    .to
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '@' { c } else { '_' })
                    .collect();
                let name = format!(
                    "{}-{}-{safe}.eml",
                    chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f"),
                    uuid::Uuid::new_v4().simple()
                );
                let text = format!("To: {}\nSubject: {}\n\n{}\n", mail.to, mail.subject, mail.body);
                tokio::fs::write(dir.join(&name), text).await?;
                if let Some(html) = &mail.html {
                    tokio::fs::write(dir.join(format!("{name}.html")), html).await?;
                }
                tracing::info!(subject = %mail.subject, file = %name, "mail written to the outbox");
            }
        }
        Ok(())
    }
}
