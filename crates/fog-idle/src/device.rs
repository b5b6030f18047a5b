//! What the probes report about the machine. Every value is either read from the system or
//! explicitly unknown with the reason; nothing is guessed.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// A probed value, or why the machine cannot tell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reading<T> {
    Known(T),
    Unknown(String),
}

impl<T: Copy> Reading<T> {
    pub fn known(&self) -> Option<T> {
        match self {
            Reading::Known(v) => Some(*v),
            Reading::Unknown(_) => None,
        }
    }
}

impl<T> Reading<T> {
    pub fn unknown(reason: impl Into<String>) -> Self {
        Reading::Unknown(reason.into())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PowerSource {
    /// Mains power, or a machine with no battery at all (it can only run on external power).
    Mains,
    Battery,
}

/// One sample of the device, as the policy sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct DeviceState {
    /// When it was sampled (Unix ms).
    #[ts(type = "number")]
    pub at_ms: i64,
    pub power: Reading<PowerSource>,
    pub battery_pct: Reading<f64>,
    pub charging: Reading<bool>,
    /// Seconds since the user last used the machine.
    pub user_idle_secs: Reading<f64>,
    /// Whole-machine CPU use, 0–100 % of all cores.
    pub cpu_load_pct: Reading<f64>,
    /// CPU use of everything except Fog's own jobs, 0–100 % of all cores.
    pub other_cpu_pct: Reading<f64>,
    /// The hottest CPU/thermal sensor.
    pub temperature_c: Reading<f64>,
    #[ts(type = "Reading<number>")]
    pub memory_total_bytes: Reading<u64>,
    #[ts(type = "Reading<number>")]
    pub memory_available_bytes: Reading<u64>,
    /// Logical CPUs the node may use.
    pub cores: u32,
}
