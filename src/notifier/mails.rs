//! The mails' words: a plain-text part and an HTML part for each kind, with the order
//! confirmation's QR codes as inline images. Everything that comes from users (event names,
//! venues) is escaped in the HTML.

use std::fmt::Write as _;

use serde_json::Value;
use uuid::Uuid;

use super::qr;
use crate::auth::mail::{InlineImage, Mail};
use crate::projections::catalogue::CatalogueEntry;
use crate::ticket_codes::TicketSigner;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Confirmation,
    Declined,
    Expired,
    Refund,
    TicketReceived,
    EventCancelled,
}

impl Kind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Confirmation => "confirmation",
            Self::Declined => "declined",
            Self::Expired => "expired",
            Self::Refund => "refund",
            Self::TicketReceived => "ticket_received",
            Self::EventCancelled => "event_cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Confirmation, Self::Declined, Self::Expired, Self::Refund, Self::TicketReceived, Self::EventCancelled]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// What a mail is made from.
pub struct Context<'a> {
    pub kind: Kind,
    pub to: String,
    pub recipient: Uuid,
    pub reservation_id: Uuid,
    pub event: Option<CatalogueEntry>,
    pub data: &'a Value,
    pub public_url: &'a str,
    pub tickets: &'a TicketSigner,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// `1234` → `€12.34`.
pub fn euros(cents: u64) -> String {
    format!("€{}.{:02}", cents / 100, cents % 100)
}

fn decline_words(reason: &str) -> &'static str {
    match reason {
        "card_declined" => "the bank declined the card",
        "insufficient_funds" => "the card has insufficient funds",
        "payment_interrupted" => "the payment was interrupted before it completed",
        _ => "the card was declined",
    }
}

/// The words of one mail: subject, paragraphs, more HTML (the tickets), and inline images.
struct Content {
    subject: String,
    lines: Vec<String>,
    extra_html: String,
    images: Vec<InlineImage>,
}

/// Renders the mail of `context`.
///
/// # Errors
/// A QR code could not be drawn.
pub fn render(context: &Context<'_>) -> Result<Mail, String> {
    let url = context.public_url.trim_end_matches('/');
    let order = format!("{url}/reservations/{}", context.reservation_id);
    let event_page = context.event.as_ref().map_or_else(|| url.to_owned(), |e| format!("{url}/events/{}", e.event_id));
    let Content { subject, lines, extra_html, images } = content(context)?;
    let link = match context.kind {
        Kind::Confirmation | Kind::TicketReceived => format!("{url}/tickets"),
        Kind::Declined | Kind::Expired => event_page,
        Kind::Refund | Kind::EventCancelled => order,
    };
    let mut body = lines.join("\n");
    let _ = write!(body, "\n\n{link}\n");
    let paragraphs =
        lines.iter().filter(|l| !l.is_empty() && !l.starts_with("  ")).fold(String::new(), |mut html, l| {
            let _ = write!(html, "<p>{}</p>", escape(l));
            html
        });
    let html = format!(
        "<!doctype html><html><body style=\"font-family:system-ui,sans-serif;color:#1a1a1a;max-width:600px\">\
         <h1 style=\"font-size:20px\">{}</h1>{paragraphs}{extra_html}\
         <p><a href=\"{}\" style=\"color:#1d4ed8\">{}</a></p></body></html>",
        escape(&subject),
        escape(&link),
        escape(&link)
    );
    Ok(Mail { to: context.to.clone(), subject, body, html: Some(html), images })
}

/// What each kind of mail says.
fn content(context: &Context<'_>) -> Result<Content, String> {
    let (name, when, venue) = match &context.event {
        Some(e) => (
            e.name.clone(),
            e.starts_at.format("%a %-d %b %Y, %H:%M UTC").to_string(),
            [Some(e.venue_name.as_str()), e.venue_city.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(", "),
        ),
        None => ("your event".to_owned(), String::new(), String::new()),
    };
    let when_where =
        [when.as_str(), venue.as_str()].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" · ");
    let (subject, lines, extra_html): (String, Vec<String>, String) = match context.kind {
        Kind::Confirmation => return confirmation(context, &name, &when_where),
        Kind::Declined => {
            let reason = decline_words(context.data["reason"].as_str().unwrap_or_default());
            (
                format!("Your payment for {name} did not go through"),
                vec![
                    format!("Your payment for {name} was not taken: {reason}."),
                    "The seats you held were released and you have not been charged. You can try again with \
                     another card while seats are left."
                        .to_owned(),
                ],
                String::new(),
            )
        }
        Kind::Expired => (
            format!("Your hold on seats for {name} has ended"),
            vec![
                format!(
                    "The seats you held for {name} were not paid for within the time allowed, so they were released."
                ),
                "You have not been charged. You are welcome to try again while seats are left.".to_owned(),
            ],
            String::new(),
        ),
        Kind::Refund => {
            let amount = euros(context.data["amount_cents"].as_u64().unwrap_or(0));
            (
                format!("{amount} refunded for {name}"),
                vec![
                    format!("We refunded {amount} of your order for {name}."),
                    "It goes back to the card you paid with and usually shows within 5 to 10 days.".to_owned(),
                ],
                String::new(),
            )
        }
        Kind::TicketReceived => (
            format!("You received a ticket for {name}"),
            vec![
                format!("Someone gave you a ticket for {name}."),
                when_where.clone(),
                format!(
                    "Sign in with this address to see it and its QR code: {}/tickets",
                    context.public_url.trim_end_matches('/')
                ),
            ],
            String::new(),
        ),
        Kind::EventCancelled => {
            let paid = context.data["paid"].as_bool().unwrap_or(false);
            let what = if paid {
                "Your order is refunded in full; a separate message confirms the refund."
            } else {
                "The seats you held were released; you have not been charged."
            };
            (
                format!("{name} is cancelled"),
                vec![format!("We are sorry: the organiser has cancelled {name}."), what.to_owned()],
                String::new(),
            )
        }
    };
    Ok(Content { subject, lines, extra_html, images: Vec::new() })
}

/// The order confirmation: every ticket with its code, and its QR code as an inline image.
fn confirmation(context: &Context<'_>, name: &str, when_where: &str) -> Result<Content, String> {
    let amount = context.data["amount_cents"].as_u64().unwrap_or(0);
    let tickets = context.data["tickets"].as_array().cloned().unwrap_or_default();
    let mut lines = vec![
        format!("Thank you! Your order for {name} is confirmed: {} ticket(s), {} paid.", tickets.len(), euros(amount)),
        when_where.to_owned(),
        String::new(),
        "Show a ticket's QR code at the door (it is also on your tickets page). A ticket given to someone \
         else gets a new code; the old one stops working."
            .to_owned(),
    ];
    let mut images = Vec::new();
    let mut html = String::from("<table role=\"presentation\" cellpadding=\"8\">");
    let event_id = context.event.as_ref().map(|e| e.event_id).unwrap_or_default();
    for (n, ticket) in tickets.iter().enumerate() {
        let ticket_id: Uuid = ticket["ticket_id"].as_str().and_then(|t| t.parse().ok()).unwrap_or_default();
        let seat = ticket["seat"].as_str();
        let code = context.tickets.sign(ticket_id, event_id, context.recipient, seat);
        let seat_words = seat.map_or_else(|| "General admission".to_owned(), |s| format!("Seat {s}"));
        lines.push(format!("  {seat_words}: ticket {ticket_id}, code {code}"));
        let cid = format!("ticket-{n}@ticketing");
        images.push(InlineImage { content_id: cid.clone(), png: qr::png(&code)? });
        let _ = write!(
            html,
            "<tr><td><img src=\"cid:{cid}\" width=\"180\" height=\"180\" alt=\"QR code of the ticket for {}\"></td>\
             <td><strong>{}</strong><br><small>Ticket {ticket_id}</small></td></tr>",
            escape(&seat_words),
            escape(&seat_words)
        );
    }
    html.push_str("</table>");
    Ok(Content { subject: format!("Your tickets for {name}"), lines, extra_html: html, images })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_markup() {
        assert_eq!(euros(0), "€0.00");
        assert_eq!(euros(123_456), "€1234.56");
        assert_eq!(escape("<b>\"Rock\" & 'Roll'</b>"), "&lt;b&gt;&quot;Rock&quot; &amp; &#39;Roll&#39;&lt;/b&gt;");
        assert_eq!(Kind::parse("ticket_received"), Some(Kind::TicketReceived));
        assert_eq!(Kind::parse("spam"), None);
    }
}
