//! What a service tells `init` about itself and how it wants its logs.

use std::io::IsTerminal;

/// How log lines are written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line, with `trace_id` and `span_id` of the current span: for log collectors.
    Json,
    /// Human-readable, coloured lines: for a developer's terminal.
    Pretty,
}

impl LogFormat {
    /// Pretty on a terminal, JSON otherwise (a container's standard error goes to a collector).
    pub fn detect() -> Self {
        if std::io::stderr().is_terminal() { LogFormat::Pretty } else { LogFormat::Json }
    }
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Ok(LogFormat::Json),
            "pretty" | "text" => Ok(LogFormat::Pretty),
            other => Err(format!("unknown log format {other:?}: expected \"json\" or \"pretty\"")),
        }
    }
}

/// What a service tells [`crate::init`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TelemetrySettings {
    pub log_format: LogFormat,
    /// A `tracing-subscriber` `EnvFilter` directive, used when `RUST_LOG` is not set.
    pub log_filter: String,
    /// The OpenTelemetry `service.name`, unless `OTEL_SERVICE_NAME` (or `service.name` in
    /// `OTEL_RESOURCE_ATTRIBUTES`) says otherwise.
    pub service_name: String,
    pub service_version: String,
}

impl TelemetrySettings {
    /// Defaults for a service: format detected from the terminal, filter `info`.
    pub fn new(service_name: impl Into<String>, service_version: impl Into<String>) -> Self {
        Self {
            log_format: LogFormat::detect(),
            log_filter: "info".to_owned(),
            service_name: service_name.into(),
            service_version: service_version.into(),
        }
    }

    pub fn with_log_format(mut self, format: LogFormat) -> Self {
        self.log_format = format;
        self
    }

    pub fn with_log_filter(mut self, filter: impl Into<String>) -> Self {
        self.log_filter = filter.into();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_format_parses_both_names_case_insensitively() {
        assert_eq!("JSON".parse::<LogFormat>(), Ok(LogFormat::Json));
        assert_eq!("pretty".parse::<LogFormat>(), Ok(LogFormat::Pretty));
        assert!("xml".parse::<LogFormat>().unwrap_err().contains("xml"));
    }

    #[test]
    fn new_settings_default_to_the_info_filter() {
        let settings = TelemetrySettings::new("gateway", "1.2.3");
        assert_eq!(settings.log_filter, "info");
        assert_eq!(settings.service_name, "gateway");
        assert_eq!(settings.service_version, "1.2.3");
    }
}
