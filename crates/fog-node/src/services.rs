//! The registry of services and their states. Every change is an event on the bus.

use std::sync::RwLock;

use crate::api::types::{ServiceHealth, ServiceState};
use crate::events::EventBus;

/// Services of the product that this build does not contain yet, as (id, name).
pub const NOT_BUILT: &[(&str, &str)] = &[("privacy", "Privacy"), ("tokens", "Tokens")];

/// Current state of every service.
pub struct ServiceRegistry {
    services: RwLock<Vec<ServiceHealth>>,
    bus: EventBus,
}

impl ServiceRegistry {
    /// A registry that lists the services not in this build as such.
    pub fn new(bus: EventBus) -> Self {
        let now = fog_store::now_ms();
        let services = NOT_BUILT
            .iter()
            .map(|(id, name)| ServiceHealth {
                id: (*id).into(),
                name: (*name).into(),
                state: ServiceState::NotAvailable,
                detail: "not available in this build".into(),
                since_ms: now,
            })
            .collect();
        Self { services: RwLock::new(services), bus }
    }

    /// Sets a service's state (adding the service if new) and publishes the change.
    pub fn set(&self, id: &str, name: &str, state: ServiceState, detail: impl Into<String>) {
        let detail = detail.into();
        let health = ServiceHealth { id: id.into(), name: name.into(), state, detail, since_ms: fog_store::now_ms() };
        {
            let mut services = self.services.write().unwrap_or_else(|p| p.into_inner());
            match services.iter_mut().find(|s| s.id == id) {
                Some(existing) => *existing = health.clone(),
                // Built services come first, in the order they start.
                None => {
                    let at = services.iter().take_while(|s| s.state != ServiceState::NotAvailable).count();
                    services.insert(at, health.clone());
                }
            }
        }
        match state {
            ServiceState::Failed => tracing::error!(service = id, "{}", health.detail),
            _ => tracing::info!(service = id, state = ?state, "{}", health.detail),
        }
        self.bus.publish("service", "state_changed", &health);
    }

    /// A snapshot of every service.
    pub fn snapshot(&self) -> Vec<ServiceHealth> {
        self.services.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
