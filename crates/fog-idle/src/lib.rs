//! Idle-compute harvesting for Fog Compute: device probes, the harvest policy (pure), the
//! WebAssembly sandbox that runs donated jobs, and the harvester service that ties them
//! together and keeps its state in SQLite.

pub mod bench;
pub mod device;
pub mod examples;
pub mod harvester;
pub mod history;
pub mod jobs;
pub mod policy;
pub mod probe;
pub mod sandbox;

pub use device::{DeviceState, PowerSource, Reading};
pub use harvester::{
    Capacity, HarvestStats, Harvester, HarvesterConfig, HistoryPoint, IdleEvent, JobError, JobRequest,
    SettingsUpdateError, SubmitError,
};
pub use jobs::{JobState, JobView, Totals};
pub use policy::{decide, Decision, HarvestSettings, LocalTime, Mode, PolicyMemory, Rule, SettingsError, TimeWindow};
pub use probe::Probes;
pub use sandbox::{JobControl, JobLimits, JobModule, ModuleError, RunEnd, RunReport, Sandbox, StopReason};
