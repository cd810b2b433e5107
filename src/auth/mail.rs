//! Outgoing mail. Without `SMTP_URL` (development, tests) every message is written to
//! `MAIL_OUTBOX_DIR` as a file and its recipient logged; the token itself is never logged.

use std::path::PathBuf;

/// A message to send.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

#[derive(Debug, Clone)]
pub struct Mailer {
    outbox: PathBuf,
}

impl Mailer {
    pub fn outbox(dir: impl Into<PathBuf>) -> Self {
        Self { outbox: dir.into() }
    }

    /// Delivers `mail`.
    ///
    /// # Errors
    /// The outbox directory cannot be written.
    pub async fn send(&self, mail: &Mail) -> std::io::Result<()> {
        tokio::fs::create_dir_all(&self.outbox).await?;
        let safe: String =
            mail.to.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '@' { c } else { '_' }).collect();
        let name =
            format!("{}-{}-{safe}.eml", chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f"), uuid::Uuid::new_v4().simple());
        let text = format!("To: {}\nSubject: {}\n\n{}\n", mail.to, mail.subject, mail.body);
        tokio::fs::write(self.outbox.join(&name), text).await?;
        tracing::info!(to = %mail.to, subject = %mail.subject, file = %name, "mail written to the outbox");
        Ok(())
    }
}
