//! What a test that checks secrets at rest reads from Redis: every value under a key prefix, as an
//! intruder with a Redis connection would see it.

/// A connection to the tests' Redis ([`crate::redis_url`]).
///
/// # Panics
/// When Redis is missing.
pub async fn connection() -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(crate::redis_url()).expect("a valid REDIS_URL");
    client.get_multiplexed_async_connection().await.unwrap_or_else(|e| crate::backends::needs_redis(e))
}

/// Every value under `prefix`: hash fields and values, stream entries (ids, fields and values),
/// list, sorted set, set and string values, as raw bytes.
///
/// # Panics
/// When Redis is missing or a read fails.
pub async fn values_under(prefix: &str) -> Vec<Vec<u8>> {
    let mut conn = connection().await;
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}:*")).query_async(&mut conn).await.unwrap();
    let mut found = Vec::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query_async(&mut conn).await.unwrap();
        let read = |cmd: &mut redis::Cmd| {
            let mut conn = conn.clone();
            let cmd = cmd.clone();
            async move { cmd.query_async::<redis::Value>(&mut conn).await.unwrap() }
        };
        let value = match kind.as_str() {
            "hash" => read(redis::cmd("HGETALL").arg(&key)).await,
            "stream" => read(redis::cmd("XRANGE").arg(&key).arg("-").arg("+")).await,
            "list" => read(redis::cmd("LRANGE").arg(&key).arg(0).arg(-1)).await,
            "zset" => read(redis::cmd("ZRANGE").arg(&key).arg(0).arg(-1)).await,
            "set" => read(redis::cmd("SMEMBERS").arg(&key)).await,
            "string" => read(redis::cmd("GET").arg(&key)).await,
            _ => continue,
        };
        flatten(&value, &mut found);
    }
    found
}

/// Whether any of `values` holds `needle`.
pub fn contains(values: &[Vec<u8>], needle: &[u8]) -> bool {
    values.iter().any(|value| value.windows(needle.len()).any(|w| w == needle))
}

fn flatten(value: &redis::Value, out: &mut Vec<Vec<u8>>) {
    match value {
        redis::Value::BulkString(bytes) => out.push(bytes.clone()),
        redis::Value::SimpleString(text) => out.push(text.clone().into_bytes()),
        redis::Value::Array(items) | redis::Value::Set(items) => items.iter().for_each(|v| flatten(v, out)),
        redis::Value::Map(pairs) => pairs.iter().for_each(|(k, v)| {
            flatten(k, out);
            flatten(v, out);
        }),
        _ => {}
    }
}
