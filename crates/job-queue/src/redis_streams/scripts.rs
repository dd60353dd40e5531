//! The Lua scripts: every state change of a job is one script, so it is atomic
//! (and, with `appendfsync always`, durable before the reply). Scripts read the
//! server's clock (`TIME`), so that processes with skewed clocks agree.
//!
//! Keys are derived from `base` inside the scripts, which suits a standalone
//! Redis or Valkey (or a Sentinel-managed primary); Redis Cluster is not supported.

use redis::Script;
use std::sync::LazyLock;

const PRELUDE: &str = r#"
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function num(n) return string.format('%.0f', n) end
local FINAL = { succeeded = true, failed = true, dead_lettered = true }

-- A job is final: record it (status plus the extra field/value pairs), keep it
-- and its idempotency key for the result TTL, release the next job of its
-- ordering key, and publish the final state (length-prefixed strings: the id,
-- then field/value pairs) so that waiters need not read it back.
-- `job` holds okey, idem, attempts, submitted and last_error.
local function finish_job(base, id, job, status, now, ttl, extra)
  local jk = base .. ':job:' .. id
  redis.call('HSET', jk, 'status', status, 'updated', num(now), unpack(extra))
  redis.call('HDEL', jk, 'payload')
  redis.call('ZREM', base .. ':open', id)
  redis.call('PEXPIRE', jk, ttl)
  if job.idem then redis.call('PEXPIRE', base .. ':idem:' .. job.idem, ttl) end
  if job.okey then
    local chain = base .. ':key:' .. job.okey
    local head = redis.call('LPOP', chain)
    if head and head ~= id then
      -- Not the head (a repair after manual edits): put the head back, drop this job.
      redis.call('LPUSH', chain, head)
      redis.call('LREM', chain, 0, id)
    elseif head then
      local nxt = redis.call('LINDEX', chain, 0)
      if nxt then
        local eid = redis.call('XADD', base .. ':ready', '*', 'id', nxt)
        redis.call('HSET', base .. ':job:' .. nxt, 'entry', eid)
      end
    end
  end
  local fields = { id, 'status', status, 'okey', job.okey or '', 'attempts', job.attempts or '0',
    'submitted', job.submitted or '0', 'updated', num(now) }
  if job.last_error and extra[1] ~= 'last_error' then
    fields[#fields + 1] = 'last_error'
    fields[#fields + 1] = job.last_error
  end
  for _, v in ipairs(extra) do fields[#fields + 1] = v end
  for i, v in ipairs(fields) do fields[i] = #v .. ':' .. v end
  redis.call('PUBLISH', base .. ':done', table.concat(fields))
end

local function dead_letter(base, id, job, err, now, ttl)
  local f = redis.call('HMGET', base .. ':job:' .. id, 'payload', 'trace')
  redis.call('XADD', base .. ':dead', '*', 'id', id, 'okey', job.okey or '', 'attempts', job.attempts or '0',
    'error', err, 'payload', f[1] or '', 'trace', f[2] or '{}')
  finish_job(base, id, job, 'dead_lettered', now, ttl, { 'last_error', err })
end
"#;

fn script(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}\n{body}"))
}

/// Submits a batch of jobs. ARGV: base, then per job: idempotency key,
/// candidate id, ordering key, payload, trace context. Returns per job {job id,
/// 1 when an earlier submission had the key}. Repeating a call (its reply was
/// lost) returns the same ids with 0.
pub(crate) static SUBMIT: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local base = ARGV[1]
local now = num(now_ms())
local out = {}
for i = 2, #ARGV, 5 do
  local idem, id, okey = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local existing = redis.call('GET', base .. ':idem:' .. idem)
  if existing then
    out[#out + 1] = {existing, (existing == id) and 0 or 1}
  else
    local entry = ''
    if redis.call('RPUSH', base .. ':key:' .. okey, id) == 1 then
      entry = redis.call('XADD', base .. ':ready', '*', 'id', id)
    end
    redis.call('HSET', base .. ':job:' .. id, 'status', 'queued', 'okey', okey, 'idem', idem,
      'payload', ARGV[i + 3], 'trace', ARGV[i + 4], 'attempts', 0, 'submitted', now, 'updated', now, 'entry', entry)
    redis.call('SET', base .. ':idem:' .. idem, id)
    redis.call('ZADD', base .. ':open', now, id)
    out[#out + 1] = {id, 0}
  end
end
return out
"#,
    )
});

/// Starts the jobs of entries just delivered to `consumer`.
/// ARGV: base, group, consumer, max attempts, result TTL ms, 1 when the entries
/// were just read as new (else reclaimed), then (entry id, job id) pairs.
/// Returns {entry id, job id, ordering key, payload, trace, attempt} per job to run.
/// Entries that are stale (job finished, expired or re-queued under a newer
/// entry) are acknowledged and skipped; reclaimed entries another consumer
/// claimed in the meantime are skipped; a job whose last allowed attempt was
/// lost with its worker is dead-lettered. Repeating a call for the same
/// delivery is harmless.
pub(crate) static TAKE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local base, group, consumer = ARGV[1], ARGV[2], ARGV[3]
local max_attempts, ttl, fresh = tonumber(ARGV[4]), ARGV[5], ARGV[6] == '1'
local stream = base .. ':ready'
local out = {}
for i = 7, #ARGV, 2 do
  local eid, id = ARGV[i], ARGV[i + 1]
  local jk = base .. ':job:' .. id
  local f = redis.call('HMGET', jk, 'status', 'entry', 'owner', 'delivery', 'attempts', 'okey', 'idem',
    'payload', 'trace', 'submitted')
  -- A new entry was handed to this consumer by the read just before; a
  -- reclaimed one may have been claimed again since, so ask.
  local delivery = eid .. '#1'
  local mine = fresh
  if not fresh then
    local p = redis.call('XPENDING', stream, group, eid, eid, 1)
    mine = #p == 1 and p[1][2] == consumer
    if mine then delivery = eid .. '#' .. p[1][4] end
  end
  if mine then
    local status = f[1]
    if (not status) or FINAL[status] or f[2] ~= eid then
      redis.call('XACK', stream, group, eid)
    else
      local attempts = tonumber(f[5]) or 0
      local start = true
      if status == 'running' and f[3] == consumer and f[4] == delivery then
        start = true
      elseif attempts >= max_attempts then
        redis.call('XACK', stream, group, eid)
        local job = { okey = f[6], idem = f[7], attempts = f[5], submitted = f[10] }
        dead_letter(base, id, job, 'worker lost: attempt ' .. attempts .. ' passed its visibility timeout',
          now_ms(), ttl)
        start = false
      else
        attempts = attempts + 1
        redis.call('HSET', jk, 'status', 'running', 'attempts', attempts, 'owner', consumer, 'delivery', delivery,
          'updated', num(now_ms()))
      end
      if start then
        table.insert(out, {eid, id, f[6] or '', f[8] or '', f[9] or '{}', attempts})
      end
    end
  end
end
return out
"#,
    )
});

/// Records a batch of attempts' outcomes, each fenced by owner and attempt.
/// ARGV: base, group, max attempts, result TTL ms, then per outcome: consumer,
/// job id, entry id, attempt, outcome (`succeeded`|`failed`|`retry`), result or
/// error, retry delay ms. Returns per outcome {'final'}, {'retry', delay ms},
/// {'done'} (a repeated call) or {'stale'} (another attempt owns the job now).
pub(crate) static FINISH: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local base, group, max_attempts, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local now = now_ms()
local function finish(consumer, id, eid, attempt, outcome, data, delay)
  local jk = base .. ':job:' .. id
  local f = redis.call('HMGET', jk, 'status', 'owner', 'attempts', 'okey', 'idem', 'submitted', 'last_error')
  if f[1] ~= 'running' or f[2] ~= consumer or tonumber(f[3]) ~= attempt then
    if f[1] and f[2] == consumer and tonumber(f[3]) == attempt then return {'done'} end
    return {'stale'}
  end
  redis.call('XACK', base .. ':ready', group, eid)
  local job = { okey = f[4], idem = f[5], attempts = f[3], submitted = f[6], last_error = f[7] }
  if outcome == 'succeeded' or outcome == 'failed' then
    finish_job(base, id, job, outcome, now, ttl, { 'result', data })
    return {'final'}
  end
  if attempt >= max_attempts then
    dead_letter(base, id, job, data, now, ttl)
    return {'final'}
  end
  redis.call('HSET', jk, 'status', 'retrying', 'last_error', data, 'updated', num(now))
  redis.call('ZADD', base .. ':delayed', now + delay, id)
  redis.call('HINCRBY', base .. ':stats', 'retries', 1)
  return {'retry', delay}
end
local out = {}
for i = 5, #ARGV, 7 do
  out[#out + 1] = finish(ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3]), ARGV[i + 4], ARGV[i + 5],
    tonumber(ARGV[i + 6]))
end
return out
"#,
    )
});

/// Renews a running job's lease by resetting its entry's idle time, if the
/// caller still owns the attempt. ARGV: base, group, consumer, job id, entry id, attempt.
pub(crate) static RENEW: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local base, group, consumer, id, eid = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local f = redis.call('HMGET', base .. ':job:' .. id, 'status', 'owner', 'attempts')
if f[1] ~= 'running' or f[2] ~= consumer or tonumber(f[3]) ~= tonumber(ARGV[6]) then return 0 end
redis.call('XCLAIM', base .. ':ready', group, consumer, 0, eid, 'JUSTID')
return 1
"#,
    )
});

/// Moves due retries to the ready stream. ARGV: base, limit.
/// Returns {jobs promoted, ms until the next retry is due or -1}.
pub(crate) static PROMOTE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local base = ARGV[1]
local delayed = base .. ':delayed'
local now = now_ms()
local ids = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  redis.call('ZREM', delayed, id)
  local jk = base .. ':job:' .. id
  if redis.call('HGET', jk, 'status') == 'retrying' then
    local eid = redis.call('XADD', base .. ':ready', '*', 'id', id)
    redis.call('HSET', jk, 'entry', eid)
  end
end
local nxt = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
local wait = -1
if #nxt == 2 then wait = math.max(0, tonumber(nxt[2]) - now) end
return {#ids, wait}
"#,
    )
});

/// ARGV: base, group. Returns {unfinished jobs, age ms of the oldest or -1,
/// delivered and unacknowledged, retries so far, dead letters}.
pub(crate) static METRICS: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local base, group = ARGV[1], ARGV[2]
local now = now_ms()
local open = redis.call('ZCARD', base .. ':open')
local oldest = redis.call('ZRANGE', base .. ':open', 0, 0, 'WITHSCORES')
local age = -1
if #oldest == 2 then age = math.max(0, now - tonumber(oldest[2])) end
local pending = redis.call('XPENDING', base .. ':ready', group)
local retries = tonumber(redis.call('HGET', base .. ':stats', 'retries') or '0')
return {open, age, pending[1], retries, redis.call('XLEN', base .. ':dead')}
"#,
    )
});

/// Trims a stream to its retention without dropping any entry a consumer group
/// has not acknowledged or not yet read. ARGV: stream, retention ms.
/// Returns the number of entries removed.
pub(crate) static TRIM: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
local stream = ARGV[1]
if redis.call('EXISTS', stream) == 0 then return 0 end
local minid = num(math.max(0, now_ms() - tonumber(ARGV[2]))) .. '-0'
for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
  local name, pending, last
  for i = 1, #g, 2 do
    if g[i] == 'name' then name = g[i + 1]
    elseif g[i] == 'pending' then pending = g[i + 1]
    elseif g[i] == 'last-delivered-id' then last = g[i + 1] end
  end
  if last and less(last, minid) then minid = last end
  if pending and pending > 0 then
    local summary = redis.call('XPENDING', stream, name)
    if summary[2] and less(summary[2], minid) then minid = summary[2] end
  end
end
return redis.call('XTRIM', stream, 'MINID', '~', minid)
"#,
    )
});

/// Forgets consumers that hold nothing and have been idle for long (each
/// worker process registers new ones). ARGV: stream, group, idle ms.
pub(crate) static FORGET_CONSUMERS: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local stream, group, idle_limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
if redis.call('EXISTS', stream) == 0 then return 0 end
local removed = 0
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', stream, group)) do
  local name, pending, idle
  for i = 1, #c, 2 do
    if c[i] == 'name' then name = c[i + 1]
    elseif c[i] == 'pending' then pending = c[i + 1]
    elseif c[i] == 'idle' then idle = c[i + 1] end
  end
  if name and pending == 0 and idle and idle > idle_limit then
    redis.call('XGROUP', 'DELCONSUMER', stream, group, name)
    removed = removed + 1
  end
end
return removed
"#,
    )
});
