//! First-run helpers: a demo event to look at, and a way in for the first admin.

use std::sync::Arc;

use chrono::{Duration, Utc};
use uuid::Uuid;

use crate::auth::{Auth, parse_email};
use crate::clock::SystemClock;
use crate::config::Config;
use crate::domain::DomainError;
use crate::domain::event::{EventCommand, EventStatus, NewEvent};
use crate::domain::ids::EventId;
use crate::domain::money::Money;
use crate::domain::seating::{SectionLayout, SectionSpec};
use crate::domain::values::{Category, EventName, SectionName, Venue};
use crate::runtime::gateway::SimulatedGateway;
use crate::runtime::{Cause, Runtime, RuntimeConfig, RuntimeError};
use crate::store::{EventStore, database};

/// The demo event's fixed id, so seeding twice finds the first one.
pub const DEMO_EVENT_ID: Uuid = Uuid::from_u128(0x0de0_0000_0000_4000_8000_0000_0000_0001);

fn demo() -> Result<NewEvent, DomainError> {
    Ok(NewEvent {
        name: EventName::parse("Demo Night: The Flash Sale Orchestra")?,
        date: Utc::now() + Duration::days(45),
        category: Category::Concert,
        venue: Venue::parse("Example Arena", Some("Amsterdam"), Some("NL"))?,
        sections: vec![
            SectionSpec {
                name: SectionName::parse("Floor")?,
                layout: SectionLayout::parse("general", 500, None, None)?,
                base_price: Money::from_cents(4_500),
            },
            SectionSpec {
                name: SectionName::parse("Balcony")?,
                layout: SectionLayout::parse("numbered", 60, Some(5), Some(12))?,
                base_price: Money::from_cents(8_900),
            },
        ],
    })
}

/// Creates, publishes and opens the demo event unless it exists; `true` if it was created.
///
/// # Errors
/// The events database, or a rule refusing (never, for the fixed demo).
pub async fn seed(config: &Config) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    let pool = database::pool(&config.database_url_events, 5)?;
    let store = EventStore::new(pool.clone());
    let runtime =
        Runtime::new(store, Arc::new(SystemClock), Arc::new(SimulatedGateway::new(pool)), RuntimeConfig::default());
    let id = EventId::from_uuid(DEMO_EVENT_ID);
    let cause = Cause::new(None);
    let created = match runtime.create_event(&cause, id, demo()?).await {
        Ok(_) => true,
        Err(RuntimeError::Domain(DomainError::AlreadyExists(_))) => false,
        Err(e) => return Err(e.into()),
    };
    let status = runtime.event(id).await?.status;
    if status == EventStatus::Draft {
        runtime.change_event(&cause, id, EventCommand::Publish).await?;
    }
    if matches!(status, EventStatus::Draft | EventStatus::Published) {
        runtime.change_event(&cause, id, EventCommand::OpenSales).await?;
    }
    Ok(created)
}

/// Makes `email` an admin and returns a one-time sign-in link (15 minutes).
///
/// # Errors
/// A malformed address, or the auth database or Redis.
pub async fn bootstrap_admin(config: &Config, email: &str) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let email = parse_email(email)?;
    let users = database::pool(&config.database_url_auth, 2)?;
    let redis = redis::aio::ConnectionManager::new(redis::Client::open(config.redis_url.as_str())?).await?;
    let auth = Auth::new(users, redis, config.redis_prefix.clone(), &config.admin_emails, &config.staff_emails);
    auth.user_for_email(&email, true).await?;
    let token = auth.issue_magic_link(&email).await?;
    Ok(format!("{}/auth/verify#token={token}", config.public_url.trim_end_matches('/')))
}
