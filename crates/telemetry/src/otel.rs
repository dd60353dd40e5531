//! The OpenTelemetry side of `init`: what the standard `OTEL_*` variables ask for, and the tracer
//! provider that follows from it.
//!
//! The rules are those of the OpenTelemetry SDK configuration specification: `OTEL_SDK_DISABLED=true`
//! turns the SDK off; `OTEL_TRACES_EXPORTER=none` keeps spans local; an exporter is built only when
//! an OTLP endpoint is given (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`),
//! over the protocol of `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` / `OTEL_EXPORTER_OTLP_PROTOCOL`
//! (default `http/protobuf`). The exporter itself reads the endpoint, headers, timeout and
//! compression variables; the SDK reads `OTEL_TRACES_SAMPLER(_ARG)`, `OTEL_BSP_*`,
//! `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`.

use crate::TelemetryError;
use crate::settings::TelemetrySettings;
use opentelemetry::KeyValue;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::runtime::Tokio;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;

/// The OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Grpc,
    HttpProtobuf,
}

/// What the environment asks of the tracing SDK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OtelMode {
    /// `OTEL_SDK_DISABLED=true`: no OpenTelemetry layer at all; spans carry no trace ids.
    Disabled,
    /// Spans get trace ids (for logs, propagation and audit records) but are not exported.
    LocalOnly,
    /// Spans are exported over OTLP.
    Export(Protocol),
}

fn is_set(env: &impl Fn(&str) -> Option<String>, name: &str) -> bool {
    env(name).is_some_and(|v| !v.trim().is_empty())
}

/// Reads the mode from environment variables through `env` (so that tests need not touch the
/// process environment).
pub(crate) fn mode_from_env(env: &impl Fn(&str) -> Option<String>) -> Result<OtelMode, TelemetryError> {
    if env("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return Ok(OtelMode::Disabled);
    }
    if let Some(exporters) = env("OTEL_TRACES_EXPORTER") {
        let names: Vec<String> =
            exporters.split(',').map(|s| s.trim().to_ascii_lowercase()).filter(|s| !s.is_empty()).collect();
        if let Some(other) = names.iter().find(|n| *n != "otlp" && *n != "none") {
            return Err(TelemetryError::Config(format!(
                "OTEL_TRACES_EXPORTER={other:?} is not supported: use \"otlp\" or \"none\""
            )));
        }
        if !names.is_empty() && names.iter().all(|n| n == "none") {
            return Ok(OtelMode::LocalOnly);
        }
    }
    if !is_set(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") && !is_set(env, "OTEL_EXPORTER_OTLP_ENDPOINT") {
        return Ok(OtelMode::LocalOnly);
    }
    let (name, value) = ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"]
        .into_iter()
        .find_map(|name| env(name).filter(|v| !v.trim().is_empty()).map(|v| (name, v)))
        .unwrap_or(("default", "http/protobuf".to_owned()));
    match value.trim() {
        "grpc" => Ok(OtelMode::Export(Protocol::Grpc)),
        "http/protobuf" => Ok(OtelMode::Export(Protocol::HttpProtobuf)),
        other => {
            Err(TelemetryError::Config(format!("{name}={other:?} is not supported: use \"grpc\" or \"http/protobuf\"")))
        }
    }
}

/// The traces endpoint: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as is, else `OTEL_EXPORTER_OTLP_ENDPOINT`
/// (with `/v1/traces` appended for HTTP, as the specification says). Resolved here rather than by
/// the exporter so that `env` is the one source of truth (see [`crate::init_with_env`]).
pub(crate) fn traces_endpoint(env: &impl Fn(&str) -> Option<String>, protocol: Protocol) -> String {
    if let Some(endpoint) = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").filter(|v| !v.trim().is_empty()) {
        return endpoint.trim().to_owned();
    }
    let base = env("OTEL_EXPORTER_OTLP_ENDPOINT").unwrap_or_default();
    let base = base.trim();
    match protocol {
        Protocol::Grpc => base.to_owned(),
        Protocol::HttpProtobuf => format!("{}/v1/traces", base.trim_end_matches('/')),
    }
}

/// The resource: the SDK's detectors (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, SDK info),
/// with the service's own name and version where the environment does not set them.
fn resource(settings: &TelemetrySettings, env: &impl Fn(&str) -> Option<String>) -> Resource {
    let attributes = env("OTEL_RESOURCE_ATTRIBUTES").unwrap_or_default();
    let has_attribute =
        |key: &str| attributes.split(',').any(|pair| pair.split('=').next().map(str::trim) == Some(key));
    let mut builder = Resource::builder();
    if !is_set(env, "OTEL_SERVICE_NAME") && !has_attribute("service.name") {
        builder = builder.with_service_name(settings.service_name.clone());
    }
    if !has_attribute("service.version") {
        builder = builder.with_attribute(KeyValue::new("service.version", settings.service_version.clone()));
    }
    builder.build()
}

/// Builds the tracer provider for `mode` (`None` without an exporter: the ids layer then keeps the
/// spans' contexts, and no SDK provider is needed).
///
/// The batch processor runs on tokio (the exporters' HTTP and gRPC clients are async), so an
/// exporting provider needs a runtime.
pub(crate) fn tracer_provider(
    settings: &TelemetrySettings,
    mode: OtelMode,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Option<SdkTracerProvider>, TelemetryError> {
    let provider = match mode {
        OtelMode::Disabled | OtelMode::LocalOnly => return Ok(None),
        OtelMode::Export(protocol) => {
            if tokio::runtime::Handle::try_current().is_err() {
                return Err(TelemetryError::NoRuntime);
            }
            let endpoint = traces_endpoint(env, protocol);
            let exporter = match protocol {
                Protocol::Grpc => SpanExporter::builder().with_tonic().with_endpoint(endpoint).build(),
                Protocol::HttpProtobuf => SpanExporter::builder()
                    .with_http()
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .with_endpoint(endpoint)
                    .build(),
            }
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
            SdkTracerProvider::builder()
                .with_resource(resource(settings, env))
                .with_span_processor(BatchSpanProcessor::builder(exporter, Tokio).build())
                .build()
        }
    };
    Ok(Some(provider))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn no_endpoint_keeps_spans_local() {
        assert_eq!(mode_from_env(&env_of(&[])).unwrap(), OtelMode::LocalOnly);
    }

    #[test]
    fn an_endpoint_exports_over_http_protobuf_by_default() {
        let env = env_of(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")]);
        assert_eq!(mode_from_env(&env).unwrap(), OtelMode::Export(Protocol::HttpProtobuf));
    }

    #[test]
    fn the_traces_protocol_wins_over_the_generic_one() {
        let env = env_of(&[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
        ]);
        assert_eq!(mode_from_env(&env).unwrap(), OtelMode::Export(Protocol::Grpc));
    }

    #[test]
    fn sdk_disabled_wins_over_an_endpoint() {
        let env = env_of(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"), ("OTEL_SDK_DISABLED", "TRUE")]);
        assert_eq!(mode_from_env(&env).unwrap(), OtelMode::Disabled);
    }

    #[test]
    fn traces_exporter_none_keeps_spans_local() {
        let env = env_of(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"), ("OTEL_TRACES_EXPORTER", "none")]);
        assert_eq!(mode_from_env(&env).unwrap(), OtelMode::LocalOnly);
    }

    #[test]
    fn an_unsupported_exporter_or_protocol_is_a_clear_error() {
        let env = env_of(&[("OTEL_TRACES_EXPORTER", "zipkin")]);
        assert!(mode_from_env(&env).unwrap_err().to_string().contains("zipkin"));
        let env =
            env_of(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")]);
        let message = mode_from_env(&env).unwrap_err().to_string();
        assert!(message.contains("OTEL_EXPORTER_OTLP_PROTOCOL") && message.contains("http/json"), "{message}");
    }

    #[test]
    fn the_generic_endpoint_gets_the_traces_path_over_http_only() {
        let env = env_of(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/")]);
        assert_eq!(traces_endpoint(&env, Protocol::HttpProtobuf), "http://c:4318/v1/traces");
        assert_eq!(traces_endpoint(&env, Protocol::Grpc), "http://c:4318/");
        let env = env_of(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:9999/custom"),
        ]);
        assert_eq!(traces_endpoint(&env, Protocol::HttpProtobuf), "http://t:9999/custom");
    }

    #[test]
    fn the_service_name_from_settings_applies_unless_the_environment_sets_one() {
        let settings = TelemetrySettings::new("gateway", "1.0.0");
        let name = |r: &Resource| r.get(&opentelemetry::Key::new("service.name")).map(|v| v.to_string());
        assert_eq!(name(&resource(&settings, &env_of(&[]))).as_deref(), Some("gateway"));
        let env = env_of(&[("OTEL_SERVICE_NAME", "edge")]);
        // The SDK's detector reads the real process environment; here we only check that our
        // settings do not override a name the environment gives.
        let built = resource(&settings, &env);
        assert_ne!(name(&built).as_deref(), Some("gateway"));
    }
}
