//! Idle-compute harvesting for Fog Compute: device probes, the harvest policy (pure), and the
//! WebAssembly sandbox that runs donated jobs.

pub mod device;
pub mod examples;
pub mod policy;
pub mod sandbox;

pub use device::{DeviceState, PowerSource, Reading};
pub use policy::{decide, Decision, HarvestSettings, LocalTime, Mode, PolicyMemory, Rule, SettingsError, TimeWindow};
pub use sandbox::{JobControl, JobLimits, JobModule, ModuleError, RunEnd, RunReport, Sandbox, StopReason};
